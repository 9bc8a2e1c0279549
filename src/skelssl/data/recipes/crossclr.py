"""The ``crossclr`` recipe: CrosSCLR / AimCLR / ActCLR's 50-frame NTU data.

Reproduces ``feeder/preprocess_ntu.py`` + ``NTUMotionProcessor`` of the
CrosSCLR release (copied unchanged into AimCLR and ActCLR), run with
``data_type='relative', t_length=50, y_rotation=True, sampling='resize',
displacement=1`` on ST-GCN's 300-frame ``ntu_gendata`` output. Steps, in the
reference's order:

1. bodies: slots 0 and 1, the first two bodies of each frame in file order;
2. valid frames: frames in which any body is present (the reference counts the
   frames whose body-0 joint 0 is non-zero, which in file-order slotting is the
   same set, and takes that many frames from the start);
3. (``stream="raw_motion"`` only) displacement on the raw camera coordinates;
4. centre: each body minus its own spine-shoulder joint, per frame;
5. resize the valid frames to ``num_frames`` (50) with cv2-style linear
   interpolation (half-pixel centres, clamped ends); a single frame repeats;
6. rotate each body about y so its shoulder vector ``right - left`` lies
   along +x (CrosSCLR's sequence-level sign rule by default).

See ``docs/recipes.md`` for the constants and the differences from the reference.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from skelssl.data.layouts import get_layout
from skelssl.data.recipes import steps
from skelssl.data.recipes.base import Recipe, RecipeOutput, register_recipe
from skelssl.data.types import RawSequence

__all__ = ["CrosSCLRRecipe", "raw_displacement"]

# ST-GCN's ntu_gendata pads every sequence to 300 frames; the reference's
# displacement is taken on that padded array (see raw_displacement).
REFERENCE_PADDED_LENGTH = 300


def raw_displacement(joints: np.ndarray, padded_length: int = REFERENCE_PADDED_LENGTH) -> np.ndarray:
    """CrosSCLR's ``displacement=1`` motion of ``(M, T, V, C)`` valid raw frames.

    ``motion[t] = x[t + 1] - x[t]``, computed on the uncentred, unrotated
    coordinates of the ``padded_length``-frame zero-padded array, so the last
    valid frame of a sequence shorter than ``padded_length`` gets ``0 - x[T-1]``
    (a jump into the padding) and a sequence filling the array gets 0 there.
    """
    t = joints.shape[1]
    nxt = np.zeros_like(joints)
    nxt[:, : t - 1] = joints[:, 1:]
    if t >= padded_length:
        nxt[:, t - 1] = joints[:, t - 1]
    return nxt - joints


@register_recipe("crossclr")
class CrosSCLRRecipe(Recipe):
    """CrosSCLR/AimCLR/ActCLR preprocessing; output ``(C, 50, V, 2)``.

    ``stream="position"`` (default) is the ``*_position.npy`` array those
    methods train on (their motion and bone views are derived from it on the
    fly). ``stream="raw_motion"`` is the ``*_motion.npy`` array the same script
    also writes: displacement of the raw frames, resized, never centred or
    rotated. ``rotation="per_frame"`` replaces the reference's sequence-level
    sign rule with an exact per-frame alignment (not comparable to published
    numbers). ``align_corners=True`` resizes with ``linspace`` sampling instead
    of cv2's.
    """

    num_frames = 50
    num_bodies = 2

    def __init__(
        self,
        num_frames: int | None = None,
        num_bodies: int | None = None,
        *,
        stream: Literal["position", "raw_motion"] = "position",
        rotation: Literal["reference", "per_frame", "none"] = "reference",
        align_corners: bool = False,
    ) -> None:
        super().__init__(num_frames, num_bodies)
        if stream not in ("position", "raw_motion"):
            raise ValueError(f"unknown stream {stream!r}; use 'position' or 'raw_motion'")
        if rotation not in ("reference", "per_frame", "none"):
            raise ValueError(f"unknown rotation {rotation!r}; use 'reference', 'per_frame' or 'none'")
        self.stream = stream
        self.rotation = rotation
        self.align_corners = bool(align_corners)

    def describe(self) -> dict:
        return {
            **super().describe(),
            "stream": self.stream,
            "rotation": self.rotation,
            "align_corners": self.align_corners,
        }

    def required_roles(self) -> tuple[str, ...]:
        if self.stream == "raw_motion":
            return ()
        return ("spine_shoulder",) + (("left_shoulder", "right_shoulder") if self.rotation != "none" else ())

    def apply(self, seq: RawSequence) -> RecipeOutput:
        layout = get_layout(seq.layout)
        valid = steps.frames_with_any_body(seq.present)
        steps.require_frames(seq, valid)
        joints, present = steps.first_bodies(seq.joints, seq.present, self.num_bodies)
        joints, present = steps.keep_frames(joints, present, valid)

        if self.stream == "raw_motion":
            motion = raw_displacement(joints)
            out = steps.resize_frames(motion, self.num_frames, align_corners=self.align_corners)
            return RecipeOutput(steps.to_ctvm(out), self.num_frames)

        joints = steps.centre_on_joint(joints, present, layout.role("spine_shoulder"))
        joints = steps.resize_frames(joints, self.num_frames, align_corners=self.align_corners)
        if self.rotation != "none":
            joints = steps.shoulder_y_rotation(
                joints, layout.role("left_shoulder"), layout.role("right_shoulder"), mode=self.rotation
            )
        # Every output frame is interpolated from the sequence: none is padding.
        return RecipeOutput(steps.to_ctvm(joints), self.num_frames)
