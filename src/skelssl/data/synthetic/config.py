"""Dataset options, class names and the sample design (which sample has which label, subject, view)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterable

import numpy as np


FPS = 30.0

CLASS_NAMES: tuple[str, ...] = (
    "wave right hand",
    "wave both hands",
    "kick with right leg",
    "squat",
    "jump in place",
    "punch with right arm",
    "bow",
    "raise both arms",
    "clap",
    "side step",
    "walk in place",
    "turn around",
    "wave left hand",
    "kick with left leg",
    "punch with left arm",
)
MAX_CLASSES = len(CLASS_NAMES)

# ntu25 joint indices of the 20 Kinect v1 joints, in kinect20 order
# (hip_center = spine_base, spine = spine_mid, shoulder_center = spine_shoulder).
KINECT20_FROM_NTU25: tuple[int, ...] = (0, 1, 20, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19)

LAYOUTS = ("ntu25", "kinect20")


@dataclass(frozen=True)
class SyntheticConfig:
    """Options of the synthetic dataset (the ``synthetic`` reader's keyword options).

    ``num_samples`` samples are numbered 0..num_samples-1; sample ``n`` has
    label ``n % num_classes`` (so classes are balanced) and cycles through the
    subjects and the three cameras (see :func:`sample_design`).
    """

    num_samples: int = 2000
    num_classes: int = 10
    layout: str = "ntu25"
    seed: int = 0
    difficulty: float = 0.5
    two_person_prob: float = 0.15
    min_length: int = 30
    max_length: int = 120
    drop_frame_prob: float = 0.02
    num_subjects: int = 20

    def __post_init__(self) -> None:
        if self.num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {self.num_samples}")
        if not 2 <= self.num_classes <= MAX_CLASSES:
            raise ValueError(f"num_classes must be in 2..{MAX_CLASSES}, got {self.num_classes}")
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {self.layout!r}")
        if not (isinstance(self.seed, (int, np.integer)) and 0 <= self.seed < 2**63):
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if not 0.0 <= self.difficulty <= 1.0:
            raise ValueError(f"difficulty must be in [0, 1], got {self.difficulty}")
        if not 0.0 <= self.two_person_prob <= 1.0:
            raise ValueError(f"two_person_prob must be in [0, 1], got {self.two_person_prob}")
        if not 8 <= self.min_length <= self.max_length <= 10_000:
            raise ValueError(
                f"need 8 <= min_length <= max_length <= 10000, got {self.min_length}..{self.max_length}"
            )
        if not 0.0 <= self.drop_frame_prob <= 0.5:
            raise ValueError(f"drop_frame_prob must be in [0, 0.5], got {self.drop_frame_prob}")
        if self.num_subjects < 2:
            raise ValueError(f"num_subjects must be >= 2, got {self.num_subjects}")

    def to_dict(self) -> dict:
        return asdict(self)


def class_names(num_classes: int) -> tuple[str, ...]:
    """Names of the first ``num_classes`` classes, in label order."""
    if not 1 <= num_classes <= MAX_CLASSES:
        raise ValueError(f"num_classes must be in 1..{MAX_CLASSES}, got {num_classes}")
    return CLASS_NAMES[:num_classes]


def xsub_train_subjects(num_subjects: int = 20) -> np.ndarray:
    """Training subjects of the ``xsub`` protocol: the odd ids 1, 3, 5, ... (the even ids test)."""
    return np.arange(1, num_subjects + 1, 2)


def sample_design(config: SyntheticConfig, indices: Iterable[int] | np.ndarray) -> dict[str, np.ndarray]:
    """Metadata of samples by index, without generating them.

    Labels cycle fastest (``label = n % K``); each block of K samples has one
    subject and one camera, both cycling (``subject = m % S + 1``,
    ``view = m % 3 + 1`` with ``m = n // K``), so even a small prefix covers
    every view and both halves of the subjects. A *round* is one pass over all
    subject x view pairs (``3 S`` blocks); rounds cycle the camera setup 1..4
    (rig height and distance) and then count replications.
    """
    n = np.asarray(list(indices) if not isinstance(indices, np.ndarray) else indices, dtype=np.int64)
    if n.size and (n.min() < 0 or n.max() >= config.num_samples):
        raise IndexError(f"sample indices must be in 0..{config.num_samples - 1}")
    k, s = config.num_classes, config.num_subjects
    m = n // k
    rounds = m // (3 * s)
    return {
        "label": n % k,
        "subject": m % s + 1,
        "view": m % 3 + 1,
        "setup": rounds % 4 + 1,
        "replication": rounds // 4 + 1,
    }
