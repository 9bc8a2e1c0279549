"""The ``agcn`` recipe: 2s-AGCN's 300-frame NTU data (also used by CMD, MS-G3D, ...).

Reproduces ``data_gen/ntu_gendata.py`` (``read_xyz``) and
``data_gen/preprocess.py`` (``pre_normalization``) of the 2s-AGCN release:

1. bodies: of the first 4 slots (``max_body_kinect = 4``), keep the 2
   (``max_body_true``) with the largest ``get_nonzero_std`` energy, most
   energetic first; energy is computed on the whole raw sequence;
2. crop to ``num_frames`` (300, ``max_frame``) and zero-pad to it;
3. per body, pad null frames by repetition (see
   :func:`~skelssl.data.recipes.steps.pad_by_repetition`);
4. subtract body 0's spine joint (``spine_mid``, joint 2 in 1-based NTU
   numbering) frame by frame from every non-zero joint of every body;
5. rotate all bodies so body 0's ``spine_base -> spine_mid`` bone in frame 0
   is parallel to +z;
6. then rotate so body 0's shoulder vector ``right_shoulder - left_shoulder``
   in frame 0 is parallel to +x (a full 3-D rotation about the cross product,
   which may tilt the spine off z again, exactly as the reference does).
"""

from __future__ import annotations

import numpy as np

from skelssl.data.layouts import get_layout
from skelssl.data.recipes import steps
from skelssl.data.recipes.base import Recipe, RecipeOutput, register_recipe
from skelssl.data.types import RawSequence

__all__ = ["AGCNRecipe"]

# read_xyz reads at most this many bodies per frame before ranking by energy.
MAX_CANDIDATE_BODIES = 4
Z_AXIS = np.array([0.0, 0.0, 1.0])
X_AXIS = np.array([1.0, 0.0, 0.0])


@register_recipe("agcn")
class AGCNRecipe(Recipe):
    """2s-AGCN ``pre_normalization``; output ``(C, 300, V, 2)``.

    ``valid_frames`` is where the repetition padding of the longest kept body
    starts (the sequence length for an ordinary sample): every frame of the
    output holds skeleton data, the frames after ``valid_frames`` are copies.
    """

    num_frames = 300
    num_bodies = 2

    def required_roles(self) -> tuple[str, ...]:
        return ("spine_base", "spine_mid", "left_shoulder", "right_shoulder")

    def apply(self, seq: RawSequence) -> RecipeOutput:
        layout = get_layout(seq.layout)
        spine_base, spine_mid = layout.role("spine_base"), layout.role("spine_mid")
        left, right = layout.role("left_shoulder"), layout.role("right_shoulder")
        steps.require_frames(seq, steps.frames_with_any_body(seq.present))

        present = np.asarray(seq.present, dtype=bool)
        raw = np.where(present[:, :, None, None], seq.joints, 0.0)
        bodies, _ = steps.select_most_energetic(raw, self.num_bodies, max_candidates=MAX_CANDIDATE_BODIES)
        bodies = steps.pad_or_crop(bodies, self.num_frames, axis=1)
        if not np.any(bodies):
            raise steps.empty_sequence_error(seq, f"no body data in the first {self.num_frames} frames")

        padded = [steps.pad_by_repetition(person) for person in bodies]
        bodies = np.stack([p for p, _ in padded])
        valid_frames = max(tail for _, tail in padded)

        # Centre on body 0's spine; the mask is taken per joint before subtracting,
        # as the reference does, so empty joints and frames stay exactly zero.
        keep = np.any(bodies != 0, axis=-1)
        bodies = steps.translate(bodies, bodies[0, :, spine_mid : spine_mid + 1, :], keep)

        rz = steps.alignment_rotation(bodies[0, 0, spine_mid] - bodies[0, 0, spine_base], Z_AXIS)
        bodies = steps.apply_rotation(bodies, rz)
        rx = steps.alignment_rotation(bodies[0, 0, right] - bodies[0, 0, left], X_AXIS)
        bodies = steps.apply_rotation(bodies, rx)
        return RecipeOutput(steps.to_ctvm(bodies), valid_frames)
