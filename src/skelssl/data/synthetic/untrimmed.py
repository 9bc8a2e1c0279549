"""Untrimmed synthetic videos for action segmentation: several actions with background between them.

One video is one actor filmed by one camera (the trimmed samples' subjects,
cameras and rigs) performing ``actions_per_video`` actions in a row, each
``min_length .. max_length`` frames long, with ``min_gap .. max_gap`` frames
of background (idle standing with fidgeting) before each action and after the
last. Each action is its class's motion mixed with its confuser and a
distractor exactly as in a trimmed sample (same difficulty scaling); the
motions live on one time line, so the body moves continuously from one action
to the next. Frame labels are the class inside an action's frames and -1
(background) elsewhere — the format of PKU-MMD's per-frame labels.

The trimmed instances of a video are its action segments cut out of it
(sample ids ``<video>_<k>``, as PKU-MMD's), so a prepared dataset holds the
trimmed instances (to pretrain and classify) and, under ``untrimmed/``, the
whole videos (to segment). Videos are deterministic functions of
``(seed, options, video index)`` like the trimmed samples, with their own
random streams (a video does not repeat any trimmed sample).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from skelssl.data.synthetic.config import FPS, KINECT20_FROM_NTU25, SyntheticConfig, class_names
from skelssl.data.synthetic.generation import (
    _SETUP_DISTANCE,
    _SETUP_HEIGHT,
    _SETUP_PITCH,
    VIEW_YAW_DEG,
    _actor_weights,
    _add_motions,
    _idle_and_limits,
    _render,
    _subject_params,
)
from skelssl.data.synthetic.hashing import _S_DROP, _S_SEGMENT, _S_VIDEO, _Hash
from skelssl.data.synthetic.kinematics import _DOF, _NEUTRAL, _REST_DIRS, DOF_NAMES
from skelssl.data.synthetic.motions import _Ctx, _smoothstep
from skelssl.data.types import RawSequence

__all__ = ["UntrimmedConfig", "video_design", "generate_video"]

# Video keys sit far above every sample index, so their noise streams never meet a sample's.
_VIDEO_KEY_BASE = 1 << 41


@dataclass(frozen=True)
class UntrimmedConfig:
    """How the untrimmed videos are laid out (the ``synthetic`` reader's options with ``segmentation=true``)."""

    num_videos: int = 60
    actions_per_video: int = 5
    min_gap: int = 15
    max_gap: int = 60

    def __post_init__(self) -> None:
        if self.num_videos < 1:
            raise ValueError(f"num_videos must be >= 1, got {self.num_videos}")
        if not 1 <= self.actions_per_video <= 100:
            raise ValueError(f"actions_per_video must be in 1..100, got {self.actions_per_video}")
        if not 1 <= self.min_gap <= self.max_gap <= 10_000:
            raise ValueError(f"need 1 <= min_gap <= max_gap <= 10000, got {self.min_gap}..{self.max_gap}")

    def to_dict(self) -> dict:
        return asdict(self)


def video_design(config: SyntheticConfig, video: int) -> dict[str, int]:
    """Subject, camera and rig of a video: subjects cycle fastest, then the three cameras, then the four rigs."""
    s = config.num_subjects
    return {"subject": video % s + 1, "view": (video // s) % 3 + 1, "setup": (video // (3 * s)) % 4 + 1}


def _segments(config: SyntheticConfig, untrimmed: UntrimmedConfig, h: _Hash, vk: np.ndarray):
    """Labels, start frames and lengths of a video's actions, and its total length."""
    k = untrimmed.actions_per_video
    seg = np.arange(k, dtype=np.uint64)
    label = np.floor(h.uniform(_S_SEGMENT, vk, seg, 0) * config.num_classes).astype(np.int64)
    length = config.min_length + np.floor(
        h.uniform(_S_SEGMENT, vk, seg, 1) * (config.max_length - config.min_length + 1)).astype(np.int64)
    gaps = untrimmed.min_gap + np.floor(h.uniform(_S_SEGMENT, vk, np.arange(k + 1, dtype=np.uint64), 2)
                                        * (untrimmed.max_gap - untrimmed.min_gap + 1)).astype(np.int64)
    start = np.cumsum(gaps[:k]) + np.concatenate([[0], np.cumsum(length)[:-1]])
    total = int(start[-1] + length[-1] + gaps[k])
    return label, start, length, total


def generate_video(config: SyntheticConfig, untrimmed: UntrimmedConfig,
                   video: int) -> tuple[RawSequence, list[RawSequence]]:
    """``(whole video with frame labels, its trimmed action instances)`` for video index ``video``."""
    if not 0 <= video < untrimmed.num_videos:
        raise IndexError(f"video index {video} outside 0..{untrimmed.num_videos - 1}")
    design = video_design(config, video)
    h = _Hash(config.seed)
    d = float(config.difficulty)
    vk = np.array([_VIDEO_KEY_BASE + video], dtype=np.uint64)

    def vu(i: int) -> np.ndarray:  # per-video uniforms, shape (1,)
        return h.uniform(_S_VIDEO, vk, i)

    label, start, length, total = _segments(config, untrimmed, h, vk)
    k = len(label)
    subj = _subject_params(h, np.array([design["subject"]], dtype=np.uint64), 0.5 + d)
    t_sec = np.arange(total, dtype=np.float64) / FPS

    # One row per action on the video's time line; the rows' motions are summed into one body.
    seg = np.arange(k, dtype=np.uint64)

    def su(i: int) -> np.ndarray:  # per-action uniforms, shape (K,)
        return h.uniform(_S_SEGMENT, vk, seg, 10 + i)

    dur = (length / FPS)[:, None]
    t_rel = t_sec[None, :] - (start / FPS)[:, None]
    ramp = np.minimum(0.3, dur / 3.0)
    env = _smoothstep(t_rel / ramp) * _smoothstep((dur - t_rel) / ramp)
    speed = subj["speed"] * np.exp(np.log(1.0 + 1.2 * d) * (2.0 * su(0) - 1.0))
    ctx = _Ctx(t=t_rel, dur=dur, env=env, speed=speed[:, None], phase=2.0 * np.pi * su(1)[:, None],
               style=np.stack([su(2 + i) for i in range(8)], -1), variety=d)
    amp = subj["amplitude"] * (1.0 - 0.7 * d + 0.9 * d * su(10))
    weights = _actor_weights(config.num_classes, label, amp, su(11), su(12), su(13), d)
    rows = np.zeros((k, total, len(DOF_NAMES)))
    _add_motions(rows, weights, ctx)
    dof = rows.sum(axis=0, keepdims=True)
    for name, v in _NEUTRAL.items():
        dof[..., _DOF[name]] += v
    dof += subj["posture"][:, None, :]
    _idle_and_limits(h, d, dof, vk, t_sec)

    setup = design["setup"] - 1
    cam_yaw = np.deg2rad(VIEW_YAW_DEG[design["view"] - 1]) + np.deg2rad(5.0 + 15.0 * d) * (2.0 * vu(0) - 1.0)
    camera = (cam_yaw, _SETUP_DISTANCE[setup] + (0.15 + 0.3 * d) * (2.0 * vu(1) - 1.0),
              (0.05 + 0.2 * d) * (2.0 * vu(2) - 1.0), _SETUP_HEIGHT[setup] + 0.1 * (2.0 * vu(3) - 1.0),
              np.deg2rad(_SETUP_PITCH[setup] + (2.0 + 6.0 * d) * (2.0 * vu(4) - 1.0)))
    body_yaw = np.deg2rad(30.0 * d) * (2.0 * vu(5) - 1.0)
    offsets = _REST_DIRS[None] * subj["lengths"][..., None]
    zero = np.zeros((1, 1))
    cam = _render(h, d, dof, offsets, body_yaw, zero, zero, camera, vk)[0]  # (T, 25, 3)

    # Dropped frames: bursts of 1-3 frames, as in the trimmed samples.
    frames = np.arange(total, dtype=np.uint64)
    starts = h.uniform(_S_DROP, vk[:, None], frames[None, :], 0)[0] < config.drop_frame_prob / 2.0
    burst = 1 + np.floor(3.0 * h.uniform(_S_DROP, vk[:, None], frames[None, :], 1)[0]).astype(np.int64)
    dropped = starts.copy()
    for lag in (1, 2):
        dropped[lag:] |= starts[:-lag] & (burst[:-lag] > lag)

    layout_idx = np.arange(25) if config.layout == "ntu25" else np.asarray(KINECT20_FROM_NTU25)
    present = ~dropped[None, :]
    joints = np.where(present[:, :, None, None], cam[None][:, :, layout_idx], np.float32(0.0)).astype(np.float32)
    frame_labels = np.full(total, -1, dtype=np.int64)
    for lab, s0, n in zip(label.tolist(), start.tolist(), length.tolist()):
        frame_labels[s0:s0 + n] = lab
    vid = f"S{design['setup']:03d}C{design['view']:03d}P{design['subject']:03d}V{video:05d}"
    common = dict(subject=design["subject"], view=design["view"], setup=design["setup"], replication=1,
                  layout=config.layout, source=f"synthetic:seed={config.seed}:video={video}")
    whole = RawSequence(sample_id=vid, joints=joints, present=present, frame_labels=frame_labels,
                        extra={"video": vid, "actions": k}, **common)
    names = class_names(config.num_classes)
    instances = []
    for i, (lab, s0, n) in enumerate(zip(label.tolist(), start.tolist(), length.tolist())):
        part = present[:, s0:s0 + n].copy()
        if not part.any():  # every frame of the action lost: left out, as PKU-MMD's loaders do
            continue
        instances.append(RawSequence(sample_id=f"{vid}_{i:03d}", joints=joints[:, s0:s0 + n].copy(), present=part,
                                     label=int(lab), extra={"video": vid, "start": int(s0), "end": int(s0 + n),
                                                            "class_name": names[lab]}, **common))
    return whole, instances
