"""``skelssl show``: render one sample of a prepared dataset as an animated GIF or a PNG strip.

    skelssl show prepared/nucla 42                      # -> nucla_42.gif (front and side views)
    skelssl show prepared/nucla a01_s01_e00_v01 --out a01.png --frames 8
    skelssl show prepared/nucla 42 --weights actionlet.npy   # joints coloured by a (V,) or (T, V) array
"""

from __future__ import annotations

import argparse
from pathlib import Path

from skelssl.cli.common import console


def add_parser(sub) -> None:
    p = sub.add_parser(
        "show",
        help="render a prepared sample as an animated GIF or a PNG strip, with the layout's bones",
        description="Draw one sample of a prepared dataset with its layout's bones: an animated GIF (front and "
        "side view for 3-D data) or, for an --out ending in .png, a strip of evenly spaced frames. Joints whose "
        "name says left are blue, right red; --weights colours them by a per-joint array instead.",
    )
    p.add_argument("path", help="prepared dataset directory")
    p.add_argument("sample", help="row index (0-based) or sample_id from meta.csv")
    p.add_argument("--out", help="output file, .gif (default) or .png (strip); default: <dataset>_<sample>.gif")
    p.add_argument("--frames", type=int, default=8, help="frames in a PNG strip (default 8)")
    p.add_argument("--fps", type=float, default=15.0, help="GIF frames per second (default 15)")
    p.add_argument("--weights", help=".npy file of per-joint weights, shape (V,) or (T, V), shown as joint colours")
    p.set_defaults(handler=run_show)


def run_show(args: argparse.Namespace) -> int:
    import numpy as np

    from skelssl.data.canonical import open_prepared
    from skelssl.viz.skeleton import render_gif, render_strip

    ds = open_prepared(args.path)
    index = _row(ds, args.sample)
    meta = {k: v[index] for k, v in ds.meta.items()}
    names = ds.info.get("class_names") or []
    label = int(meta["label"])
    label_name = names[label] if label < len(names) else str(label)
    valid = int(meta["frames"]) if "frames" in meta and int(meta["frames"]) > 0 else None
    weights = None
    if args.weights:
        path = Path(args.weights)
        if path.suffix != ".npy":
            raise ValueError(f"{path}: --weights must be a .npy file (numpy.save), shape (V,) or (T, V)")
        weights = np.load(path, allow_pickle=False)
    sample_id = str(meta.get("sample_id", index))
    title = f"{ds.info.get('dataset')} #{index} {sample_id}: {label_name}"
    out = Path(args.out or f"{ds.info.get('dataset')}_{index}.gif")
    if out.suffix.lower() == ".png":
        render_strip(ds.data[index], ds.layout, out, valid_frames=valid, weights=weights, title=title,
                     num_frames=args.frames)
    elif out.suffix.lower() == ".gif":
        render_gif(ds.data[index], ds.layout, out, valid_frames=valid, weights=weights, title=title, fps=args.fps)
    else:
        raise ValueError(f"--out {out}: give a .gif (animation) or .png (strip of frames)")
    shown = f"{valid} valid frames" if valid else f"{ds.data.shape[2]} frames"
    console.print(f"sample {index} ({sample_id}, class {label} '{label_name}', {shown}, layout {ds.layout.name}) "
                  f"-> {out}", markup=False, highlight=False, soft_wrap=True)
    return 0


def _row(ds, sample: str) -> int:
    if sample.lstrip("-").isdigit():
        index = int(sample)
        if not 0 <= index < len(ds):
            raise ValueError(f"{ds.root}: sample index {index} outside 0..{len(ds) - 1}")
        return index
    ids = [str(s) for s in ds.meta.get("sample_id", [])]
    if sample in ids:
        return ids.index(sample)
    import difflib

    close = difflib.get_close_matches(sample, ids, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValueError(f"{ds.root}: no sample {sample!r}{hint}; give a row index 0..{len(ds) - 1} or a sample_id")
