"""The reader interface: raw dataset files -> :class:`RawSequence` objects."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from skelssl.data.types import RawSequence
from skelssl.registry import Registry

__all__ = ["READERS", "DatasetReader", "register_reader", "get_reader", "list_readers", "Split"]

# A protocol's split: name -> indices into the prepared dataset (e.g. "train", "test").
Split = dict[str, np.ndarray]


class DatasetReader(ABC):
    """Base class for dataset readers.

    A reader lists work items under a raw directory (usually one file each),
    turns one item into zero or more :class:`RawSequence` (an untrimmed
    PKU-MMD video yields many trimmed instances), and knows the dataset's
    official evaluation protocols.

    ``read`` must raise :class:`~skelssl.data.types.SkeletonFileError` naming
    the file for anything it cannot read; the prepare pipeline turns that into
    an error or a counted skip.
    """

    name: str = ""
    layout: str = "ntu25"
    default_recipe: str = "crossclr"
    # Class names in label order, when the dataset defines them.
    class_names: Sequence[str] = ()
    # Number of classes when known up front (else taken from class_names or the labels seen).
    num_classes: int | None = None

    def __init__(self, **options) -> None:
        self.options = options

    @abstractmethod
    def discover(self, raw_dir: Path) -> list[str]:
        """Work items (file paths, as strings) in a deterministic order."""

    @abstractmethod
    def read(self, item: str) -> list[RawSequence]:
        """The sequences stored in one work item."""

    def protocols(self, meta: dict[str, np.ndarray], raw_dir: Path | None) -> dict[str, Split]:
        """Official splits as index arrays into the prepared samples."""
        return {}

    def untrimmed(self, item: str) -> RawSequence | None:
        """The whole untrimmed sequence with per-frame labels (segmentation datasets only)."""
        return None


READERS: Registry[DatasetReader] = Registry("dataset")


def register_reader(name: str) -> Callable[[type[DatasetReader]], type[DatasetReader]]:
    def wrap(cls: type[DatasetReader]) -> type[DatasetReader]:
        cls.name = name
        return READERS.register(name)(cls)

    return wrap


def get_reader(name: str, **options) -> DatasetReader:
    return READERS.create(name, **options)


def list_readers() -> list[str]:
    return READERS.names()


def sorted_files(raw_dir: Path, patterns: Iterable[str]) -> list[str]:
    """All files under ``raw_dir`` matching any glob pattern, recursively, sorted."""
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise FileNotFoundError(f"raw data directory not found: {raw_dir}")
    found: set[Path] = set()
    for pattern in patterns:
        found.update(p for p in raw_dir.rglob(pattern) if p.is_file())
    return [str(p) for p in sorted(found)]
