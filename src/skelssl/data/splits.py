"""Seeded, class-balanced label sampling for semi-supervised protocols.

Official train/test protocols are defined by each reader and written as index
files when a dataset is prepared; this module draws the *labelled subset* of a
training split, so every method in a comparison sees the same labels, and
exports it as an index file that can be published and reused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from skelssl.data.canonical import PreparedDataset, read_index_file, write_index_file

__all__ = ["sample_labeled", "labeled_split_name", "make_labeled_split"]


def sample_labeled(
    labels: np.ndarray,
    *,
    fraction: float | None = None,
    per_class: int | None = None,
    seed: int = 0,
    candidates: np.ndarray | None = None,
) -> np.ndarray:
    """Indices of a class-balanced labelled subset, sorted.

    Exactly one of ``fraction`` (share of each class, rounded, at least one
    sample per class) or ``per_class`` (a count per class; a class with fewer
    samples gives all it has) must be set. ``candidates`` restricts sampling to
    those indices (e.g. a protocol's training split); classes absent from the
    candidates are simply absent from the result. The draw for each class uses
    its own stream seeded by ``(seed, class)``, so a class's picks do not change
    when other classes are added or removed.
    """
    if (fraction is None) == (per_class is None):
        raise ValueError("give exactly one of fraction or per_class")
    if fraction is not None and not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    if per_class is not None and per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    labels = np.asarray(labels)
    pool = np.arange(len(labels)) if candidates is None else np.asarray(candidates, dtype=np.int64)
    pool_labels = labels[pool]
    chosen = []
    for cls in np.unique(pool_labels[pool_labels >= 0]):
        members = pool[pool_labels == cls]
        if fraction is not None:
            k = max(1, int(round(fraction * len(members))))
        else:
            k = min(per_class, len(members))
        rng = np.random.default_rng([seed, int(cls)])
        chosen.append(rng.choice(np.sort(members), size=k, replace=False))
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)


def labeled_split_name(protocol: str, fraction: float | None, per_class: int | None, seed: int) -> str:
    amount = f"frac{fraction:g}" if fraction is not None else f"{per_class}perclass"
    return f"{protocol}_labeled_{amount}_seed{seed}"


def make_labeled_split(
    dataset: PreparedDataset,
    protocol: str,
    *,
    fraction: float | None = None,
    per_class: int | None = None,
    seed: int = 0,
    out: str | Path | None = None,
) -> tuple[Path, np.ndarray]:
    """Draw the labelled subset of ``protocol``'s training split and write it as an index file.

    The file goes to ``<dataset>/splits/semi/<name>.txt`` unless ``out`` is given;
    if the file already exists it is read back instead of redrawn, so a
    published split is never silently replaced.
    """
    name = labeled_split_name(protocol, fraction, per_class, seed)
    path = Path(out) if out is not None else dataset.root / "splits" / "semi" / f"{name}.txt"
    if path.exists():
        return path, read_index_file(path, num_samples=len(dataset))
    train = dataset.split(protocol, "train")
    idx = sample_labeled(dataset.labels, fraction=fraction, per_class=per_class, seed=seed, candidates=train)
    counts = np.bincount(dataset.labels[idx], minlength=dataset.num_classes)
    write_index_file(
        path,
        idx,
        {
            "dataset": dataset.info.get("dataset"),
            "protocol": protocol,
            "fraction": fraction,
            "per_class": per_class,
            "seed": seed,
            "samples": len(idx),
            "per_class_counts": " ".join(map(str, counts.tolist())),
        },
    )
    return path, idx
