"""Generation: subjects, cameras, motion mixtures, kinematics and sensor effects, per block of samples."""

from __future__ import annotations

from typing import Iterable

import numpy as np

from skelssl.data.types import RawSequence
from skelssl.data.synthetic.config import (
    FPS,
    KINECT20_FROM_NTU25,
    SyntheticConfig,
    class_names,
    sample_design,
)
from skelssl.data.synthetic.hashing import (
    _S_BODY,
    _S_DROP,
    _S_GLITCH,
    _S_GLITCH_SIZE,
    _S_IDLE,
    _S_NOISE,
    _S_SAMPLE,
    _S_SUBJECT,
    _Hash,
)
from skelssl.data.synthetic.kinematics import (
    _DOF,
    _GROUPS,
    _IDLE,
    _LIMB_DOFS,
    _LIMITS,
    _NEUTRAL,
    _REST_DIRS,
    _REST_GROUPS,
    _REST_LENGTHS,
    DOF_NAMES,
    _forward_kinematics,
    _mm,
    _mv,
    _rx,
    _schain,
    _sdense,
    _srot,
)
from skelssl.data.synthetic.motions import _MOTIONS, _confuser, _Ctx, _smoothstep

# --------------------------------------------------------------------------- generation


def _subject_params(h: _Hash, subjects: np.ndarray, spread: float) -> dict[str, np.ndarray]:
    """Fixed per-subject body proportions and style, for subject ids (B,)."""
    def nrm(k: int) -> np.ndarray:
        return h.normal(_S_SUBJECT, subjects, k)

    height = np.clip(1.0 + 0.06 * spread * nrm(0), 0.82, 1.18)
    group_scale = np.stack([np.exp(0.05 * spread * nrm(1 + g)) for g in range(len(_GROUPS))], -1)
    posture = np.zeros((len(subjects), len(DOF_NAMES)))
    # Standing posture (degrees, standard deviation at difficulty 0.5): stoop, head
    # carriage, how the arms hang, knees. Both sides alike.
    for k, (name, sd) in enumerate((("lumbar_bend", 8.0), ("thorax_bend", 8.0), ("neck_nod", 12.0),
                                    ("root_tilt", 6.0), ("sh_el", 8.0), ("sh_az", 16.0), ("elbow", 16.0),
                                    ("knee", 6.0), ("hip_abd", 6.0))):
        v = sd * spread * nrm(20 + k)
        for full in ((f"l_{name}", f"r_{name}") if name in _LIMB_DOFS else (name,)):
            posture[:, _DOF[full]] = v
    return {
        "lengths": height[:, None] * group_scale[:, _REST_GROUPS] * _REST_LENGTHS,  # (B, 25)
        "posture": posture,
        "speed": np.exp(0.12 * spread * nrm(40)),
        "amplitude": np.exp(0.08 * spread * nrm(41)),
    }


# Camera rigs per setup 1..4: height (m), distance to the actor (m), downward pitch (deg);
# and each camera's yaw around the actor (deg): camera 1 frontal, 2 and 3 at +-45.
_SETUP_HEIGHT = np.array([1.0, 1.3, 0.8, 1.15])
_SETUP_DISTANCE = np.array([2.8, 3.1, 2.6, 3.3])
_SETUP_PITCH = np.array([5.0, 12.0, 0.0, 8.0])
VIEW_YAW_DEG = (0.0, 45.0, -45.0)

# Samples generated together in one array pass; small enough to stay in cache.
_BLOCK = 32


def _lengths(config: SyntheticConfig, h: _Hash, nu: np.ndarray) -> np.ndarray:
    u = h.uniform(_S_SAMPLE, nu, 0)
    return config.min_length + np.floor(u * (config.max_length - config.min_length + 1)).astype(np.int64)


def _actor_weights(num_classes: int, label: np.ndarray, amp: np.ndarray, u_confuser: np.ndarray,
                   u_distractor: np.ndarray, u_distractor_amp: np.ndarray, d: float) -> np.ndarray:
    """Motion-mixture weights (B, motions) of actors: the labelled motion, its confuser and a distractor."""
    weights = np.zeros((len(label), len(_MOTIONS)))
    rows = np.arange(len(label))
    weights[rows, label] += amp
    conf = np.array([_confuser(int(c), num_classes) for c in range(num_classes)])[label]
    # Relative to the sample's own amplitude and capped below it, so the labelled motion
    # always dominates: the task gets harder, never ambiguous by construction.
    weights[rows, conf] += amp * min(0.85, 1.5 * d) * u_confuser
    # The distractor is any motion other than the label and its confuser.
    distract = np.floor(u_distractor * (len(_MOTIONS) - 2)).astype(np.int64)
    first, second = np.minimum(label, conf), np.maximum(label, conf)
    distract += distract >= first
    distract += distract >= second
    weights[rows, distract] += amp * min(0.6, 0.9 * d) * u_distractor_amp
    return weights


def _add_motions(dof: np.ndarray, weights: np.ndarray, ctx: _Ctx) -> None:
    """``dof`` (B, T, DOF) += the weighted motions (weights (B, motions)) of ``ctx``'s rows, in place."""
    nb, t_max = dof.shape[:2]
    for m, (fn, _) in enumerate(_MOTIONS):
        w = weights[:, m]
        if not w.any():
            continue
        for name, v in fn(ctx).items():
            dof[..., _DOF[name]] += w[:, None] * np.broadcast_to(v, (nb, t_max))


def _idle_and_limits(h: _Hash, d: float, dof: np.ndarray, key: np.ndarray, t_sec: np.ndarray) -> None:
    """Adds idle fidgeting to ``dof`` (B, T, DOF) in place and clips every joint to its limits."""
    # Idle fidgeting: two slow random sinusoids per DOF, scaled by difficulty.
    idle_amp = np.zeros(len(DOF_NAMES))
    for name, v in _IDLE.items():
        idle_amp[_DOF[name]] = v * d
    dof_i = np.arange(len(DOF_NAMES), dtype=np.uint64)
    for j in range(2):
        f = 0.1 + 0.6 * h.uniform(_S_IDLE, key[:, None], dof_i[None, :], 2 * j)
        ph = 2.0 * np.pi * h.uniform(_S_IDLE, key[:, None], dof_i[None, :], 2 * j + 1)
        dof += 0.5 * idle_amp * np.sin(2.0 * np.pi * f[:, None, :] * t_sec[None, :, None] + ph[:, None, :])

    # Joint limits: however amplitude, confuser, posture and fidgeting add up, elbows and
    # knees do not hyperextend and no joint bends past what a body can do.
    for name, (lo, hi) in _LIMITS.items():
        np.clip(dof[..., _DOF[name]], lo, hi, out=dof[..., _DOF[name]])


def _render(h: _Hash, d: float, dof: np.ndarray, offsets: np.ndarray, yaw_world: np.ndarray, place_x: np.ndarray,
            place_z: np.ndarray, camera: tuple[np.ndarray, ...], key: np.ndarray) -> np.ndarray:
    """Joint angles (B, T, DOF) -> noisy Kinect camera-space joints (B, T, 25, 3) float32.

    Forward kinematics with the feet on the floor, the body placed at
    ``place_x, place_z`` (B, 1) facing ``yaw_world`` (B,), seen by the camera
    ``(yaw, distance, shift, height, pitch)`` (each (B,)); sensor noise and
    glitches are drawn per body ``key``.
    """
    # float32 from here: positions need only ~1e-7 relative precision and it halves the memory traffic.
    rad = np.deg2rad(dof).astype(np.float32)
    root_frame = _sdense(_schain(_srot("y", rad[..., _DOF["root_yaw"]] + yaw_world[:, None].astype(np.float32)),
                                 _srot("x", rad[..., _DOF["root_tilt"]]), _srot("z", -rad[..., _DOF["root_lean"]])),
                         rad.shape[:2], np.float32)
    pos = _forward_kinematics(rad, root_frame, offsets.astype(np.float32))

    # Feet on the floor: the lowest foot joint sits 4 cm up; the stance ankle
    # (soft-min of ankle heights) stays where it is, so the body does not slide.
    feet_y = pos[:, :, [14, 15, 18, 19], 1]
    root_y = 0.04 - feet_y.min(-1) + dof[..., _DOF["root_lift"]]
    ankles = pos[:, :, [14, 18], :]
    wgt = np.exp(-(ankles[..., 1] - ankles[..., 1].min(-1, keepdims=True)) / 0.03)
    wgt = wgt / wgt.sum(-1, keepdims=True)
    anchor = (wgt[..., None] * ankles).sum(-2)
    cy, sy = np.cos(yaw_world)[:, None], np.sin(yaw_world)[:, None]
    tx, tz = dof[..., _DOF["root_tx"]], dof[..., _DOF["root_tz"]]
    root = np.stack([place_x + cy * tx + sy * tz - anchor[..., 0], root_y,
                     place_z - sy * tx + cy * tz - anchor[..., 2]], -1)
    world = pos + root[:, :, None, :]

    # ---- virtual camera (Kinect camera space: y up, z = depth)
    vy, cd, sh, ch, pitch = camera
    cvy, svy = np.cos(vy), np.sin(vy)
    cam_pos = np.stack([cd * svy + sh * cvy, ch, cd * cvy - sh * svy], -1)
    zeros, ones = np.zeros_like(vy), np.ones_like(vy)
    # Rows are the camera axes in world coordinates; the camera looks at the actor.
    axes = np.stack([np.stack([-cvy, zeros, svy], -1), np.stack([zeros, ones, zeros], -1),
                     np.stack([-svy, zeros, -cvy], -1)], -2)
    cam_rot = _mm(_rx(-pitch), axes)
    cam = _mv(cam_rot[:, None, None], world - cam_pos[:, None, None, :])

    # ---- sensor: noise, glitches (extremities), dropped frames
    t_i = np.arange(dof.shape[1], dtype=np.uint64)
    ctr = (t_i[:, None] * np.uint64(25) + np.arange(25, dtype=np.uint64)[None, :])[..., None] * np.uint64(3) \
        + np.arange(3, dtype=np.uint64)
    extremity = np.ones(25)  # hands, hand tips, thumbs, feet and head are tracked worst
    extremity[[7, 11, 21, 22, 23, 24, 15, 19, 3]] = 1.5
    sigma = 0.003 + 0.017 * d
    cam += (sigma * extremity[:, None]).astype(np.float32) * h.normal(_S_NOISE, key[:, None, None, None], ctr[None])
    # Tracking glitches: an extremity jumps by ~6 cm for one frame (Kinect's inferred joints).
    gb, gt, gv = np.nonzero(h.uniform(_S_GLITCH, key[:, None, None], ctr[None, :, :, 0])
                            < 0.012 * d * (extremity - 1.0))
    cam[gb, gt, gv] += 0.06 * h.normal(_S_GLITCH_SIZE, key[gb, None], ctr[gt, gv])

    return cam


def generate(config: SyntheticConfig, indices: Iterable[int] | np.ndarray) -> list[RawSequence]:
    """Generate the samples with the given indices, in that order.

    Work is vectorised over blocks of samples of similar length (less padding);
    since every sample is a function of its index alone, the grouping does not
    change the result.
    """
    n = np.asarray(list(indices) if not isinstance(indices, np.ndarray) else indices, dtype=np.int64).ravel()
    if n.size == 0:
        return []
    sample_design(config, n)  # validates the indices
    order = np.argsort(_lengths(config, _Hash(config.seed), n.astype(np.uint64)), kind="stable")
    out: list[RawSequence | None] = [None] * len(n)
    for start in range(0, len(n), _BLOCK):
        pick = order[start : start + _BLOCK]
        for i, seq in zip(pick, _generate_block(config, n[pick])):
            out[i] = seq
    return out  # type: ignore[return-value]


def _generate_block(config: SyntheticConfig, n: np.ndarray) -> list[RawSequence]:
    design = sample_design(config, n)
    h = _Hash(config.seed)
    d = float(config.difficulty)
    spread = 0.5 + d
    num = len(n)
    nu = n.astype(np.uint64)

    def su(k: int) -> np.ndarray:  # per-sample uniforms
        return h.uniform(_S_SAMPLE, nu, k)

    # ---- per-sample: length, camera, second person
    lengths = _lengths(config, h, nu)
    view_centre = np.deg2rad(np.array(VIEW_YAW_DEG))[design["view"] - 1]
    # Jitter stays under +-20 deg so the three cameras keep disjoint yaw ranges.
    cam_yaw = view_centre + np.deg2rad(5.0 + 15.0 * d) * (2.0 * su(1) - 1.0)
    setup = design["setup"] - 1
    # Camera rigs (one per setup): height above the floor, distance to the actor, and
    # downward tilt (positive pitch looks down, so the floor rises with depth).
    cam_height = _SETUP_HEIGHT[setup] + 0.1 * (2.0 * su(2) - 1.0)
    cam_dist = _SETUP_DISTANCE[setup] + (0.15 + 0.3 * d) * (2.0 * su(3) - 1.0)
    cam_pitch = np.deg2rad(_SETUP_PITCH[setup] + (2.0 + 6.0 * d) * (2.0 * su(4) - 1.0))
    cam_shift = (0.05 + 0.2 * d) * (2.0 * su(5) - 1.0)  # actor off the optical axis
    body_yaw = np.deg2rad(30.0 * d) * (2.0 * su(6) - 1.0)  # the actor need not face the camera squarely
    two = su(7) < config.two_person_prob
    interacting = two & (su(8) < 0.5)

    # ---- bodies: every actor, then every second person
    pidx = np.flatnonzero(two)
    owner = np.concatenate([np.arange(num), pidx])  # body -> position in n
    slot = np.concatenate([np.zeros(num, np.int64), np.ones(len(pidx), np.int64)])
    nb = len(owner)
    key = (n[owner] * 2 + slot).astype(np.uint64)

    def bu(k: int) -> np.ndarray:  # per-body uniforms
        return h.uniform(_S_BODY, key, k)

    subject = design["subject"][owner]
    # The second person is one of the other virtual subjects.
    offset = 1 + np.floor(bu(0) * (config.num_subjects - 1)).astype(np.int64)
    subject = np.where(slot == 1, (subject - 1 + offset) % config.num_subjects + 1, subject)
    subj = _subject_params(h, subject.astype(np.uint64), spread)
    offsets = _REST_DIRS[None] * subj["lengths"][..., None]  # (B, 25, 3)

    t_max = int(lengths.max())
    t_sec = np.arange(t_max, dtype=np.float64) / FPS
    total = (lengths[owner] / FPS)[:, None]
    # Idle time before and after the action: up to 25 % each at difficulty 0.5.
    lead = min(0.35, 0.05 + 0.4 * d) * bu(1)[:, None] * total
    tail = min(0.35, 0.05 + 0.4 * d) * bu(2)[:, None] * total
    dur = np.maximum(total - lead - tail, 0.5)
    t_rel = t_sec[None, :] - lead
    ramp = np.minimum(0.3, dur / 3.0)
    env = _smoothstep(t_rel / ramp) * _smoothstep((dur - t_rel) / ramp)
    speed = subj["speed"] * np.exp(np.log(1.0 + 1.2 * d) * (2.0 * bu(3) - 1.0))  # x/÷ 1.6 at d = 0.5
    ctx = _Ctx(t=t_rel, dur=dur, env=env, speed=speed[:, None], phase=2.0 * np.pi * bu(4)[:, None],
               style=np.stack([bu(30 + i) for i in range(8)], -1), variety=d)

    # ---- motion mixture: own class, its confuser, a random distractor
    k = config.num_classes
    label = design["label"][owner]
    amp = subj["amplitude"] * (1.0 - 0.7 * d + 0.9 * d * bu(9))  # 0.65..1.1 at d = 0.5
    weights = np.zeros((nb, len(_MOTIONS)))
    actor = slot == 0
    rows = np.arange(nb)
    conf = np.array([_confuser(int(c), k) for c in range(k)])[label]
    weights[actor] += _actor_weights(k, label[actor], amp[actor], bu(10)[actor], bu(11)[actor], bu(12)[actor], d)
    # A second person does some other action, less expressively.
    other = np.floor(bu(13) * (len(_MOTIONS) - 1)).astype(np.int64)
    weights[rows[~actor], other[~actor]] += 0.3 + 0.4 * bu(14)[~actor]

    dof = np.zeros((nb, t_max, len(DOF_NAMES)))
    for name, v in _NEUTRAL.items():
        dof[..., _DOF[name]] += v
    dof += subj["posture"][:, None, :]
    _add_motions(dof, weights, ctx)
    _idle_and_limits(h, d, dof, key, t_sec)

    # ---- kinematics in the world frame (floor y = 0, actor at the origin facing +z)
    yaw_world = np.where(slot == 0, body_yaw[owner], 0.0)
    side = np.where(bu(15) < 0.5, -1.0, 1.0)
    inter_b = interacting[owner]
    partner_yaw = np.where(inter_b, -side * np.pi / 2 + np.deg2rad(20.0) * (2 * bu(16) - 1),
                           np.deg2rad(90.0) * (2 * bu(16) - 1))
    yaw_world = np.where(slot == 1, partner_yaw, yaw_world)
    place_x = np.where(inter_b, side * (0.9 + 0.4 * bu(17)), side * (1.3 + 0.9 * bu(17)))
    place_z = np.where(inter_b, 0.6 * bu(18) - 0.3, -0.3 - 1.5 * bu(18))
    place_x = np.where(slot == 1, place_x, 0.0)[:, None]
    place_z = np.where(slot == 1, place_z, 0.0)[:, None]
    camera = (cam_yaw[owner], cam_dist[owner], cam_shift[owner], cam_height[owner], cam_pitch[owner])
    cam = _render(h, d, dof, offsets, yaw_world, place_x, place_z, camera, key)

    frame_ctr = np.arange(t_max, dtype=np.uint64)
    starts = h.uniform(_S_DROP, nu[:, None], frame_ctr[None, :], 0) < config.drop_frame_prob / 2.0
    burst = 1 + np.floor(3.0 * h.uniform(_S_DROP, nu[:, None], frame_ctr[None, :], 1)).astype(np.int64)
    dropped = starts.copy()
    for lag in (1, 2):  # bursts of 1-3 frames (mean 2, so the drop rate is ~drop_frame_prob)
        dropped[:, lag:] |= starts[:, :-lag] & (burst[:, :-lag] > lag)

    # Bystanders walk in and out of view; partners stay.
    win_start = np.floor(bu(19) * 0.4 * lengths[owner]).astype(np.int64)
    win_end = lengths[owner] - np.floor(bu(20) * 0.4 * lengths[owner]).astype(np.int64)
    in_view = (np.arange(t_max)[None, :] >= win_start[:, None]) & (np.arange(t_max)[None, :] < win_end[:, None])
    in_view |= (slot == 0)[:, None] | inter_b[:, None]

    # ---- assemble
    layout_idx = np.arange(25) if config.layout == "ntu25" else np.asarray(KINECT20_FROM_NTU25)
    cam = cam[:, :, layout_idx].astype(np.float32)
    names = class_names(k)
    partner_body = {int(o): b for b, o in zip(range(num, nb), pidx)}
    out = []
    for i in range(num):
        length = int(lengths[i])
        drop = dropped[i, :length].copy()
        if drop.all():
            drop[0] = False
        bodies = [i] + ([partner_body[i]] if i in partner_body else [])
        present = np.stack([in_view[b, :length] & ~drop for b in bodies])
        joints = np.where(present[:, :, None, None], np.stack([cam[b, :length] for b in bodies]), np.float32(0.0))
        body_ids = np.where(present, np.arange(1, len(bodies) + 1)[:, None], 0).astype(np.int64)
        lab = int(design["label"][i])
        extra = {
            "dropped_frames": int(drop.sum()),
            "second_person": "none" if len(bodies) == 1 else ("interacting" if interacting[i] else "bystander"),
            "class_name": names[lab],
            "camera_yaw_deg": round(float(np.rad2deg(cam_yaw[i])), 2),
            "camera_distance": round(float(cam_dist[i]), 3),
            "speed": round(float(speed[i]), 3),
            "amplitude": round(float(amp[i]), 3),
            "confuser": names[int(conf[i])],
            "confuser_weight": round(float(weights[i, conf[i]]), 3),
            "difficulty": d,
        }
        subj_id, view = int(design["subject"][i]), int(design["view"][i])
        setup_id, rep = int(design["setup"][i]), int(design["replication"][i])
        out.append(RawSequence(
            sample_id=f"S{setup_id:03d}C{view:03d}P{subj_id:03d}R{rep:03d}A{lab + 1:03d}N{int(n[i]):06d}",
            joints=np.ascontiguousarray(joints),
            present=present,
            label=lab,
            subject=subj_id,
            view=view,
            setup=setup_id,
            replication=rep,
            layout=config.layout,
            source=f"synthetic:seed={config.seed}:sample={int(n[i])}",
            body_ids=body_ids,
            extra=extra,
        ))
    return out


def generate_dataset(config: SyntheticConfig | None = None, **options) -> list[RawSequence]:
    """All ``config.num_samples`` samples (``options`` build the config when none is given)."""
    if config is None:
        config = SyntheticConfig(**options)
    elif options:
        raise TypeError("pass either a SyntheticConfig or keyword options, not both")
    return generate(config, np.arange(config.num_samples))
