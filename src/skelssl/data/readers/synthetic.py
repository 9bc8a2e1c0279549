"""The ``synthetic`` reader: the built-in generated dataset (see :mod:`skelssl.data.synthetic`).

No raw files: ``discover`` ignores the raw directory and lists work items
``"synthetic:<chunk>"``, each covering ``chunk_size`` consecutive samples, so
the prepare pipeline can spread them over workers and resume. ``read``
generates one chunk. Every sample is a function of ``(seed, options, index)``
alone, so neither the chunk size nor the number of workers changes the data.

``segmentation=true`` generates untrimmed videos instead
(:mod:`skelssl.data.synthetic.untrimmed`): work items ``"synthetic-video:<v>"``,
each one video whose action segments are the trimmed samples (ids
``<video>_<k>``) and whose whole sequence with per-frame labels goes to the
prepared dataset's ``untrimmed/``, as PKU-MMD's reader does.
"""

from __future__ import annotations

import numbers
import re
from pathlib import Path

import numpy as np

from skelssl.data.options import check_bool
from skelssl.data.readers.base import DatasetReader, ReadResult, Split, register_reader
from skelssl.data.synthetic import SyntheticConfig, class_names, generate, xsub_train_subjects
from skelssl.data.types import RawSequence, SkeletonFileError

_ITEM = re.compile(r"synthetic:(\d+)$")
_VIDEO_ITEM = re.compile(r"synthetic-video:(\d+)$")


@register_reader("synthetic")
class SyntheticReader(DatasetReader):
    """Options: every :class:`~skelssl.data.synthetic.SyntheticConfig` field
    (``num_samples``, ``num_classes``, ``layout``, ``seed``, ``difficulty``,
    ``two_person_prob``, ``min_length``, ``max_length``, ``drop_frame_prob``,
    ``num_subjects``) plus ``chunk_size``, the samples per work item.

    With ``segmentation=True``: ``num_videos`` untrimmed videos of
    ``actions_per_video`` actions (``min_length .. max_length`` frames each)
    with ``min_gap .. max_gap`` background frames around them
    (:class:`~skelssl.data.synthetic.untrimmed.UntrimmedConfig`);
    ``num_samples`` and ``chunk_size`` are then unused.

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
        segmentation: bool = False,
        num_videos: int = 60,
        actions_per_video: int = 5,
        min_gap: int = 15,
        max_gap: int = 60,
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
        check_bool("reader", "synthetic", "segmentation", segmentation)
        self.segmentation = bool(segmentation)
        self.untrimmed_config = None
        if self.segmentation:
            from skelssl.data.synthetic.untrimmed import UntrimmedConfig

            self.untrimmed_config = UntrimmedConfig(
                num_videos=_number(int, "num_videos", num_videos),
                actions_per_video=_number(int, "actions_per_video", actions_per_video),
                min_gap=_number(int, "min_gap", min_gap), max_gap=_number(int, "max_gap", max_gap))
            # Recorded only when used, so trimmed datasets' reader options stay as they were.
            options.update(segmentation=True, **self.untrimmed_config.to_dict())
        super().__init__(**options)
        self.layout = self.config.layout
        self.class_names = class_names(self.config.num_classes)

    @property
    def num_chunks(self) -> int:
        return -(-self.config.num_samples // self.chunk_size)

    def discover(self, raw_dir: Path | None = None) -> list[str]:
        # Nothing is read from disk; the raw directory is accepted for interface symmetry.
        if self.untrimmed_config is not None:
            return [f"synthetic-video:{v}" for v in range(self.untrimmed_config.num_videos)]
        return [f"synthetic:{i}" for i in range(self.num_chunks)]

    def read_item(self, item: str, *, untrimmed: bool = False) -> ReadResult:
        if self.untrimmed_config is None:
            return ReadResult(self.read(item), None)
        from skelssl.data.synthetic.untrimmed import generate_video

        match = _VIDEO_ITEM.match(str(item))
        if not match or int(match.group(1)) >= self.untrimmed_config.num_videos:
            raise SkeletonFileError(item, f"not a synthetic video item (expected 'synthetic-video:<0.."
                                    f"{self.untrimmed_config.num_videos - 1}>')", reason="bad_name")
        whole, instances = generate_video(self.config, self.untrimmed_config, int(match.group(1)))
        return ReadResult(instances, whole if untrimmed else None)

    def untrimmed(self, item: str) -> RawSequence | None:
        return self.read_item(item, untrimmed=True).untrimmed if self.segmentation else None

    def read(self, item: str) -> list[RawSequence]:
        if self.untrimmed_config is not None:
            return self.read_item(item).sequences
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
