"""The ``agc_lstm`` recipe: N-UCLA the way its supervised and semi-supervised literature reads it.

Si et al.'s AGC-LSTM (CVPR 2019) preprocessing, kept by the ASSL authors and
copied into CTR-GCN's ``feeders/feeder_ucla.py`` (the loader behind the
published 93–97 % cross-view results):

1. bodies: the first ``num_bodies`` slots (N-UCLA has one person);
2. valid frames: frames in which any body is present;
3. centre: subtract the spine joint (role ``spine_mid``) of the **first** frame
   from every frame, so the body's trajectory through the scene is kept
   (``crossclr`` centres every frame on its own spine-shoulder and loses it);
4. (``normalize="minmax"`` only) per-axis min-max over the whole sequence
   to ``[-1, 1]``, as the reference does after its random rotation (the
   ``agc_lstm`` augmentation pipeline repeats it after rotating, so train
   and test inputs agree). **Off by default**: it distorts each body by its
   own per-axis scale, and the ablation ladder in ``docs/nucla-accuracy.md``
   measures it at -8.8 points of supervised top-1 (coordinates stay in metres);
5. frames: every valid frame is stored, zero-padded to ``num_frames`` (201,
   the longest N-UCLA sequence); a longer sequence is subsampled evenly. The
   input clip (52 frames) is drawn when the dataset is read: at random
   (sorted) from the valid frames for training, evenly spaced for testing —
   see :class:`skelssl.data.dataset.SkeletonDataset`. ``clip_frames`` is
   written to ``info.json`` so every consumer reads the same clip length.

``centre`` and ``normalize`` switch steps 3–4 to the ``crossclr`` behaviour
or off, for the ablation ladder in ``docs/nucla-accuracy.md``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from skelssl.data.layouts import get_layout
from skelssl.data.recipes import steps
from skelssl.data.recipes.base import Recipe, RecipeOutput, register_recipe
from skelssl.data.types import RawSequence

__all__ = ["AGCLSTMRecipe", "minmax_normalize"]


def minmax_normalize(joints: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Per-axis min-max of the present entries of ``(M, T, V, C)`` to ``[-1, 1]``; absent pairs stay 0.

    An axis without spread (a single still frame seen edge-on) maps to 0
    instead of dividing by zero.
    """
    keep = np.asarray(present, dtype=bool)
    values = joints[keep]  # (P, V, C) present body-frames
    lo = values.min(axis=(0, 1))
    hi = values.max(axis=(0, 1))
    span = hi - lo
    scale = np.where(span > 0, 2.0 / np.where(span > 0, span, 1.0), 0.0)
    out = (joints - lo) * scale - np.where(span > 0, 1.0, 0.0)
    return np.where(keep[:, :, None, None], out, 0.0)


@register_recipe("agc_lstm")
class AGCLSTMRecipe(Recipe):
    """AGC-LSTM / CTR-GCN N-UCLA preprocessing; output ``(C, num_frames, V, num_bodies)``, zero-padded.

    Args:
        num_frames: stored frames per sample (padding length).
        num_bodies: body slots (1 for N-UCLA).
        clip_frames: frames of the input clip drawn at read time (52 in the reference).
        centre: ``first_frame`` (reference), ``per_frame`` (every frame on its own
            spine joint, like ``crossclr``) or ``none``.
        normalize: ``none`` (default, metres) or ``minmax`` (the reference's per-axis [-1, 1]).
    """

    num_frames = 201
    num_bodies = 1

    def __init__(
        self,
        num_frames: int | None = None,
        num_bodies: int | None = None,
        *,
        clip_frames: int = 52,
        centre: Literal["first_frame", "per_frame", "none"] = "first_frame",
        normalize: Literal["minmax", "none"] = "none",
    ) -> None:
        super().__init__(num_frames, num_bodies)
        if centre not in ("first_frame", "per_frame", "none"):
            raise ValueError(f"unknown centre {centre!r}; use 'first_frame', 'per_frame' or 'none'")
        if normalize not in ("minmax", "none"):
            raise ValueError(f"unknown normalize {normalize!r}; use 'minmax' or 'none'")
        if int(clip_frames) < 1:
            raise ValueError(f"clip_frames must be >= 1, got {clip_frames}")
        self.clip_frames = int(clip_frames)
        self.centre = centre
        self.normalize = normalize

    def describe(self) -> dict:
        return {**super().describe(), "clip_frames": self.clip_frames, "centre": self.centre,
                "normalize": self.normalize}

    def required_roles(self) -> tuple[str, ...]:
        return ("spine_mid",) if self.centre != "none" else ()

    def apply(self, seq: RawSequence) -> RecipeOutput:
        layout = get_layout(seq.layout)
        valid = steps.frames_with_any_body(seq.present)
        steps.require_frames(seq, valid)
        joints, present = steps.first_bodies(seq.joints, seq.present, self.num_bodies)
        joints, present = steps.keep_frames(joints, present, valid)
        spine = layout.role("spine_mid")
        if self.centre == "first_frame":
            # The first frame's body (slot 0, else the first present slot) defines the origin.
            body = int(np.argmax(present[:, 0]))
            joints = steps.translate(joints, joints[body, 0, spine], present)
        elif self.centre == "per_frame":
            joints = steps.centre_on_joint(joints, present, spine)
        if self.normalize == "minmax":
            joints = minmax_normalize(joints, present)
        t = joints.shape[1]
        if t > self.num_frames:
            # Evenly spaced frames, the reference's test-time rule.
            keep = np.linspace(0, t - 1, self.num_frames).astype(np.int64)
            joints, t = joints[:, keep], self.num_frames
        joints = steps.pad_or_crop(joints, self.num_frames)
        return RecipeOutput(steps.to_ctvm(joints), t)
