"""The canonical on-disk format shared by every dataset.

A prepared dataset is a directory::

    info.json        dataset, layout (its name, and its whole definition under
                     layout_spec), recipe, shape, class names, protocols, summary
    data.npy         float32 (N, C, T, V, M), memory-mappable (np.load(mmap_mode="r"))
    meta.csv         one row per sample: sample_id, label, subject, view, setup,
                     replication, length (original frames), frames (valid frames in data.npy)
    splits/          <protocol>_<part>.txt index files (one row index of data.npy per line)
    summary.json     what preparation read, kept and skipped (with the reason for each)
    untrimmed/       (segmentation datasets) sequences.npy (sum T, C, V, M),
                     frame_labels.npy (sum T,), videos.csv (video_id, offset, length)

Nothing is pickled: arrays are ``.npy`` loaded with ``allow_pickle=False``,
everything else is JSON, CSV or text. Opening a dataset registers its layout
from ``info.json`` (so a layout declared inline in a custom dataset works in
every later process), and any damaged file is a
:class:`~skelssl.data.types.SkeletonFileError` naming it (and the line).
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skelssl.data.files import load_npy, read_json_file, read_text_file
from skelssl.data.layouts import SkeletonLayout, get_layout, layout_from_spec, register_or_reuse
from skelssl.data.types import SkeletonFileError

__all__ = [
    "FORMAT_VERSION",
    "META_FIELDS",
    "PreparedDataset",
    "open_prepared",
    "write_meta",
    "read_meta",
    "write_index_file",
    "read_index_file",
    "check_indices",
    "atomic_write_text",
]

FORMAT_VERSION = 1
META_FIELDS = ("sample_id", "label", "subject", "view", "setup", "replication", "length", "frames")
_INFO_KEYS = ("format_version", "dataset", "layout", "shape", "num_classes")
_REBUILD = "re-run `skelssl prepare ... --overwrite` to rebuild it"


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a killed run never leaves half a file.

    The temporary name carries the process id: two runs started together with the
    same seed write the same split file, and a shared name let one rename the
    other's file away (seen as ``FileNotFoundError`` in a parallel semi grid).
    """
    path = Path(path)
    tmp = _tmp_name(path)
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _tmp_name(path: Path) -> Path:
    return path.with_name(f"{path.name}.tmp-{os.getpid()}")


def write_meta(path: Path, rows: list[dict]) -> None:
    path = Path(path)
    tmp = _tmp_name(path)
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=META_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def read_meta(path: Path) -> dict[str, np.ndarray]:
    """Columns of ``meta.csv`` as arrays (``sample_id`` as str, the rest int64); problems name file and line."""
    path = Path(path)
    reader = csv.DictReader(io.StringIO(read_text_file(path), newline=""))
    if reader.fieldnames is None:
        raise SkeletonFileError(path, f"empty (no header row); {_REBUILD}", reason="corrupt")
    missing = [f for f in META_FIELDS if f not in reader.fieldnames]
    if missing:
        raise SkeletonFileError(path, f"missing columns {missing}; {_REBUILD}", reason="corrupt")
    rows, lines = [], []
    for row in reader:
        if None in row or any(row[f] is None for f in META_FIELDS):
            raise SkeletonFileError(path, f"line {reader.line_num}: expected {len(reader.fieldnames)} fields",
                                    reason="corrupt")
        rows.append(row)
        lines.append(reader.line_num)
    meta: dict[str, np.ndarray] = {}
    for name in META_FIELDS:
        values = [r[name] for r in rows]
        if name == "sample_id":
            meta[name] = np.asarray(values, dtype=str)
            continue
        try:
            meta[name] = np.asarray(values, dtype=np.int64)
        except (ValueError, OverflowError):
            for value, line in zip(values, lines):
                try:
                    int(value)
                except ValueError:
                    raise SkeletonFileError(path, f"line {line}: column {name!r} must be an integer, got {value!r}",
                                            reason="corrupt") from None
            raise SkeletonFileError(path, f"column {name!r} holds a value outside int64", reason="corrupt") from None
    return meta


def write_index_file(path: Path, indices: np.ndarray, header: dict | None = None) -> None:
    """Index file: ``# key: value`` header lines, then one integer per line."""
    lines = [f"# {k}: {v}" for k, v in (header or {}).items()]
    lines += [str(int(i)) for i in np.asarray(indices).ravel()]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(Path(path), "\n".join(lines) + "\n")


def read_index_file(path: Path, num_samples: int | None = None) -> np.ndarray:
    """The indices of an index file; with ``num_samples`` each must lie in ``0 .. num_samples - 1``.

    A bad line is a :class:`SkeletonFileError` naming the file and the line.
    """
    path = Path(path)
    values = []
    for n, line in enumerate(read_text_file(path).splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            value = int(line)
        except ValueError:
            raise SkeletonFileError(path, f"line {n}: not an integer index: {line[:40]!r}",
                                    reason="malformed") from None
        if num_samples is not None and not 0 <= value < num_samples:
            raise SkeletonFileError(path, f"line {n}: index {value} outside 0..{num_samples - 1} "
                                    f"(the dataset has {num_samples} samples)", reason="bad_index")
        values.append(value)
    return np.asarray(values, dtype=np.int64)


def check_indices(indices: np.ndarray, num_samples: int, source: str | Path) -> np.ndarray:
    """``indices`` as int64 if every one lies in ``0 .. num_samples - 1``, else a ``ValueError`` naming ``source``."""
    indices = np.asarray(indices)
    if indices.size and indices.dtype.kind not in "iu":
        raise ValueError(f"{source}: indices must be integers, got dtype {indices.dtype}")
    indices = indices.astype(np.int64, copy=False)
    bad = np.flatnonzero((indices < 0) | (indices >= num_samples))
    if bad.size:
        raise ValueError(f"{source}: index {int(indices[bad[0]])} (position {int(bad[0])}) outside "
                         f"0..{num_samples - 1}; {bad.size} of {indices.size} indices are out of range")
    return indices


@dataclass
class PreparedDataset:
    """A prepared dataset opened from disk; ``data`` is memory-mapped."""

    root: Path
    data: np.ndarray
    meta: dict[str, np.ndarray]
    info: dict

    def __len__(self) -> int:
        return int(self.data.shape[0])

    @property
    def labels(self) -> np.ndarray:
        return self.meta["label"]

    @property
    def layout(self) -> SkeletonLayout:
        # open_prepared registered it from info.json.
        return get_layout(self.info["layout"])

    @property
    def num_classes(self) -> int:
        return int(self.info["num_classes"])

    @property
    def protocols(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in self.info.get("protocols", {}).items()}

    def split(self, protocol: str, part: str) -> np.ndarray:
        path = self.root / "splits" / f"{protocol}_{part}.txt"
        if not path.exists():
            known = ", ".join(f"{p}/{q}" for p, parts in self.protocols.items() for q in parts) or "none"
            raise FileNotFoundError(f"{self.root}: no split {protocol}/{part} (known: {known})")
        return read_index_file(path, num_samples=len(self))


def open_prepared(root: str | Path, mmap: bool = True) -> PreparedDataset:
    """Open a directory written by ``skelssl prepare`` and register its layout.

    A missing directory or ``info.json`` is a ``FileNotFoundError``; a damaged
    ``info.json``, ``data.npy`` or ``meta.csv`` a :class:`SkeletonFileError`
    naming the file.
    """
    root = Path(root)
    info_path = root / "info.json"
    if not info_path.exists():
        raise FileNotFoundError(f"{root}: not a prepared dataset (no info.json); run `skelssl prepare` first")
    info = _read_info(info_path)
    data_path = root / "data.npy"
    try:
        data = load_npy(data_path, mmap=mmap)
    except SkeletonFileError as err:
        raise SkeletonFileError(data_path, f"{err.problem}; {_REBUILD}", reason="corrupt") from None
    if not isinstance(data, np.ndarray) or data.dtype != np.float32 or list(data.shape) != list(info["shape"]):
        found = f"{data.dtype} {list(data.shape)}" if isinstance(data, np.ndarray) else type(data).__name__
        raise SkeletonFileError(data_path, f"holds {found} but info.json says float32 {list(info['shape'])}; "
                                f"{_REBUILD}", reason="corrupt")
    meta = read_meta(root / "meta.csv")
    if len(meta["label"]) != data.shape[0]:
        raise SkeletonFileError(root / "meta.csv", f"{len(meta['label'])} rows but data.npy has {data.shape[0]} "
                                f"samples; {_REBUILD}", reason="corrupt")
    return PreparedDataset(root=root, data=data, meta=meta, info=info)


def _read_info(path: Path) -> dict:
    info = read_json_file(path)
    if not isinstance(info, dict):
        raise SkeletonFileError(path, f"must hold a JSON object, got {type(info).__name__}; {_REBUILD}",
                                reason="corrupt")
    missing = [k for k in _INFO_KEYS if k not in info]
    if missing:
        raise SkeletonFileError(path, f"missing keys {missing}; {_REBUILD}", reason="corrupt")
    if info["format_version"] != FORMAT_VERSION:
        raise SkeletonFileError(path, f"format version {info['format_version']!r} != {FORMAT_VERSION}; {_REBUILD}",
                                reason="corrupt")
    shape = info["shape"]
    if not (isinstance(shape, list) and len(shape) == 5 and all(isinstance(d, int) and d >= 0 for d in shape)):
        raise SkeletonFileError(path, f"'shape' must be [N, C, T, V, M], got {shape!r}", reason="corrupt")
    if not isinstance(info["layout"], str):
        raise SkeletonFileError(path, f"'layout' must be a layout name, got {info['layout']!r}", reason="corrupt")
    _register_layout(path, info)
    return info


def _register_layout(path: Path, info: dict) -> None:
    """Register the layout stored in info.json (datasets written before ``layout_spec`` need it registered)."""
    spec = info.get("layout_spec")
    if spec is None:
        try:
            get_layout(info["layout"])
        except KeyError:
            raise SkeletonFileError(
                path, f"layout {info['layout']!r} is not registered and info.json does not hold its definition "
                "(prepared by an older skelssl): register it with register_layout() first, or re-run "
                "`skelssl prepare ... --overwrite`", reason="corrupt") from None
        return
    try:
        layout = layout_from_spec(spec)
        if layout.name != info["layout"]:
            raise ValueError(f"layout_spec is named {layout.name!r} but 'layout' says {info['layout']!r}")
        register_or_reuse(layout)
    except ValueError as err:
        raise SkeletonFileError(path, f"layout: {err}", reason="corrupt") from None
