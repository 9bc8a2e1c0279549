"""The canonical on-disk format shared by every dataset.

A prepared dataset is a directory::

    info.json        dataset, layout, recipe, shape, class names, protocols, summary
    data.npy         float32 (N, C, T, V, M), memory-mappable (np.load(mmap_mode="r"))
    meta.csv         one row per sample: sample_id, label, subject, view, setup,
                     replication, length (original frames), frames (valid frames in data.npy)
    splits/          <protocol>_<part>.txt index files (one row index of data.npy per line)
    summary.json     what preparation read, kept and skipped (with the reason for each)
    untrimmed/       (segmentation datasets) sequences.npy (sum T, C, V, M),
                     frame_labels.npy (sum T,), videos.csv (video_id, offset, length)

Nothing is pickled: arrays are ``.npy`` loaded with ``allow_pickle=False``,
everything else is JSON, CSV or text.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skelssl.data.layouts import SkeletonLayout, get_layout

__all__ = [
    "FORMAT_VERSION",
    "META_FIELDS",
    "PreparedDataset",
    "open_prepared",
    "write_meta",
    "read_meta",
    "write_index_file",
    "read_index_file",
    "atomic_write_text",
]

FORMAT_VERSION = 1
META_FIELDS = ("sample_id", "label", "subject", "view", "setup", "replication", "length", "frames")


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a killed run never leaves half a file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_meta(path: Path, rows: list[dict]) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=META_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def read_meta(path: Path) -> dict[str, np.ndarray]:
    """Columns of ``meta.csv`` as arrays (``sample_id`` as str, the rest int64)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    meta: dict[str, np.ndarray] = {}
    for name in META_FIELDS:
        values = [r[name] for r in rows]
        meta[name] = np.asarray(values, dtype=str) if name == "sample_id" else np.asarray(values, dtype=np.int64)
    return meta


def write_index_file(path: Path, indices: np.ndarray, header: dict | None = None) -> None:
    """Index file: ``# key: value`` header lines, then one integer per line."""
    lines = [f"# {k}: {v}" for k, v in (header or {}).items()]
    lines += [str(int(i)) for i in np.asarray(indices).ravel()]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(Path(path), "\n".join(lines) + "\n")


def read_index_file(path: Path) -> np.ndarray:
    path = Path(path)
    values = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            values.append(int(line))
        except ValueError:
            raise ValueError(f"{path}:{n}: not an integer index: {line!r}") from None
    return np.asarray(values, dtype=np.int64)


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
        spec = self.info["layout"]
        return get_layout(spec if isinstance(spec, str) else spec["name"])

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
        return read_index_file(path)


def open_prepared(root: str | Path, mmap: bool = True) -> PreparedDataset:
    """Open a directory written by ``skelssl prepare``."""
    root = Path(root)
    info_path = root / "info.json"
    if not info_path.exists():
        raise FileNotFoundError(f"{root}: not a prepared dataset (no info.json); run `skelssl prepare` first")
    info = json.loads(info_path.read_text())
    if info.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{info_path}: format version {info.get('format_version')} != {FORMAT_VERSION}")
    data = np.load(root / "data.npy", mmap_mode="r" if mmap else None, allow_pickle=False)
    meta = read_meta(root / "meta.csv")
    if len(meta["label"]) != data.shape[0]:
        raise ValueError(f"{root}: meta.csv has {len(meta['label'])} rows but data.npy has {data.shape[0]} samples")
    return PreparedDataset(root=root, data=data, meta=meta, info=info)
