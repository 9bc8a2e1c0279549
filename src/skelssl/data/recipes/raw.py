"""The ``raw`` recipe: the sensor's coordinates, untouched, in the canonical shape.

1. bodies: slots ``0..M-1`` (the first M bodies of each frame, file order);
   absent body/frame pairs are zero;
2. frames: all of them, in order (empty frames included, nothing is dropped);
3. zero-pad at the end, or crop to the first ``num_frames`` (300) frames.

No centring, rotation or scaling: a baseline, and the input for users who
normalise elsewhere.
"""

from __future__ import annotations

from skelssl.data.recipes import steps
from skelssl.data.recipes.base import Recipe, RecipeOutput, register_recipe
from skelssl.data.types import RawSequence

__all__ = ["RawRecipe"]


@register_recipe("raw")
class RawRecipe(Recipe):
    """First ``num_bodies`` slots, no normalisation, zero-padded/cropped to ``num_frames``.

    ``valid_frames`` is the raw length capped at ``num_frames``.
    """

    num_frames = 300
    num_bodies = 2

    def apply(self, seq: RawSequence) -> RecipeOutput:
        steps.require_frames(seq, steps.frames_with_any_body(seq.present))
        joints, _ = steps.first_bodies(seq.joints, seq.present, self.num_bodies)
        valid_frames = min(joints.shape[1], self.num_frames)
        joints = steps.pad_or_crop(joints, self.num_frames, axis=1)
        return RecipeOutput(steps.to_ctvm(joints), valid_frames)
