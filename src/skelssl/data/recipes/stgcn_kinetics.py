"""The ``stgcn_kinetics`` recipe: ST-GCN's Kinetics-skeleton feeder (2-D OpenPose + score).

Reproduces ``Feeder_kinetics.__getitem__`` of the ST-GCN release without its
random augmentations, as ``tools/kinetics_gendata.py`` runs it:

1. candidates: the first 5 people of each frame (``num_person_in``);
2. centre: x and y minus 0.5 (OpenPose coordinates are normalised to [0, 1]);
   then x and y are set to 0 wherever the joint's score is 0, which also
   zeroes absent people;
3. per frame, sort the candidates by their summed joint score, highest first
   (ties keep file order) and keep 2 (``num_person_out``): body slot 0 is the
   most confident person *of each frame*, not a tracked identity;
4. zero-pad at the end, or crop to the first ``num_frames`` (300) frames.

The score channel is kept unchanged as channel 2.
"""

from __future__ import annotations

import numpy as np

from skelssl.data.layouts import get_layout
from skelssl.data.recipes import steps
from skelssl.data.recipes.base import Recipe, RecipeOutput, register_recipe
from skelssl.data.types import RawSequence

__all__ = ["STGCNKineticsRecipe"]

# ST-GCN kinetics_gendata: observe this many people per frame, keep num_bodies.
NUM_PERSON_IN = 5
# OpenPose image coordinates lie in [0, 1]; ST-GCN moves the image centre to 0.
IMAGE_CENTRE = 0.5


@register_recipe("stgcn_kinetics")
class STGCNKineticsRecipe(Recipe):
    """ST-GCN Kinetics preprocessing; output ``(3, 300, V, 2)`` with channels x, y, score.

    ``valid_frames`` is the raw length capped at ``num_frames``.
    """

    num_frames = 300
    num_bodies = 2

    def apply(self, seq: RawSequence) -> RecipeOutput:
        layout = get_layout(seq.layout)
        if "score" not in layout.channels or seq.joints.shape[3] != len(layout.channels):
            raise ValueError(
                f"recipe 'stgcn_kinetics' needs a layout with a score channel; "
                f"{layout.name!r} has channels {layout.channels} and the data has {seq.joints.shape[3]}"
            )
        steps.require_frames(seq, steps.frames_with_any_body(seq.present))
        score_ch = layout.channels.index("score")
        xy = [i for i, name in enumerate(layout.channels) if name != "score"]

        present = np.asarray(seq.present, dtype=bool)[:NUM_PERSON_IN]
        joints = np.where(present[:, :, None, None], seq.joints[:NUM_PERSON_IN], 0.0)
        joints[..., xy] = np.where(joints[..., score_ch : score_ch + 1] == 0, 0.0, joints[..., xy] - IMAGE_CENTRE)
        joints, _ = steps.select_most_confident(joints, present, self.num_bodies, score_channel=score_ch)

        valid_frames = min(joints.shape[1], self.num_frames)
        joints = steps.pad_or_crop(joints, self.num_frames, axis=1)
        return RecipeOutput(steps.to_ctvm(joints), valid_frames)
