"""The ``sgn`` recipe: SGN's denoised NTU data (also CTR-GCN, MAMP, pyskl's NTU 3D annotations).

Reproduces ``data/ntu/get_raw_skes_data.py``, ``get_raw_denoised_data.py``
and ``seq_transformation.py`` of the SGN release (copied unchanged by
CTR-GCN, whose ``.npz`` files MAMP and later work load):

1. drop frames holding no body and regroup the slots into tracks by the
   sensor's bodyID (first-appearance order); a track's frames are laid out
   contiguously from its first frame, as the reference's ``interval`` is;
2. only when there are 2 or more tracks, denoise:

   a. by length: drop tracks with at most 11 frames (``noise_len_thres``);
   b. by spread, while more than one track is left: a frame is noisy when its
      x-spread exceeds 0.8 (``noise_spr_thres1``) times its y-spread; a track
      with a noisy-frame ratio >= 0.69754 (``noise_spr_thres2``) is dropped,
      otherwise its motion is lowered to the motion of its clean frames;
   c. by motion (option, off by default: the release returns before this
      step): drop the non-leading tracks whose motion is below 0.089925
      (``noise_mot_thres_lo``) or above 2 (``noise_mot_thres_hi``);

   motion = sum over x, y, z of the variance of all the track's joints;
3. actors: actor 1 is the most-moving track; the others, by decreasing motion,
   join actor 1 when their frame interval does not overlap its interval, else
   actor 2 when they do not overlap actor 2's, else are discarded;
4. drop the frames in which neither actor is present (multi-track only);
5. translate: subtract actor 1's spine_mid joint (joint 2 in 1-based NTU
   numbering) in actor 1's first non-zero frame from everything, leaving
   absent actor frames zero; no rotation, no scaling;
6. zero-pad to ``num_frames`` (300, the NTU maximum the reference pads to);
   longer sequences are cropped to the first ``num_frames`` frames.
"""

from __future__ import annotations

import numpy as np

from skelssl.data.layouts import get_layout
from skelssl.data.recipes import steps
from skelssl.data.recipes.base import Recipe, RecipeOutput, register_recipe
from skelssl.data.types import RawSequence

__all__ = [
    "SGNRecipe",
    "NOISE_LEN_THRES",
    "NOISE_SPR_THRES1",
    "NOISE_SPR_THRES2",
    "NOISE_MOT_THRES_LO",
    "NOISE_MOT_THRES_HI",
    "track_motion",
    "noisy_spread_frames",
    "assign_actors",
]

# SGN get_raw_denoised_data.py, module constants.
NOISE_LEN_THRES = 11
NOISE_SPR_THRES1 = 0.8
NOISE_SPR_THRES2 = 0.69754
NOISE_MOT_THRES_LO = 0.089925
NOISE_MOT_THRES_HI = 2.0

# How many actors SGN assembles.
SGN_ACTORS = 2


def track_motion(joints: np.ndarray) -> float:
    """SGN's motion amount: ``sum(var(joints.reshape(-1, 3), axis=0))`` over a track's frames."""
    flat = joints.reshape(-1, joints.shape[-1])
    return float(np.var(flat, axis=0).sum()) if len(flat) else 0.0


def noisy_spread_frames(joints: np.ndarray, ratio: float = NOISE_SPR_THRES1) -> np.ndarray:
    """``(n,)`` mask of frames whose x-spread exceeds ``ratio`` times their y-spread."""
    x, y = joints[..., 0], joints[..., 1]
    return (x.max(axis=1) - x.min(axis=1)) > ratio * (y.max(axis=1) - y.min(axis=1))


def _interval(track: steps.BodyTrack) -> tuple[int, int]:
    # SGN numbers a body's frames first_frame, first_frame + 1, ... regardless of
    # gaps, so its interval is [first, first + count - 1].
    start = int(track.frames[0])
    return start, start + len(track.frames) - 1


def _denoise(tracks: list[steps.BodyTrack], motion_filter: bool) -> list[steps.BodyTrack]:
    """SGN's ``denoising_bodies_data``: the surviving tracks by decreasing motion."""
    motion = {id(t): track_motion(t.joints) for t in tracks}

    short = [t for t in tracks if len(t.frames) <= NOISE_LEN_THRES]
    if len(short) < len(tracks):
        # The reference crashes when every track is short; keeping them all is our policy.
        tracks = [t for t in tracks if len(t.frames) > NOISE_LEN_THRES]
    if len(tracks) == 1:
        return tracks

    kept = list(tracks)
    for track in tracks:  # first-appearance order, like the reference's dict
        if len(kept) == 1:
            break
        noisy = noisy_spread_frames(track.joints)
        if not noisy.any():
            continue
        if noisy.mean() >= NOISE_SPR_THRES2:
            kept.remove(track)
        else:
            motion[id(track)] = min(motion[id(track)], track_motion(track.joints[~noisy]))
    if len(kept) == 1:
        return kept

    # Python's sort is stable: equal motions keep first-appearance order.
    kept.sort(key=lambda t: motion[id(t)], reverse=True)
    if motion_filter:
        kept = kept[:1] + [
            t for t in kept[1:] if NOISE_MOT_THRES_LO <= motion[id(t)] <= NOISE_MOT_THRES_HI
        ]
    return kept


def assign_actors(tracks: list[steps.BodyTrack], num_frames: int) -> np.ndarray:
    """SGN's ``get_two_actors_points``: tracks (motion order) -> ``(2, T, V, C)``.

    Two intervals "do not overlap" when ``min(ends) - max(starts) <= 0``, so
    tracks sharing a single frame still count as disjoint (the later write wins
    that frame). Actor 2's interval starts as ``[0, 0]`` and its start never
    rises above 0, as in the reference.
    """
    v, c = tracks[0].joints.shape[1:]
    actors = np.zeros((SGN_ACTORS, num_frames, v, c), dtype=np.float64)

    def put(slot: int, track: steps.BodyTrack) -> None:
        start, end = _interval(track)
        actors[slot, start : end + 1] = track.joints

    put(0, tracks[0])
    start1, end1 = _interval(tracks[0])
    start2, end2 = 0, 0
    for track in tracks[1:]:
        start, end = _interval(track)
        if min(end1, end) - max(start1, start) <= 0:
            put(0, track)
            start1, end1 = min(start, start1), max(end, end1)
        elif min(end2, end) - max(start2, start) <= 0:
            put(1, track)
            start2, end2 = min(start, start2), max(end, end2)
    return actors


@register_recipe("sgn")
class SGNRecipe(Recipe):
    """SGN denoising + first-frame translation; output ``(C, 300, V, 2)`` zero-padded.

    ``valid_frames`` is the denoised length (capped at ``num_frames``).
    ``motion_filter=True`` turns on the motion-threshold step that the SGN
    release leaves commented out.
    """

    num_frames = 300
    num_bodies = 2

    def __init__(
        self, num_frames: int | None = None, num_bodies: int | None = None, *, motion_filter: bool = False
    ) -> None:
        super().__init__(num_frames, num_bodies)
        self.motion_filter = bool(motion_filter)

    def describe(self) -> dict:
        return {**super().describe(), "motion_filter": self.motion_filter}

    def required_roles(self) -> tuple[str, ...]:
        return ("spine_mid",)

    def apply(self, seq: RawSequence) -> RecipeOutput:
        layout = get_layout(seq.layout)
        spine_mid = layout.role("spine_mid")
        valid = steps.frames_with_any_body(seq.present)
        steps.require_frames(seq, valid)
        joints, present = steps.keep_frames(seq.joints, np.asarray(seq.present, dtype=bool), valid)
        ids = None if seq.body_ids is None else np.asarray(seq.body_ids)[:, valid]
        tracks = steps.group_by_body_id(joints, present, ids)
        length = joints.shape[1]

        if len(tracks) == 1:
            actors = np.zeros((SGN_ACTORS, length) + joints.shape[2:], dtype=np.float64)
            start, end = _interval(tracks[0])
            actors[0, start : end + 1] = tracks[0].joints
        else:
            tracks = _denoise(tracks, self.motion_filter)
            actors = assign_actors(tracks, length)
            # Drop frames where neither actor is present (remove_missing_frames).
            actors = actors[:, np.any(actors != 0, axis=(0, 2, 3))]

        present = np.any(actors != 0, axis=(2, 3))
        origin = actors[0, int(np.argmax(present[0])), spine_mid]
        actors = steps.translate(actors, origin, present)

        actors, _ = steps.pad_bodies(actors, present, self.num_bodies)
        valid_frames = min(actors.shape[1], self.num_frames)
        actors = steps.pad_or_crop(actors, self.num_frames, axis=1)
        return RecipeOutput(steps.to_ctvm(actors), valid_frames)
