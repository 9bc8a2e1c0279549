"""The ``synthetic`` reader: the built-in generated dataset (see :mod:`skelssl.data.synthetic`).

No raw files: ``discover`` ignores the raw directory and lists work items
``"synthetic:<chunk>"``, each covering ``chunk_size`` consecutive samples, so
the prepare pipeline can spread them over workers and resume. ``read``
generates one chunk. Every sample is a function of ``(seed, options, index)``
alone, so neither the chunk size nor the number of workers changes the data.
"""

from __future__ import annotations

import numbers
import re
from pathlib import Path

import numpy as np

from skelssl.data.readers.base import DatasetReader, Split, register_reader
from skelssl.data.synthetic import SyntheticConfig, class_names, generate, xsub_train_subjects
from skelssl.data.types import RawSequence, SkeletonFileError

_ITEM = re.compile(r"synthetic:(\d+)$")


@register_reader("synthetic")
class SyntheticReader(DatasetReader):
    """Options: every :class:`~skelssl.data.synthetic.SyntheticConfig` field
    (``num_samples``, ``num_classes``, ``layout``, ``seed``, ``difficulty``,
    ``two_person_prob``, ``min_length``, ``max_length``, ``drop_frame_prob``,
    ``num_subjects``) plus ``chunk_size``, the samples per work item.

    ``chunk_size`` defaults to 16, not larger: the prepare pipeline hands each
    worker 64 *items* at a time, so 16-sample items split the default 2000
    samples into two worker tasks (one per core on a 2-core machine) while
    still generating 16 samples per vectorised call.
    """

    needs_raw = False

    layout = "ntu25"
    default_recipe = "crossclr"

    def __init__(
        self,
        num_samples: int = 2000,
        num_classes: int = 10,
        layout: str = "ntu25",
        seed: int = 0,
        difficulty: float = 0.5,
        two_person_prob: float = 0.15,
        min_length: int = 30,
        max_length: int = 120,
        drop_frame_prob: float = 0.02,
        num_subjects: int = 20,
        chunk_size: int = 16,
    ) -> None:
        self.config = SyntheticConfig(
            num_samples=_number(int, "num_samples", num_samples),
            num_classes=_number(int, "num_classes", num_classes),
            layout=str(layout),
            seed=_number(int, "seed", seed),
            difficulty=_number(float, "difficulty", difficulty),
            two_person_prob=_number(float, "two_person_prob", two_person_prob),
            min_length=_number(int, "min_length", min_length),
            max_length=_number(int, "max_length", max_length),
            drop_frame_prob=_number(float, "drop_frame_prob", drop_frame_prob),
            num_subjects=_number(int, "num_subjects", num_subjects),
        )
        chunk_size = _number(int, "chunk_size", chunk_size)
        if int(chunk_size) < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        self.chunk_size = int(chunk_size)
        options = self.config.to_dict()
        options["chunk_size"] = self.chunk_size
        super().__init__(**options)
        self.layout = self.config.layout
        self.class_names = class_names(self.config.num_classes)

    @property
    def num_chunks(self) -> int:
        return -(-self.config.num_samples // self.chunk_size)

    def discover(self, raw_dir: Path | None = None) -> list[str]:
        # Nothing is read from disk; the raw directory is accepted for interface symmetry.
        return [f"synthetic:{i}" for i in range(self.num_chunks)]

    def read(self, item: str) -> list[RawSequence]:
        match = _ITEM.match(str(item))
        if not match:
            raise SkeletonFileError(item, "not a synthetic work item (expected 'synthetic:<chunk index>')",
                                    reason="bad_name")
        chunk = int(match.group(1))
        if chunk >= self.num_chunks:
            raise SkeletonFileError(item, f"chunk {chunk} out of range 0..{self.num_chunks - 1}", reason="bad_name")
        start = chunk * self.chunk_size
        stop = min(start + self.chunk_size, self.config.num_samples)
        return generate(self.config, np.arange(start, stop))

    def protocols(self, meta: dict[str, np.ndarray], raw_dir: Path | None) -> dict[str, Split]:
        subject = np.asarray(meta["subject"])
        view = np.asarray(meta["view"])
        idx = np.arange(len(subject))
        train_subjects = np.isin(subject, xsub_train_subjects(self.config.num_subjects))
        return {
            # Cross-subject: odd subject ids train, even ids test (half each).
            "xsub": {"train": idx[train_subjects], "test": idx[~train_subjects]},
            # Cross-view: cameras 1 (frontal) and 2 (+45 deg) train, camera 3 (-45 deg) tests.
            "xview": {"train": idx[view != 3], "test": idx[view == 3]},
        }


def _number(kind: type, name: str, value) -> int | float:
    """``kind(value)`` for a numeric option; anything else is an error naming the option."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if kind is int:
        ok = ok and float(value).is_integer()
    if not ok:
        what = "an integer" if kind is int else "a number"
        raise ValueError(f"reader option {name} of synthetic must be {what}, got {value!r}")
    return kind(value)
