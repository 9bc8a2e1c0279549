"""Small composable preprocessing steps shared by the named recipes.

Every step is a pure numpy function on *body-major* arrays ``(M, T, V, C)``
(bodies, frames, joints, channels) with a boolean ``present`` mask ``(M, T)``
where a body/frame pair is meaningful; :func:`to_ctvm` turns the result into
the canonical ``(C, T, V, M)`` layout at the very end.

The steps vectorise over frames and joints; where they loop, they loop over a
handful of bodies. Each documents which published reference it reproduces and
where it deliberately differs; ``docs/recipes.md`` puts them together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from skelssl.data.types import RawSequence, SkeletonFileError

__all__ = [
    "BodyTrack",
    "alignment_rotation",
    "angle_between",
    "apply_rotation",
    "centre_on_joint",
    "empty_sequence_error",
    "first_bodies",
    "frames_with_any_body",
    "group_by_body_id",
    "keep_frames",
    "nonzero_frames",
    "nonzero_std_energy",
    "pad_bodies",
    "pad_by_repetition",
    "pad_or_crop",
    "require_frames",
    "resize_frames",
    "rotation_matrix",
    "select_most_confident",
    "select_most_energetic",
    "shoulder_y_rotation",
    "to_ctvm",
    "translate",
]

# 2s-AGCN's rotation helpers treat an axis or vector whose absolute components
# sum below this as zero (no rotation), and an angle below it as no rotation.
AGCN_ZERO_TOL = 1e-6
# CrosSCLR's ``parallel_skeleton`` adds this to the shoulder-vector norm before
# taking arccos, so the rotation never lands exactly on the x axis.
CROSSCLR_NORM_EPS = 1e-4


# --------------------------------------------------------------------------- validity


def empty_sequence_error(seq: RawSequence, problem: str = "no frame holds a body") -> SkeletonFileError:
    """The error every recipe raises for a sequence it cannot produce anything from."""
    return SkeletonFileError(seq.source or seq.sample_id, problem, reason="empty")


def frames_with_any_body(present: np.ndarray) -> np.ndarray:
    """``(T,)`` mask of frames in which at least one body slot is present."""
    return np.asarray(present, dtype=bool).any(axis=0)


def require_frames(seq: RawSequence, frame_mask: np.ndarray, what: str = "no frame holds a body") -> None:
    """Raise the ``empty`` error when ``frame_mask`` selects no frame."""
    if not np.any(frame_mask):
        raise empty_sequence_error(seq, what)


def nonzero_frames(joints: np.ndarray) -> np.ndarray:
    """``(M, T)``: frames of each body with any non-zero coordinate.

    The NTU-era references test ``frame.sum() != 0``; testing every coordinate
    instead only differs for a frame whose coordinates cancel exactly, which a
    real sensor never produces, and is robust for hand-made data.
    """
    return np.any(joints != 0, axis=(2, 3))


# --------------------------------------------------------------------------- bodies


def pad_bodies(joints: np.ndarray, present: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Truncate or zero-pad the body axis to exactly ``m`` bodies."""
    s, t, v, c = joints.shape
    out = np.zeros((m, t, v, c), dtype=np.float64)
    pres = np.zeros((m, t), dtype=bool)
    keep = min(s, m)
    out[:keep] = joints[:keep]
    pres[:keep] = present[:keep]
    return out, pres


def first_bodies(joints: np.ndarray, present: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Slots ``0..m-1`` in file order (ST-GCN's ``read_xyz``), absent pairs zeroed.

    Missing slots (fewer than ``m`` in the file) become absent all-zero bodies.
    """
    present = np.asarray(present, dtype=bool)
    masked = np.where(present[:, :, None, None], joints, 0.0)
    return pad_bodies(masked, present, m)


def nonzero_std_energy(joints: np.ndarray) -> np.ndarray:
    """``(M,)`` motion energy of each body, as 2s-AGCN's ``get_nonzero_std``.

    Over the body's non-zero frames, the population standard deviation of all x
    values (every joint of every such frame pooled), plus the same for y and z.
    A body with no non-zero frame has energy 0.
    """
    m, _, v, _ = joints.shape
    mask = nonzero_frames(joints)[:, :, None, None]
    count = mask.sum(axis=(1, 2, 3)) * v  # samples per channel
    safe = np.maximum(count, 1)[:, None]
    total = np.where(mask, joints, 0.0).sum(axis=(1, 2))  # (M, C)
    mean = total / safe
    dev = np.where(mask, joints - mean[:, None, None, :], 0.0)
    var = (dev**2).sum(axis=(1, 2)) / safe
    energy = np.sqrt(var).sum(axis=1)
    return np.where(count > 0, energy, 0.0)


def select_most_energetic(
    joints: np.ndarray, k: int = 2, *, max_candidates: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` most energetic of the first ``max_candidates`` slots (2s-AGCN ``read_xyz``).

    Returns the selected bodies ``(k, T, V, C)`` (zero bodies appended when
    fewer than ``k`` candidates exist) and their slot indices. 2s-AGCN ranks by
    ``energy.argsort()[::-1]``; numpy sorts four values by insertion sort,
    which is stable, so equal energies come out highest slot first. A stable
    sort reversed reproduces that tie order exactly.
    """
    cand = joints[:max_candidates]
    energy = nonzero_std_energy(cand)
    order = np.argsort(energy, kind="stable")[::-1][:k]
    sel, _ = pad_bodies(cand[order], np.zeros((len(order), joints.shape[1]), dtype=bool), k)
    return sel, order


def select_most_confident(
    joints: np.ndarray,
    present: np.ndarray,
    k: int = 2,
    score_channel: int = -1,
    *,
    max_candidates: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per frame, the ``k`` people with the highest summed joint score (ST-GCN Kinetics feeder).

    ``joints`` is ``(S, T, V, C)`` whose ``score_channel`` holds the OpenPose
    confidence, ``present`` is ``(S, T)``; only the first ``max_candidates``
    slots compete (ST-GCN reads 5; ``None`` = all). Each frame's slots are
    reordered independently, so output body 0 is "the most confident person of
    that frame", not a tracked identity. An absent slot is zeroed and so scores
    0; ties keep slot order (ST-GCN's ``argsort`` of five values is an insertion
    sort, hence stable). Returns ``(k, T, V, C)`` joints in the input dtype and
    the matching ``(k, T)`` mask; missing slots (fewer than ``k``) come out as
    zero, absent bodies.
    """
    present = np.asarray(present, dtype=bool)
    if joints.ndim != 4 or present.shape != joints.shape[:2]:
        raise ValueError(f"expected joints (S, T, V, C) and present (S, T), got {joints.shape} and {present.shape}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if max_candidates is not None:
        joints, present = joints[:max_candidates], present[:max_candidates]
    masked = np.where(present[:, :, None, None], joints, 0).astype(joints.dtype, copy=False)
    score = masked[..., score_channel].sum(axis=2, dtype=np.float64)  # (S, T)
    order = np.argsort(-score, axis=0, kind="stable")[:k]  # (k', T)
    sel = np.take_along_axis(masked, order[:, :, None, None], axis=0)
    pres = np.take_along_axis(present, order, axis=0)
    out, out_present = pad_bodies(sel, pres, k)
    return out.astype(joints.dtype, copy=False), out_present


@dataclass
class BodyTrack:
    """One tracked body: its id, the frames it appears in, and its joints there."""

    body_id: object
    frames: np.ndarray  # (n,) frame indices, increasing
    joints: np.ndarray  # (n, V, C)


def group_by_body_id(joints: np.ndarray, present: np.ndarray, body_ids: np.ndarray | None) -> list[BodyTrack]:
    """Regroup file-order slots into tracks by the sensor's tracking id.

    Tracks come in order of first appearance (frame, then slot), the order in
    which SGN's ``get_raw_bodies_data`` inserts bodyIDs into its dict. Without
    ``body_ids`` every slot is its own track. If an id occupies two slots of
    one frame (malformed), the first slot is used.
    """
    present = np.asarray(present, dtype=bool)
    s, t = present.shape
    ids = np.broadcast_to(np.arange(s)[:, None], (s, t)) if body_ids is None else np.asarray(body_ids)
    # Frame-major order so np.unique's first index is the first appearance.
    seen = ids.T[present.T]
    if seen.size == 0:
        return []
    uniq, first = np.unique(seen, return_index=True)
    tracks = []
    for body_id in uniq[np.argsort(first, kind="stable")]:
        hit = present & (ids == body_id)
        frames = np.flatnonzero(hit.any(axis=0))
        slot = np.argmax(hit[:, frames], axis=0)
        tracks.append(BodyTrack(body_id, frames, np.asarray(joints[slot, frames], dtype=np.float64)))
    return tracks


# --------------------------------------------------------------------------- frames


def keep_frames(joints: np.ndarray, present: np.ndarray, frame_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep the frames selected by ``frame_mask`` (in order), dropping the rest."""
    return joints[:, frame_mask], present[:, frame_mask]


def pad_or_crop(x: np.ndarray, length: int, axis: int = 1) -> np.ndarray:
    """Zero-pad at the end, or keep the first ``length`` entries, along ``axis``."""
    n = x.shape[axis]
    if n >= length:
        return np.take(x, np.arange(length), axis=axis)
    widths = [(0, 0)] * x.ndim
    widths[axis] = (0, length - n)
    return np.pad(x, widths)


def resize_frames(x: np.ndarray, length: int, *, align_corners: bool = False, axis: int = 1) -> np.ndarray:
    """Linear interpolation of ``x`` to ``length`` samples along ``axis``.

    ``align_corners=False`` reproduces ``cv2.resize(..., INTER_LINEAR)`` as
    CrosSCLR uses it: output frame ``i`` samples source position
    ``(i + 0.5) * n / length - 0.5`` clamped to ``[0, n - 1]``, so the first
    and last few output frames repeat the end frames. ``align_corners=True``
    maps the end frames onto each other (``linspace(0, n - 1, length)``).
    A one-frame input is repeated.
    """
    n = x.shape[axis]
    if n == 0:
        raise ValueError("cannot resize an empty sequence")
    if align_corners:
        src = np.linspace(0.0, n - 1.0, length)
    else:
        src = (np.arange(length) + 0.5) * (n / length) - 0.5
    src = np.clip(src, 0.0, n - 1.0)
    lo = np.floor(src).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    w = src - lo
    shape = [1] * x.ndim
    shape[axis] = length
    w = w.reshape(shape)
    return np.take(x, lo, axis=axis) * (1.0 - w) + np.take(x, hi, axis=axis) * w


def pad_by_repetition(person: np.ndarray) -> tuple[np.ndarray, int]:
    """2s-AGCN's null-frame padding for one body ``(T, V, C)``.

    Reproduces ``pre_normalization``'s first loop exactly:

    * only if the *first* frame is empty, the non-empty frames are moved to the
      front (gaps inside a sequence that starts non-empty stay as they are);
    * the empty tail that follows the last non-empty frame ``L - 1`` is filled
      with ``person[0:L]`` repeated (``person[L + i] = person[i % L]``), gaps
      included.

    Returns the padded copy and ``L``, where the repetition starts (``T`` when
    nothing was padded, 0 for an all-empty body, which is returned unchanged).
    """
    person = np.array(person, dtype=np.float64, copy=True)
    t = person.shape[0]
    nz = np.any(person != 0, axis=(1, 2))
    if not nz.any():
        return person, 0
    if not nz[0]:
        compact = person[nz]
        person = np.zeros_like(person)
        person[: len(compact)] = compact
        nz = np.zeros(t, dtype=bool)
        nz[: len(compact)] = True
    tail = int(np.flatnonzero(nz)[-1]) + 1
    if tail < t:
        person[tail:] = person[np.arange(t - tail) % tail]
    return person, tail


# --------------------------------------------------------------------------- translation


def centre_on_joint(joints: np.ndarray, present: np.ndarray, joint: int) -> np.ndarray:
    """Subtract each body's own ``joint`` in every frame; absent pairs stay zero."""
    out = joints - joints[:, :, joint : joint + 1, :]
    return np.where(np.asarray(present, dtype=bool)[:, :, None, None], out, 0.0)


def translate(joints: np.ndarray, origin: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """``(joints - origin) * keep``: move the origin, leaving masked-out entries zero.

    ``origin`` broadcasts against ``(M, T, V, C)`` (a point ``(C,)`` or a
    per-frame point ``(T, 1, C)``); ``keep`` is ``(M, T)`` per frame or
    ``(M, T, V)`` per joint.
    """
    keep = np.asarray(keep, dtype=bool)
    keep = keep[:, :, None, None] if keep.ndim == 2 else keep[..., None]
    return np.where(keep, joints - origin, 0.0)


# --------------------------------------------------------------------------- rotation


def rotation_matrix(axis: np.ndarray, angle: float) -> np.ndarray:
    """Right-handed (counter-clockwise) rotation by ``angle`` radians about ``axis``.

    Rodrigues' formula ``R = cos a I + sin a [k]x + (1 - cos a) k k^T``, the
    same matrix 2s-AGCN's ``rotation_matrix`` builds from a quaternion, with
    its degenerate cases: an axis whose absolute components sum below 1e-6, or
    an angle below 1e-6, gives the identity.
    """
    axis = np.asarray(axis, dtype=np.float64)
    if np.abs(axis).sum() < AGCN_ZERO_TOL or abs(angle) < AGCN_ZERO_TOL:
        return np.eye(3)
    k = axis / np.sqrt(axis @ axis)
    kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.cos(angle) * np.eye(3) + np.sin(angle) * kx + (1.0 - np.cos(angle)) * np.outer(k, k)


def angle_between(v1: np.ndarray, v2: np.ndarray) -> float:
    """Angle in radians between two vectors; 0 if either is (near) zero, as in 2s-AGCN."""
    v1 = np.asarray(v1, dtype=np.float64)
    v2 = np.asarray(v2, dtype=np.float64)
    if np.abs(v1).sum() < AGCN_ZERO_TOL or np.abs(v2).sum() < AGCN_ZERO_TOL:
        return 0.0
    cos = (v1 / np.linalg.norm(v1)) @ (v2 / np.linalg.norm(v2))
    return float(np.arccos(np.clip(cos, -1.0, 1.0)))


def alignment_rotation(vector: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The rotation about ``vector x target`` that turns ``vector`` onto ``target``.

    2s-AGCN's construction; when the two are antiparallel the cross product
    vanishes and, like the reference, the identity comes back.
    """
    return rotation_matrix(np.cross(vector, target), angle_between(vector, target))


def apply_rotation(joints: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """Rotate every joint ``p`` to ``R @ p``; ``R`` is ``(3, 3)`` or per frame ``(..., T, 3, 3)``.

    A zero (absent) joint stays zero, which is why the references' "skip
    empty frames" checks need no mask here.
    """
    rotation = np.asarray(rotation, dtype=np.float64)
    if rotation.ndim == 2:
        return joints @ rotation.T
    return np.einsum("...tij,...tvj->...tvi", rotation, joints)


def shoulder_y_rotation(
    joints: np.ndarray,
    left: int,
    right: int,
    *,
    mode: Literal["reference", "per_frame"] = "reference",
) -> np.ndarray:
    """Rotate each body about the vertical y axis so its shoulder vector ``right - left`` points along +x.

    The rotation for angle ``a`` is ``[[cos a, 0, -sin a], [0, 1, 0], [sin a, 0, cos a]]``
    applied as ``R @ p``, per body and per frame.

    ``mode="reference"`` reproduces CrosSCLR's ``parallel_skeleton``: with
    ``v`` the shoulder vector with its y zeroed, ``a = arccos(v_x / (|v| + 1e-4))``
    and one sign for the whole body sequence, ``a = -a`` when the sum of
    ``v_z`` over all frames is ``>= 0``. Frames whose ``v_z`` has the other sign
    end up at twice their angle instead of on +x, and the 1e-4 leaves a small
    residual angle. ``mode="per_frame"`` puts every frame's vector exactly on +x
    (``a = -atan2(v_z, v_x)``; a zero vector gives no rotation).
    """
    vec = joints[:, :, right, :] - joints[:, :, left, :]  # (M, T, C)
    vx, vz = vec[..., 0], vec[..., 2]
    if mode == "reference":
        norm = np.sqrt(vx**2 + vz**2)
        angle = np.arccos(np.clip(vx / (norm + CROSSCLR_NORM_EPS), -1.0, 1.0))
        sign = np.where(vz.sum(axis=1, keepdims=True) >= 0, -1.0, 1.0)
        angle = sign * angle
    elif mode == "per_frame":
        angle = -np.arctan2(vz, vx)
    else:
        raise ValueError(f"unknown shoulder rotation mode {mode!r}; use 'reference' or 'per_frame'")
    c, s = np.cos(angle), np.sin(angle)
    zero, one = np.zeros_like(c), np.ones_like(c)
    rot = np.stack(
        [np.stack([c, zero, -s], -1), np.stack([zero, one, zero], -1), np.stack([s, zero, c], -1)], -2
    )  # (M, T, 3, 3)
    return apply_rotation(joints, rot)


# --------------------------------------------------------------------------- output


def to_ctvm(joints: np.ndarray) -> np.ndarray:
    """``(M, T, V, C)`` -> canonical ``(C, T, V, M)`` float32."""
    return np.ascontiguousarray(np.transpose(joints, (3, 1, 2, 0)), dtype=np.float32)
