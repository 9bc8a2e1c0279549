"""Semi-supervised evaluation: linear or fine-tune on a labelled subset of the training split.

The labelled subset is the seeded, class-balanced draw of
:func:`skelssl.data.splits.make_labeled_split` (a fraction such as 1 % or 10 %,
or a count per class), written once as an index file under
``<prepared>/splits/semi/`` and read back on every later run, or any published
index file given as ``split_file``. Every method in a comparison therefore
trains its classifier on exactly the same labelled samples; the test split is
the protocol's full test split.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig
from torch import nn

from skelssl.data.canonical import PreparedDataset, read_index_file
from skelssl.data.dataset import SkeletonDataset, dataset_from_config
from skelssl.data.splits import labeled_split_name, make_labeled_split
from skelssl.protocols.results import EvalContext

__all__ = ["labeled_subset", "semi_tag", "run_semi"]


def labeled_subset(
    prepared: PreparedDataset,
    split_protocol: str,
    *,
    fraction: float | None = None,
    per_class: int | None = None,
    seed: int = 0,
    split_file: str | Path | None = None,
    fallback_dir: str | Path | None = None,
    data_cfg: Any = None,
    dataset_seed: int = 0,
) -> tuple[SkeletonDataset, Path]:
    """The labelled training samples as a dataset, and the index file that defines them.

    With ``split_file`` that file's indices are used as published (they must lie
    in the protocol's training split); otherwise the split is drawn (or read
    back) by :func:`make_labeled_split`, into ``<prepared>/splits/semi/`` or, if
    that directory cannot be written (a shared read-only dataset), into
    ``fallback_dir``. ``data_cfg`` (a config's ``data`` section) sets the
    training clips, drawn with ``dataset_seed``.
    """
    if split_file is not None:
        path = Path(split_file)
        indices = read_index_file(path, num_samples=len(prepared))
        outside = np.setdiff1d(indices, prepared.split(split_protocol, "train"))
        if outside.size:
            raise ValueError(f"{path}: {outside.size} indices are not in the {split_protocol} training split")
    else:
        if (fraction is None) == (per_class is None):
            raise ValueError("a semi-supervised split needs exactly one of fraction or per_class (or a split_file)")
        out = None
        name = labeled_split_name(split_protocol, fraction, per_class, seed)
        default = prepared.root / "splits" / "semi" / f"{name}.txt"
        if fallback_dir is not None and not default.exists() and not _writable(default.parent):
            out = Path(fallback_dir) / default.name
        path, indices = make_labeled_split(prepared, split_protocol, fraction=fraction, per_class=per_class, seed=seed,
                                           out=out)
    return dataset_from_config(prepared, data_cfg or {}, train=True, indices=indices, seed=dataset_seed), path


def _writable(folder: Path) -> bool:
    # The folder may not exist yet: what matters is whether its nearest existing ancestor can be written.
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return os.access(folder, os.W_OK)


def semi_tag(fraction: float | None, per_class: int | None, split_file: str | Path | None, seed: int) -> str:
    """Short name of the labelled subset for the output directory, e.g. ``frac0.01_seed0``."""
    if split_file is not None:
        return Path(split_file).stem
    amount = f"frac{fraction:g}" if fraction is not None else f"{per_class}perclass"
    return f"{amount}_seed{seed}"


def run_semi(
    encoder: nn.Module,
    prepared: PreparedDataset,
    test_ds: SkeletonDataset,
    cfg: DictConfig,
    out_dir: str | Path,
    *,
    num_classes: int,
    context: EvalContext,
    feature_dim: int | None = None,
    layout: Any = None,
    resume: bool | str = False,
    device: Any = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """Train on the labelled subset with ``cfg.protocol.mode`` (``linear`` or ``finetune``) and test.

    ``cfg.protocol`` holds ``mode``, one of ``fraction`` / ``per_class`` /
    ``split_file``, and ``split_seed``; the rest of ``cfg`` is the chosen
    mode's configuration.
    """
    p = cfg.protocol
    mode = p.get("mode", "finetune")
    split_file = p.get("split_file")
    train_ds, path = labeled_subset(
        prepared,
        context.split_protocol or cfg.data.protocol,
        fraction=p.get("fraction"),
        per_class=p.get("per_class"),
        seed=int(p.get("split_seed", 0)),
        split_file=split_file,
        fallback_dir=out_dir,
        data_cfg=cfg.data,
        dataset_seed=int(cfg.train.seed),
    )
    counts = np.bincount(train_ds.labels, minlength=num_classes)
    context.extra.update(
        {
            "mode": mode,
            "labeled_split_file": str(path),
            "labeled_samples": int(len(train_ds)),
            "labeled_per_class": counts.tolist(),
        }
    )
    kwargs = dict(num_classes=num_classes, context=context, feature_dim=feature_dim, layout=layout, resume=resume,
                  device=device, quiet=quiet)
    if mode == "linear":
        from skelssl.protocols.linear import run_linear

        return run_linear(encoder, train_ds, test_ds, cfg, out_dir, **kwargs)
    if mode == "finetune":
        from skelssl.protocols.finetune import run_finetune

        return run_finetune(encoder, train_ds, test_ds, cfg, out_dir, **kwargs)
    raise ValueError(f"semi-supervised mode must be 'linear' or 'finetune', got {mode!r}")
