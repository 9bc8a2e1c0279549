"""The reader interface: raw dataset files -> :class:`RawSequence` objects.

Besides the interface, this module re-exports what every reader shares (from
:mod:`skelssl.data.files`) so that no reader handles a class of bad input on its
own: walking ``--raw`` (following directory symlinks), reading bytes / text /
JSON with errors that name the file (and line); option checking happens here,
before any work starts.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from skelssl.data.files import (
    decode_text,
    read_file_bytes,
    read_json_file,
    read_text_file,
    sorted_files,
    walk_files,
)
from skelssl.data.options import check_options, keyword_names
from skelssl.data.types import RawSequence, SkeletonFileError
from skelssl.registry import Registry

__all__ = [
    "READERS",
    "DatasetReader",
    "ReadResult",
    "register_reader",
    "get_reader",
    "list_readers",
    "Split",
    "walk_files",
    "sorted_files",
    "read_file_bytes",
    "read_text_file",
    "read_json_file",
    "decode_text",
]

# A protocol's split: name -> indices into the prepared dataset (e.g. "train", "test").
Split = dict[str, np.ndarray]


@dataclass
class ReadResult:
    """Everything one work item yields.

    ``dropped`` lists parts of the item that the dataset's documented policy
    leaves out (e.g. a PKU-MMD action instance whose frames hold no body); the
    prepare pipeline counts each as a skip with its reason whatever
    ``on_error`` says, so no sample is lost without a count.
    """

    sequences: list[RawSequence]
    untrimmed: RawSequence | None = None
    dropped: list[SkeletonFileError] = field(default_factory=list)


class DatasetReader(ABC):
    """Base class for dataset readers.

    A reader lists work items under a raw directory (usually one file each),
    turns one item into zero or more :class:`RawSequence` (an untrimmed
    PKU-MMD video yields many trimmed instances), and knows the dataset's
    official evaluation protocols.

    ``read`` must raise :class:`~skelssl.data.types.SkeletonFileError` naming
    the file for anything it cannot read; the prepare pipeline turns that into
    an error or a counted skip.

    Options: a reader takes the keyword arguments of its ``__init__`` plus the
    names in ``known_options`` (read from ``self.options``); anything else is
    an :class:`~skelssl.data.options.UnknownOptionError` with a did-you-mean.

    The prepare pipeline builds a fresh reader in every worker process and
    calls :meth:`bind` with the raw directory before any ``read``, so a reader
    must not rely on state that only :meth:`discover` sets up.
    """

    name: str = ""
    layout: str = "ntu25"
    default_recipe: str = "crossclr"
    # Class names in label order, when the dataset defines them.
    class_names: Sequence[str] = ()
    # Number of classes when known up front (else taken from class_names or the labels seen).
    num_classes: int | None = None
    # Options read from ``self.options`` besides the ``__init__`` keywords.
    known_options: tuple[str, ...] = ()
    # What discover() looks for, for the "nothing found" message.
    expected_files: str = "dataset files"
    # Whether prepare needs a --raw directory (the synthetic reader generates its data).
    needs_raw: bool = True
    # True when the reader should also produce whole untrimmed sequences (``untrimmed/``).
    segmentation: bool = False

    def __init__(self, **options) -> None:
        check_options("reader", self.name or type(self).__name__, options, self.accepted_options())
        self.options = options
        self.raw_dir: Path | None = None

    @classmethod
    def accepted_options(cls) -> set[str]:
        return keyword_names(cls) | set(cls.known_options)

    def bind(self, raw_dir: str | Path | None) -> None:
        """Remember the raw directory (``discover`` does this too; worker processes only call this)."""
        self.raw_dir = Path(raw_dir) if raw_dir is not None else None

    @abstractmethod
    def discover(self, raw_dir: Path) -> list[str]:
        """Work items (file paths, as strings) in a deterministic order."""

    @abstractmethod
    def read(self, item: str) -> list[RawSequence]:
        """The sequences stored in one work item."""

    def read_item(self, item: str, *, untrimmed: bool = False) -> ReadResult:
        """Everything in one work item: its sequences, the untrimmed whole (if asked) and policy drops.

        Readers that can produce all of it from one parse override this (and
        then implement ``read`` on top of it) so no file is read twice.
        """
        return ReadResult(self.read(item), self.untrimmed(item) if untrimmed else None)

    def skipped_items(self, raw_dir: Path | None) -> dict[str, str]:
        """Files under ``raw_dir`` that ``discover`` leaves out on purpose, mapped to the reason (counted)."""
        return {}

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
    """The reader ``name`` built with ``options``; an unknown option is an error naming the closest one."""
    cls = READERS.get(name)
    accepted = cls.accepted_options() if isinstance(cls, type) and issubclass(cls, DatasetReader) else None
    if accepted is not None:
        check_options("reader", name, options, accepted)
    return READERS.create(name, **options)


def list_readers() -> list[str]:
    return READERS.names()
