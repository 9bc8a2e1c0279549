"""The in-memory form every reader produces and every recipe consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["RawSequence", "SkeletonFileError", "META_COLUMNS", "check_finite", "to_metres", "UNITS", "MAX_METRES"]

# Columns of the canonical metadata table; -1 means "not defined by this dataset".
META_COLUMNS = ("sample_id", "label", "subject", "view", "setup", "replication", "length")


class SkeletonFileError(ValueError):
    """A data file (raw, or prepared by ``skelssl prepare``) that cannot be read.

    The message names the file, then what is wrong (with the line where the
    format has lines); ``reason`` is a short category used to count skips.
    """

    def __init__(self, path: str | Path, problem: str, reason: str = "malformed"):
        self.path = str(path)
        self.problem = problem
        # A short machine-readable category used to group skips in summaries.
        self.reason = reason
        super().__init__(f"{self.path}: {problem}")

    def __reduce__(self):
        # Keeps the error intact when it crosses a worker-process boundary.
        return (type(self), (self.path, self.problem, self.reason))


@dataclass
class RawSequence:
    """One skeleton sequence as read from disk, before any preprocessing.

    ``joints`` is ``(S, T, V, C)``: S body *slots*, where slot s of frame t holds
    the s-th body listed in that frame (file order), absent bodies are zeros and
    flagged False in ``present`` ``(S, T)``. ``body_ids`` ``(S, T)`` carries the
    sensor's tracking id where the format has one (NTU), so recipes that track
    bodies by identity can regroup the slots.
    """

    sample_id: str
    joints: np.ndarray
    present: np.ndarray
    label: int = -1
    subject: int = -1
    view: int = -1
    setup: int = -1
    replication: int = -1
    layout: str = "ntu25"
    source: str = ""
    body_ids: np.ndarray | None = None
    # Per-frame labels for untrimmed sequences (action segmentation); -1 = background.
    frame_labels: np.ndarray | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.joints.ndim != 4:
            raise SkeletonFileError(self.source or self.sample_id, f"joints must be (S, T, V, C), got shape {self.joints.shape}")
        if self.present.shape != self.joints.shape[:2]:
            raise SkeletonFileError(
                self.source or self.sample_id,
                f"present mask {self.present.shape} does not match joints {self.joints.shape[:2]}",
            )

    @property
    def num_frames(self) -> int:
        return int(self.joints.shape[1])

    def meta(self) -> dict:
        return {
            "sample_id": self.sample_id,
            "label": int(self.label),
            "subject": int(self.subject),
            "view": int(self.view),
            "setup": int(self.setup),
            "replication": int(self.replication),
            "length": self.num_frames,
        }


def check_finite(path: str | Path, array: np.ndarray) -> None:
    """Raise a :class:`SkeletonFileError` if ``array`` holds NaN or inf."""
    if not np.isfinite(array).all():
        bad = np.argwhere(~np.isfinite(array))[0]
        raise SkeletonFileError(path, f"non-finite value at index {tuple(int(i) for i in bad)}", reason="non_finite")


# Length units of x, y, z and their factor to metres.
UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001}
# A depth sensor sees people within a few metres; a coordinate beyond this is not in metres.
MAX_METRES = 20.0


def to_metres(path: str | Path, joints: np.ndarray, units: str | None, axes: tuple[int, ...] = (0, 1, 2),
              hint: str = 'set "units": "mm" (or "cm")') -> np.ndarray:
    """``joints`` (..., C) with channels ``axes`` (x, y, z) in metres.

    Declared ``units`` (``"m"``, ``"cm"``, ``"mm"``) are converted. Undeclared
    units are taken as metres and checked: a coordinate beyond
    :data:`MAX_METRES` is rejected (reason ``units``) with ``hint`` on how to
    declare them, instead of silently training on millimetres.
    """
    axes = list(axes)
    if units is not None:
        if units not in UNITS:
            raise ValueError(f"units must be one of {', '.join(UNITS)}, got {units!r}")
        if units == "m":
            return joints
        scaled = np.array(joints, dtype=np.float32, copy=True)
        scaled[..., axes] *= np.float32(UNITS[units])
        return scaled
    peak = float(np.abs(joints[..., axes]).max()) if joints.size else 0.0
    if peak > MAX_METRES:
        raise SkeletonFileError(
            path, f"a coordinate reaches {peak:g}, which is not metres (skelssl expects metres; a person is within "
            f"{MAX_METRES:g} m of the sensor): {hint}, or declare metres if they really are", reason="units",
        )
    return joints
