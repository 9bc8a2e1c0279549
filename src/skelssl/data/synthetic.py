"""The built-in synthetic skeleton action dataset.

A procedural generator of Kinect-like 3D skeleton sequences, used as the
library's embedded default (``skelssl run`` pretrains on it) and by the tests.
See ``docs/synthetic.md`` for the full description; in short:

* **Kinematics.** One 25-joint (Kinect v2 / NTU) skeleton driven by forward
  kinematics: every bone has a rest offset scaled by the subject's body
  proportions and a local rotation built from joint-angle trajectories
  (trunk bend/twist, shoulder elevation/plane/rotation, elbow, wrist, hip,
  knee, ankle), so bone lengths are exactly constant before sensor noise.
  The feet are kept on the floor (the lowest foot joint sets the pelvis
  height) and the stance foot is anchored (no sliding). The ``kinect20``
  layout takes 20 of the same joints (:data:`KINECT20_FROM_NTU25`), so a
  ``kinect20`` sample is exactly the ``ntu25`` sample with the hand tips,
  thumbs and the neck joint left out.
* **Classes.** Up to 15 actions made of distinct body-part motions
  (:data:`CLASS_NAMES`); ``num_classes`` takes the first K.
* **Variation.** Per subject (20 virtual subjects): bone-length scales,
  posture, preferred speed and amplitude. Per sample: speed, amplitude,
  phase, onset/offset, idle fidgeting, camera yaw/pitch/distance/height,
  sequence length, sensor noise, tracking glitches, dropped frames and an
  optional second person (interacting partner or bystander).
* **Coordinates.** Camera space like the Kinect SDK: metres, y up, z the
  depth from the sensor (the actor stands about 2-4 m away).
* **Dropped frames** are *missing*: ``present`` False and zeros, for every
  body of that frame (the sensor lost the whole frame); their number is in
  ``extra["dropped_frames"]``.
* **Determinism.** Every random number is a counter-based hash of
  ``(seed, stream, sample index, ...)``, so a sample depends only on the seed,
  the options and its index: not on how samples are grouped into chunks or
  how many workers generate them.

``difficulty`` (0..1, default 0.5) is the one knob for how hard the task is.
It scales together (full table in ``docs/synthetic.md``):

* subject spread: height (sd 6 %) and segment lengths (sd 5 %), standing
  posture, preferred speed and amplitude, all x (0.5 + difficulty);
* per-sample style: speed x/÷ (1 + 1.2 d), amplitude 1 - 0.7 d .. 1 + 0.2 d,
  idle time before/after the action, and how the action is performed (arm
  height, plane, kick direction, punch or hook ...);
* idle fidgeting (head turns, arm drift, weight shifts);
* camera yaw jitter +-(5 + 15 d) deg around each camera's centre and body
  yaw +-30 d deg;
* sensor noise sigma = 3 mm + 17 mm x d per coordinate (x1.5 at hands, feet
  and head) and single-frame extremity glitches (6 cm);
* confusability: each sample also performs its class's *confuser* motion
  (one-hand wave -> two-hand wave, squat <-> bow, punch <-> clap, ...) at up
  to min(0.85, 1.5 d) of its own amplitude, and a random third motion at up
  to min(0.6, 0.9 d). Both are scaled below the labelled motion's own
  amplitude, so harder never means mislabelled.

Calibration (10 classes, 2000 samples, mean over seeds 0, 1, 2; chance 10 %).
Features: the actor's present frames resampled to 16, centred on the first
frame's spine base, flattened (1200 numbers). "Ridge" is a least-squares
linear classifier on standardised features; "1D-CNN" a 3-layer temporal
convolution net trained with random-yaw augmentation (seed 0 only; range
over checkpoints at epochs 20/40/60), to show the headroom a learned
representation has::

                     xsub                            xview
    difficulty   centroid  ridge  1D-CNN        centroid  ridge
    0.2          88 %      98 %   90-100 %      73 %      93 %
    0.5          62 %      67 %   85-87 %       46 %      59 %
    0.8          45 %      44 %   67-69 %       36 %      39 %

So at the default a linear classifier on raw coordinates is far above
chance yet far from solved, leaving room for representation learning.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Iterable

import numpy as np

from skelssl.data.types import RawSequence

__all__ = [
    "CLASS_NAMES",
    "MAX_CLASSES",
    "FPS",
    "KINECT20_FROM_NTU25",
    "VIEW_YAW_DEG",
    "SyntheticConfig",
    "class_names",
    "sample_design",
    "xsub_train_subjects",
    "generate",
    "generate_dataset",
]

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


# --------------------------------------------------------------------------- random numbers
#
# Counter-based: a uniform is a splitmix64 hash of (seed, stream, indices...),
# so any sample can be generated alone, in any batch, bit-identically.

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)


def _mix(z: np.ndarray) -> np.ndarray:
    z = z + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MUL1
    z = (z ^ (z >> np.uint64(27))) * _MUL2
    return z ^ (z >> np.uint64(31))


class _Hash:
    def __init__(self, seed: int) -> None:
        self.seed = int(seed)

    def bits(self, stream: int, *idx) -> np.ndarray:
        with np.errstate(over="ignore"):
            z = _mix(np.array([(self.seed * 0x100000001B3 + stream) & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64))
            for i in idx:
                z = _mix(z ^ np.asarray(i, dtype=np.uint64))
        return z

    def uniform(self, stream: int, *idx) -> np.ndarray:
        """Uniform in [0, 1), shaped as the broadcast of the index arrays."""
        return (self.bits(stream, *idx) >> np.uint64(11)).astype(np.float64) * 2.0**-53

    def normal(self, stream: int, *idx) -> np.ndarray:
        # Box-Muller from the two 32-bit halves of one hash; 32 bits is plenty for noise.
        # float32 halves the cost of the per-joint sensor noise, the biggest array drawn.
        z = self.bits(stream, *idx)
        u1 = ((z >> np.uint64(40)).astype(np.float32) + np.float32(1.0)) * np.float32(2.0**-24)
        u2 = (z & np.uint64(0xFFFFFF)).astype(np.float32) * np.float32(2.0 * np.pi * 2.0**-24)
        return np.sqrt(np.float32(-2.0) * np.log(u1)) * np.cos(u2)


# Stream ids: one per kind of random quantity, so adding a draw never shifts another.
_S_SUBJECT, _S_SAMPLE, _S_BODY, _S_IDLE, _S_NOISE, _S_GLITCH, _S_GLITCH_SIZE, _S_DROP = range(1, 9)


# --------------------------------------------------------------------------- skeleton

_NTU_PARENT = {
    1: 0, 20: 1, 2: 20, 3: 2,
    4: 20, 5: 4, 6: 5, 7: 6, 21: 7, 22: 7,
    8: 20, 9: 8, 10: 9, 11: 10, 23: 11, 24: 11,
    12: 0, 13: 12, 14: 13, 15: 14,
    16: 0, 17: 16, 18: 17, 19: 18,
}
# Kinematic order: parents before children.
_FK_ORDER = (1, 20, 2, 3, 4, 5, 6, 7, 21, 22, 8, 9, 10, 11, 23, 24, 12, 13, 14, 15, 16, 17, 18, 19)


def _unit(*v: float) -> np.ndarray:
    a = np.asarray(v, dtype=np.float64)
    return a / np.linalg.norm(a)


# Rest pose (body frame: x = the body's left, y = up, z = forward), arms
# hanging, for a 1.75 m adult: (direction, length in m, proportion group).
_GROUPS = ("trunk", "head", "shoulder", "arm", "hand", "hip", "leg", "foot")
_REST = {
    1: (_unit(0, 1, 0), 0.27, "trunk"),
    20: (_unit(0, 1, 0), 0.22, "trunk"),
    2: (_unit(0, 1, 0.05), 0.07, "head"),
    3: (_unit(0, 1, 0.1), 0.15, "head"),
    4: (_unit(1, -0.2, 0), 0.17, "shoulder"),
    5: (_unit(0, -1, 0), 0.28, "arm"),
    6: (_unit(0, -1, 0), 0.25, "arm"),
    7: (_unit(0, -1, 0), 0.08, "hand"),
    21: (_unit(0, -1, 0.05), 0.07, "hand"),
    22: (_unit(-0.1, -0.6, 0.8), 0.05, "hand"),
    12: (_unit(1, -0.4, 0), 0.09, "hip"),
    13: (_unit(0, -1, 0), 0.42, "leg"),
    14: (_unit(0, -1, 0), 0.40, "leg"),
    15: (_unit(0, -0.3, 1), 0.13, "foot"),
}
_MIRROR_OF = {8: 4, 9: 5, 10: 6, 11: 7, 23: 21, 24: 22, 16: 12, 17: 13, 18: 14, 19: 15}
_MIRROR = np.array([-1.0, 1.0, 1.0])


def _rest_offsets() -> tuple[np.ndarray, np.ndarray]:
    """Unit rest directions (25, 3) and base lengths (25,), right side mirrored from the left."""
    dirs = np.zeros((25, 3))
    lengths = np.zeros(25)
    groups = np.zeros(25, dtype=np.int64)
    for j in _FK_ORDER:
        src = _MIRROR_OF.get(j, j)
        d, length, g = _REST[src]
        dirs[j] = d * _MIRROR if j in _MIRROR_OF else d
        lengths[j] = length
        groups[j] = _GROUPS.index(g)
    return dirs, lengths, groups


_REST_DIRS, _REST_LENGTHS, _REST_GROUPS = _rest_offsets()

# Degrees of freedom driven by the motions. Angles in degrees; root_tx/tz/lift in metres.
# Limb angles are defined for the left side and mirrored for the right (so the same
# numbers mean the same anatomical movement on either side).
_LIMB_DOFS = ("clav", "sh_el", "sh_az", "sh_rot", "elbow", "wrist", "hip_flex", "hip_abd", "hip_rot", "knee", "ankle")
DOF_NAMES: tuple[str, ...] = (
    "root_yaw", "root_tilt", "root_lean", "root_tx", "root_tz", "root_lift",
    "lumbar_bend", "lumbar_side", "lumbar_twist", "thorax_bend", "thorax_side", "thorax_twist",
    "neck_nod", "neck_turn",
) + tuple(f"{s}_{d}" for s in "lr" for d in _LIMB_DOFS)
_DOF = {name: i for i, name in enumerate(DOF_NAMES)}
# Left-right mirroring negates these (rotations about y or z, and lateral translation).
_LATERAL = frozenset(("root_yaw", "root_lean", "root_tx", "lumbar_side", "lumbar_twist", "thorax_side",
                      "thorax_twist", "neck_turn"))

# Relaxed standing posture: arms hang slightly away from the body, elbows and knees soft.
_NEUTRAL = {f"{s}_{d}": v for s in "lr" for d, v in
            (("sh_el", 8.0), ("sh_az", 20.0), ("elbow", 12.0), ("hip_flex", 2.0), ("knee", 4.0))}

# Idle fidgeting amplitude (degrees, or metres) per DOF at difficulty 1: weight
# shifts, looking around, arms drifting. Drawn as two slow sinusoids per DOF.
_IDLE = {"root_lean": 4.0, "root_tilt": 4.0, "root_yaw": 10.0, "lumbar_bend": 8.0, "lumbar_side": 6.0,
         "thorax_twist": 10.0, "neck_nod": 16.0, "neck_turn": 24.0, "root_tx": 0.04, "root_tz": 0.04}
_IDLE.update({f"{s}_{d}": v for s in "lr" for d, v in
              (("sh_el", 16.0), ("sh_az", 24.0), ("sh_rot", 20.0), ("elbow", 24.0), ("wrist", 20.0),
               ("hip_flex", 6.0), ("knee", 8.0), ("clav", 6.0))})

# Range of motion (degrees).
_LIMITS = {"root_tilt": (-20.0, 60.0), "lumbar_bend": (-25.0, 55.0), "thorax_bend": (-20.0, 35.0),
           "neck_nod": (-40.0, 50.0), "neck_turn": (-70.0, 70.0)}
_LIMITS.update({f"{s}_{d}": r for s in "lr" for d, r in
                (("sh_el", (-60.0, 178.0)), ("elbow", (0.0, 145.0)), ("wrist", (-60.0, 60.0)),
                 ("hip_flex", (-25.0, 120.0)), ("hip_abd", (-20.0, 45.0)), ("knee", (0.0, 130.0)),
                 ("ankle", (-45.0, 30.0)), ("clav", (-10.0, 30.0)))})


def _rx(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def _mm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # Written out (not einsum/matmul) so each element is computed the same way in any
    # batch size: samples stay bit-identical however they are chunked.
    return (a[..., :, 0, None] * b[..., None, 0, :] + a[..., :, 1, None] * b[..., None, 1, :]
            + a[..., :, 2, None] * b[..., None, 2, :])


def _mv(a: np.ndarray, v: np.ndarray) -> np.ndarray:
    return a[..., :, 0] * v[..., None, 0] + a[..., :, 1] * v[..., None, 1] + a[..., :, 2] * v[..., None, 2]


# Local rotations are kept as 3x3 nested lists whose entries are arrays or the
# exact floats 0.0 / 1.0, so composing elementary rotations skips the zero
# terms: a joint's rotation costs a handful of multiplications, not 3x3 products.
_Sym = list


def _srot(axis: str, a: np.ndarray) -> _Sym:
    c, s = np.cos(a), np.sin(a)
    if axis == "x":
        return [[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]]
    if axis == "y":
        return [[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]]
    return [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]


def _smul(x, y):
    if isinstance(x, float):
        return 0.0 if x == 0.0 else (y if x == 1.0 else x * y)
    if isinstance(y, float):
        return 0.0 if y == 0.0 else x * y if y != 1.0 else x
    return x * y


def _sadd(x, y):
    if isinstance(x, float) and x == 0.0:
        return y
    if isinstance(y, float) and y == 0.0:
        return x
    return x + y


def _schain(*mats: _Sym) -> _Sym:
    out = mats[0]
    for m in mats[1:]:
        out = [[_sadd(_sadd(_smul(out[i][0], m[0][k]), _smul(out[i][1], m[1][k])), _smul(out[i][2], m[2][k]))
                for k in range(3)] for i in range(3)]
    return out


def _smirror(m: _Sym) -> _Sym:
    # diag(-1,1,1) @ R @ diag(-1,1,1): negate the entries that mix x with y or z.
    def neg(x):
        return x if isinstance(x, float) and x == 0.0 else -x

    return [[m[0][0], neg(m[0][1]), neg(m[0][2])], [neg(m[1][0]), m[1][1], m[1][2]],
            [neg(m[2][0]), m[2][1], m[2][2]]]


def _sdense(m: _Sym, shape: tuple[int, ...], dtype) -> np.ndarray:
    return np.stack([np.stack([np.broadcast_to(np.asarray(x, dtype=dtype), shape) for x in row], -1)
                     for row in m], -2)


def _dense_times_sym(f: np.ndarray, m: _Sym) -> np.ndarray:
    """``f @ m`` for a dense (..., 3, 3) frame and a sparse local rotation."""
    cols = []
    for k in range(3):
        col = 0.0
        for j in range(3):
            e = m[j][k]
            if isinstance(e, float):
                if e != 0.0:
                    col = _sadd(col, f[..., :, j] * e)
            else:
                col = _sadd(col, f[..., :, j] * e[..., None])
        cols.append(col)
    return np.stack(cols, -1)


def _local_rotations(r: np.ndarray) -> dict[int, _Sym]:
    """Local rotation of each bone (indexed by its child joint) from the DOF angles in radians (B, T, D)."""
    def g(name: str) -> np.ndarray:
        return r[..., _DOF[name]]

    rot = {
        1: _schain(_srot("y", g("lumbar_twist")), _srot("x", g("lumbar_bend")), _srot("z", -g("lumbar_side"))),
        20: _schain(_srot("y", g("thorax_twist")), _srot("x", g("thorax_bend")), _srot("z", -g("thorax_side"))),
        # The head nods at the neck joint only, so spine_shoulder -> head stays rigid
        # (the kinect20 head bone then keeps its length too).
        2: _schain(_srot("y", g("neck_turn")), _srot("x", g("neck_nod"))),
    }
    for side, (clav, upper, fore, hand, thigh, shank, foot) in (
        ("l", (4, 5, 6, 7, 13, 14, 15)), ("r", (8, 9, 10, 11, 17, 18, 19)),
    ):
        def s(name: str) -> np.ndarray:
            return g(f"{side}_{name}")

        local = {
            clav: _srot("z", s("clav")),
            # Shoulder: elevate in the plane at azimuth sh_az (0 = sideways, 90 = forward).
            # The twist cancels the plane rotation (plus sh_rot, the humeral rotation) so the
            # elbow keeps bending forward/up whatever the plane, as a real elbow does.
            upper: _schain(_srot("y", -s("sh_az")), _srot("z", s("sh_el")), _srot("y", s("sh_az") + s("sh_rot"))),
            fore: _srot("x", -s("elbow")),
            hand: _srot("x", -s("wrist")),
            thigh: _schain(_srot("y", s("hip_rot")), _srot("z", s("hip_abd")), _srot("x", -s("hip_flex"))),
            shank: _srot("x", s("knee")),
            foot: _srot("x", -s("ankle")),
        }
        if side == "r":
            # Right limbs are the mirror image of the left ones.
            local = {j: _smirror(m) for j, m in local.items()}
        rot.update(local)
    return rot


def _forward_kinematics(rad: np.ndarray, root_frame: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Joint positions (B, T, 25, 3) relative to the root.

    ``rad`` are the DOF angles (B, T, D) in radians, ``root_frame`` the pelvis
    orientation (B, T, 3, 3), ``offsets`` the subject's rest bone vectors (B, 25, 3).
    A bone's local rotation orients it in its parent's frame and is inherited by its children.
    """
    local = _local_rotations(rad)
    b, t = rad.shape[:2]
    pos = np.zeros((b, t, 25, 3), dtype=rad.dtype)
    frames = {0: root_frame}
    for j in _FK_ORDER:
        p = _NTU_PARENT[j]
        fj = _dense_times_sym(frames[p], local[j]) if j in local else frames[p]
        frames[j] = fj
        pos[:, :, j] = pos[:, :, p] + _mv(fj, offsets[:, None, j, :])
    return pos


# --------------------------------------------------------------------------- motions


@dataclass
class _Ctx:
    t: np.ndarray  # (B, T) seconds since the action's onset
    dur: np.ndarray  # (B, 1) active duration in seconds
    env: np.ndarray  # (B, T) 0..1 activity envelope (smooth on/off)
    speed: np.ndarray  # (B, 1)
    phase: np.ndarray  # (B, 1) radians
    style: np.ndarray  # (B, 8) uniforms choosing how this sample performs its action
    variety: float  # 0..1, scales the style variation (the difficulty)

    def osc(self, hz: float, shift: float = 0.0) -> np.ndarray:
        return np.sin(2.0 * np.pi * hz * self.speed * self.t + self.phase + shift)

    def reps(self, period: float) -> np.ndarray:
        """Position 0..1 within the current repetition; a whole number of repetitions fills the action."""
        n = np.maximum(1.0, np.round(self.dur * self.speed / period))
        u = np.clip(self.t / self.dur, 0.0, 1.0) * n
        return np.where(u >= n, 0.0, u - np.floor(u))

    def vary(self, k: int, spread: float) -> np.ndarray:
        """A per-sample offset in +-spread x variety (B, 1): one performer's way of doing the action."""
        return spread * self.variety * (2.0 * self.style[:, k : k + 1] - 1.0)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _pulse(x: np.ndarray, duty: float = 1.0) -> np.ndarray:
    """A sin^2 bump over the first ``duty`` of the repetition, zero after."""
    return np.sin(np.pi * np.clip(x / duty, 0.0, 1.0)) ** 2


def _hold(x: np.ndarray) -> np.ndarray:
    """A bump that rises, holds at 1 through the middle, and falls."""
    return _smoothstep(1.5 * np.sin(np.pi * x))


Motion = dict[str, np.ndarray]

# Each motion returns offsets from the neutral posture for the DOFs it moves (right-
# handed versions; left-handed classes are mirror images). ``c.vary`` adds the
# per-sample style: how high, how wide, in which plane.


def _wave_right(c: _Ctx) -> Motion:
    e, o = c.env, c.osc(2.0) * c.env
    # Upper arm out to the side, humerus rotated so the forearm points up; waving
    # swings the forearm side to side about the elbow.
    return {"r_sh_el": e * (85.0 + c.vary(0, 25.0)), "r_sh_az": e * (5.0 + c.vary(1, 35.0)),
            "r_sh_rot": e * 85.0, "r_elbow": e * (75.0 + c.vary(2, 25.0)) + (30.0 + c.vary(3, 12.0)) * o,
            "r_wrist": 15.0 * o, "thorax_side": -3.0 * e, "l_sh_el": e * c.vary(4, 20.0)}


def _wave_both(c: _Ctx) -> Motion:
    e, o = c.env, c.osc(1.8) * c.env
    out: Motion = {}
    for s in "lr":
        out.update({f"{s}_sh_el": e * (110.0 + c.vary(0, 30.0)), f"{s}_sh_az": e * (c.vary(1, 30.0) - 5.0),
                    f"{s}_sh_rot": e * 80.0, f"{s}_elbow": e * (55.0 + c.vary(2, 30.0)) + 28.0 * o,
                    f"{s}_wrist": 12.0 * o})
    return out


def _kick_right(c: _Ctx) -> Motion:
    x = c.reps(1.5)
    s1 = np.sin(np.pi * np.clip(x / 0.7, 0.0, 1.0))
    p = s1**2
    # The knee chambers first and extends at the top of the hip swing.
    return {"r_hip_flex": (75.0 + c.vary(0, 20.0)) * p, "r_hip_abd": c.vary(1, 25.0) * p,
            "r_knee": 85.0 * p * (1.0 - s1**6), "r_ankle": -20.0 * p, "l_knee": 10.0 * p,
            "l_sh_el": (30.0 + c.vary(2, 25.0)) * p, "r_sh_el": (20.0 + c.vary(3, 20.0)) * p,
            "lumbar_bend": (c.vary(4, 10.0) - 8.0) * p}


def _squat(c: _Ctx) -> Motion:
    d = _pulse(c.reps(2.4))
    out: Motion = {"lumbar_bend": (22.0 + c.vary(0, 12.0)) * d, "thorax_bend": 6.0 * d}
    arms = 75.0 + c.vary(1, 55.0)  # arms out front for balance, or kept low
    for s in "lr":
        out.update({f"{s}_hip_flex": 100.0 * d, f"{s}_knee": 115.0 * d, f"{s}_ankle": 28.0 * d,
                    f"{s}_sh_el": arms * d, f"{s}_sh_az": (70.0 + c.vary(2, 20.0)) * d})
    return out


def _jump(c: _Ctx) -> Motion:
    x = c.reps(1.2)
    crouch = _pulse(x, 0.35)
    flight = np.sin(np.pi * np.clip((x - 0.35) / 0.3, 0.0, 1.0))
    land = np.sin(np.pi * np.clip((x - 0.65) / 0.3, 0.0, 1.0)) ** 2
    bend = crouch + land
    swing = 100.0 + c.vary(0, 60.0)
    out: Motion = {"root_lift": (0.25 + c.vary(1, 0.08)) * flight, "lumbar_bend": 15.0 * bend}
    for s in "lr":
        # Arms swing back in the crouch and up through the take-off.
        out.update({f"{s}_hip_flex": 50.0 * bend, f"{s}_knee": 70.0 * bend, f"{s}_ankle": 22.0 * bend - 20.0 * flight,
                    f"{s}_sh_el": swing * flight - 30.0 * crouch,
                    f"{s}_sh_az": (70.0 + c.vary(2, 30.0)) * np.clip(bend + flight, 0, 1)})
    return out


def _punch_right(c: _Ctx) -> Motion:
    e = c.env
    p = _pulse(c.reps(0.8), 0.45)
    out: Motion = {"thorax_twist": 18.0 * p}
    guard = 40.0 + c.vary(0, 20.0)
    for s in "lr":
        # Boxing guard: fists in front of the chin.
        out.update({f"{s}_sh_el": guard * e, f"{s}_sh_az": 55.0 * e, f"{s}_elbow": 110.0 * e,
                    f"{s}_sh_rot": -20.0 * e})
    # Straight punches, or hooks (wider plane, bent elbow) for some performers.
    out["r_sh_el"] = out["r_sh_el"] + (45.0 + c.vary(1, 20.0)) * p
    out["r_sh_az"] = out["r_sh_az"] + (15.0 + c.vary(2, 35.0)) * p
    out["r_elbow"] = out["r_elbow"] - (105.0 + c.vary(3, 15.0) - 5.0 * c.variety) * p
    return out


def _bow(c: _Ctx) -> Motion:
    d = _hold(c.reps(3.0))
    tilt = 30.0 + c.vary(0, 15.0)
    out: Motion = {"root_tilt": tilt * d, "lumbar_bend": (25.0 + c.vary(1, 12.0)) * d, "thorax_bend": 15.0 * d,
                   "neck_nod": 20.0 * d}
    for s in "lr":
        # Hips flex as much as the pelvis tilts (legs stay vertical); arms hang or stay at the sides.
        out.update({f"{s}_hip_flex": tilt * d, f"{s}_knee": 5.0 * d, f"{s}_sh_el": (55.0 + c.vary(2, 35.0)) * d,
                    f"{s}_sh_az": 70.0 * d})
    return out


def _raise_arms(c: _Ctx) -> Motion:
    d = _hold(c.reps(3.2))
    out: Motion = {"thorax_bend": -5.0 * d}
    plane = c.vary(0, 60.0)  # through the side, or more to the front
    for s in "lr":
        out.update({f"{s}_sh_el": (150.0 + c.vary(1, 25.0)) * d, f"{s}_sh_az": (plane - 10.0) * d,
                    f"{s}_elbow": (c.vary(2, 20.0) - 5.0) * d, f"{s}_clav": 12.0 * d})
    return out


def _clap(c: _Ctx) -> Motion:
    e = c.env
    o = c.osc(2.2)
    o = np.sign(o) * np.abs(o) ** 0.5 * e  # quick closing, brief contact
    height = 62.0 + c.vary(0, 30.0)
    out: Motion = {}
    for s in "lr":
        out.update({f"{s}_sh_el": height * e, f"{s}_sh_az": 68.0 * e + 16.0 * o,
                    f"{s}_elbow": (25.0 + c.vary(1, 20.0)) * e + 8.0 * o, f"{s}_sh_rot": -15.0 * e})
    return out


def _side_step(c: _Ctx) -> Motion:
    e = c.env
    w = 2.0 * np.pi * 0.6 * c.speed * c.t + c.phase
    vel = np.cos(w)
    arms = 10.0 + c.vary(0, 20.0)
    return {"root_tx": (0.22 + c.vary(1, 0.1)) * np.sin(w) * e,
            # The leading leg opens in the direction of travel.
            "l_hip_abd": 14.0 * np.maximum(0.0, vel) * e, "r_hip_abd": 14.0 * np.maximum(0.0, -vel) * e,
            "l_knee": 12.0 * np.abs(vel) * e, "r_knee": 12.0 * np.abs(vel) * e,
            "l_sh_el": arms * np.abs(vel) * e, "r_sh_el": arms * np.abs(vel) * e}


def _walk_in_place(c: _Ctx) -> Motion:
    e = c.env
    w = 2.0 * np.pi * 0.9 * c.speed * c.t + c.phase
    sl, sr = np.maximum(0.0, np.sin(w)) * e, np.maximum(0.0, -np.sin(w)) * e
    swing = np.sin(w) * e * (22.0 + c.vary(0, 15.0))
    lift = 40.0 + c.vary(1, 15.0)
    return {"l_hip_flex": lift * sl, "l_knee": 70.0 * sl, "l_ankle": -10.0 * sl,
            "r_hip_flex": lift * sr, "r_knee": 70.0 * sr, "r_ankle": -10.0 * sr,
            # Arms swing against the legs.
            "l_sh_el": -swing, "r_sh_el": swing, "l_sh_az": 70.0 * e, "r_sh_az": 70.0 * e,
            "l_elbow": (20.0 + c.vary(2, 20.0)) * e, "r_elbow": (20.0 + c.vary(2, 20.0)) * e,
            "root_lean": 3.0 * np.sin(w) * e}


def _turn_around(c: _Ctx) -> Motion:
    d = _hold(np.clip(c.t / c.dur, 0.0, 1.0))
    direction = np.where(c.style[:, 7:8] < 0.5, -1.0, 1.0)
    out = {k: 0.6 * v for k, v in _walk_in_place(c).items()}
    out["root_yaw"] = direction * (150.0 + c.vary(3, 50.0)) * d
    out["neck_turn"] = direction * 15.0 * np.sin(np.pi * np.clip(c.t / c.dur, 0.0, 1.0))
    return out


def _mirrored(fn: Callable[[_Ctx], Motion]) -> Callable[[_Ctx], Motion]:
    def mirrored(c: _Ctx) -> Motion:
        out: Motion = {}
        for name, v in fn(c).items():
            if name[:2] in ("l_", "r_"):
                name = ("r_" if name[0] == "l" else "l_") + name[2:]
            out[name] = -v if name in _LATERAL else v
        return out

    return mirrored


# (motion, confusers in order of preference): a sample mixes in the first confuser
# that is one of the K classes in use, so confusion stays between real classes.
_MOTIONS: tuple[tuple[Callable[[_Ctx], Motion], tuple[int, ...]], ...] = (
    (_wave_right, (1,)),
    (_wave_both, (7,)),
    (_kick_right, (10, 9)),
    (_squat, (6,)),
    (_jump, (3,)),
    (_punch_right, (8,)),
    (_bow, (3,)),
    (_raise_arms, (1,)),
    (_clap, (5,)),
    (_side_step, (10, 2)),
    (_walk_in_place, (9,)),
    (_turn_around, (10, 9)),
    (_mirrored(_wave_right), (1,)),
    (_mirrored(_kick_right), (10, 2)),
    (_mirrored(_punch_right), (8,)),
)
assert len(_MOTIONS) == MAX_CLASSES


def _confuser(label: int, num_classes: int) -> int:
    for c in _MOTIONS[label][1]:
        if c < num_classes:
            return c
    return (label + 1) % num_classes


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
    weights[rows[actor], label[actor]] += amp[actor]
    conf = np.array([_confuser(int(c), k) for c in range(k)])[label]
    # Relative to the sample's own amplitude and capped below it, so the labelled motion
    # always dominates: the task gets harder, never ambiguous by construction.
    weights[rows[actor], conf[actor]] += amp[actor] * min(0.85, 1.5 * d) * bu(10)[actor]
    # The distractor is any motion other than the label and its confuser.
    distract = np.floor(bu(11) * (len(_MOTIONS) - 2)).astype(np.int64)
    first, second = np.minimum(label, conf), np.maximum(label, conf)
    distract += distract >= first
    distract += distract >= second
    weights[rows[actor], distract[actor]] += amp[actor] * min(0.6, 0.9 * d) * bu(12)[actor]
    # A second person does some other action, less expressively.
    other = np.floor(bu(13) * (len(_MOTIONS) - 1)).astype(np.int64)
    weights[rows[~actor], other[~actor]] += 0.3 + 0.4 * bu(14)[~actor]

    dof = np.zeros((nb, t_max, len(DOF_NAMES)))
    for name, v in _NEUTRAL.items():
        dof[..., _DOF[name]] += v
    dof += subj["posture"][:, None, :]
    for m, (fn, _) in enumerate(_MOTIONS):
        w = weights[:, m]
        if not w.any():
            continue
        for name, v in fn(ctx).items():
            dof[..., _DOF[name]] += w[:, None] * np.broadcast_to(v, (nb, t_max))
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

    # ---- kinematics in the world frame (floor y = 0, actor at the origin facing +z)
    yaw_world = np.where(slot == 0, body_yaw[owner], 0.0)
    side = np.where(bu(15) < 0.5, -1.0, 1.0)
    inter_b = interacting[owner]
    partner_yaw = np.where(inter_b, -side * np.pi / 2 + np.deg2rad(20.0) * (2 * bu(16) - 1),
                           np.deg2rad(90.0) * (2 * bu(16) - 1))
    yaw_world = np.where(slot == 1, partner_yaw, yaw_world)
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
    place_x = np.where(inter_b, side * (0.9 + 0.4 * bu(17)), side * (1.3 + 0.9 * bu(17)))
    place_z = np.where(inter_b, 0.6 * bu(18) - 0.3, -0.3 - 1.5 * bu(18))
    place_x = np.where(slot == 1, place_x, 0.0)[:, None]
    place_z = np.where(slot == 1, place_z, 0.0)[:, None]
    root = np.stack([place_x + cy * tx + sy * tz - anchor[..., 0], root_y,
                     place_z - sy * tx + cy * tz - anchor[..., 2]], -1)
    world = pos + root[:, :, None, :]

    # ---- virtual camera (Kinect camera space: y up, z = depth)
    vy = cam_yaw[owner]
    cvy, svy = np.cos(vy), np.sin(vy)
    cd, sh, ch = cam_dist[owner], cam_shift[owner], cam_height[owner]
    cam_pos = np.stack([cd * svy + sh * cvy, ch, cd * cvy - sh * svy], -1)
    zeros, ones = np.zeros_like(vy), np.ones_like(vy)
    # Rows are the camera axes in world coordinates; the camera looks at the actor.
    axes = np.stack([np.stack([-cvy, zeros, svy], -1), np.stack([zeros, ones, zeros], -1),
                     np.stack([-svy, zeros, -cvy], -1)], -2)
    cam_rot = _mm(_rx(-cam_pitch[owner]), axes)
    cam = _mv(cam_rot[:, None, None], world - cam_pos[:, None, None, :])

    # ---- sensor: noise, glitches (extremities), dropped frames
    t_i = np.arange(t_max, dtype=np.uint64)
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
