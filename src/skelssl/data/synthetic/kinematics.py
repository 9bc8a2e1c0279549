"""The skeleton: rest offsets, degrees of freedom, joint limits, symbolic rotations, forward kinematics."""

from __future__ import annotations

import numpy as np

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
