"""The NTU RGB+D ``.skeleton`` file format: the vectorised parser, the writer and sample names.

The file layout and the conventions of the parsed arrays are described in
:mod:`skelssl.data.readers.ntu`, whose readers use these functions (and which
re-exports the public ones).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

import numpy as np

from skelssl.data.files import UTF8_BOM, read_file_bytes
from skelssl.data.types import SkeletonFileError

__all__ = [
    "NUM_JOINTS",
    "MAX_BODIES",
    "BODY_FIELDS",
    "JOINT_FIELDS",
    "parse_sample_name",
    "parse_ntu_skeleton",
    "read_ntu_skeleton",
    "write_ntu_skeleton",
]

NUM_JOINTS = 25
MAX_BODIES = 4
BODY_FIELDS = 10
JOINT_FIELDS = 12

_NAME = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")


def parse_sample_name(name: str) -> tuple[int, int, int, int, int] | None:
    """``(setup, camera, performer, replication, action)`` of ``SsssCcccPpppRrrrAaaa``, else None."""
    match = _NAME.fullmatch(name)
    return tuple(int(g) for g in match.groups()) if match else None  # type: ignore[return-value]


# ---------------------------------------------------------------------------
# Parsing


# Bytes allowed anywhere in a file: digits, signs, the decimal point, exponent
# markers, whitespace, and the letters of nan/inf/infinity (in any case), which
# float() accepts and which .NET writes for undefined values.
_ALLOWED_BYTES = b"0123456789+-.eE \t\r\nnaiftyNAIFTY"
_ALLOWED = np.zeros(256, dtype=bool)
_ALLOWED[np.frombuffer(_ALLOWED_BYTES, dtype=np.uint8)] = True
_WHITESPACE = b" \t\r\n"
# 10**k is exact in float64 for k <= 22, so dividing an exact integer by it is
# correctly rounded, i.e. gives the same double as float(token).
_POW10 = 10.0 ** np.arange(23)
# Characters per row of the batch number parser (a token plus its separator);
# 15 columns keep every integer it forms below 10**15 < 2**53.
_WIDTH = 15
_POW4 = 4.0 ** np.arange(_WIDTH + 1)
# Code sum of a row whose first k columns are all digits, indexed by W - k.
_ALL_DIGITS = (_POW4[_WIDTH] - _POW4) / 3.0
# Per character: (digit value, class code), codes digit 1, dot 3, anything else 0.
_CHAR_TABLE = np.zeros((256, 2))
_CHAR_TABLE[48:58, 0] = np.arange(10)
_CHAR_TABLE[48:58, 1] = 1
_CHAR_TABLE[46, 1] = 3
# Rows are gathered 16 bytes at a time (one memcpy each); the 16th column gets
# zero weight.
_ROW_BYTES = 16
_CHAR_WEIGHTS = np.zeros((2 * _ROW_BYTES, 2))
_CHAR_WEIGHTS[0 : 2 * _WIDTH : 2, 0] = _POW10[_WIDTH - 1 - np.arange(_WIDTH)]
_CHAR_WEIGHTS[1 : 2 * _WIDTH : 2, 1] = _POW4[_WIDTH - 1 - np.arange(_WIDTH)]
# Rows per batch: big enough to amortise numpy's per-call cost, small enough
# that the allocator recycles the temporaries instead of mapping fresh pages
# and that OpenBLAS runs the (4096 x 32) @ (32 x 2) product on one thread (its
# default threshold is m*n*k = 262144); threads would fight the process pool.
_BLOCK_ROWS = 4096


def parse_ntu_skeleton(
    data: bytes, source: str | Path = "<memory>", *, max_bodies: int = MAX_BODIES
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Parse the bytes of one ``.skeleton`` file.

    Returns ``(joints, present, body_ids, dropped)``: ``joints`` ``(S, T, 25, 3)``
    float32, ``present`` ``(S, T)`` bool, ``body_ids`` ``(S, T)`` int64 and the
    number of bodies dropped beyond ``max_bodies``. Raises
    :class:`SkeletonFileError` naming ``source`` for anything malformed.
    """
    if data.startswith(UTF8_BOM):
        # Some editors and exporters prepend a byte-order mark; it is not part of the content.
        data = data[len(UTF8_BOM):]
    content_end = len(data)
    while content_end and data[content_end - 1] in _WHITESPACE:
        content_end -= 1
    if content_end == 0:
        raise SkeletonFileError(source, "file is empty", reason="empty")
    buf = np.frombuffer(data, dtype=np.uint8)
    line_end = np.flatnonzero(buf == 10)
    if not data.endswith(b"\n"):
        line_end = np.append(line_end, len(data))
    line_start = np.empty_like(line_end)
    line_start[0] = 0
    line_start[1:] = line_end[:-1] + 1
    starts_list = line_start.tolist()
    ends_list = line_end.tolist()
    # Lines up to the last one with content; running past it means the file is
    # shorter than its counts announce (trailing blank lines do not count).
    n_lines = int(np.searchsorted(line_end, content_end)) + 1

    def line(i: int) -> bytes:
        return data[starts_list[i] : ends_list[i]]

    def count_at(i: int, what: str, *args: int) -> int:
        # ``what`` is formatted only for the error message, off the hot path.
        try:
            value = int(line(i))
        except ValueError:
            raise SkeletonFileError(
                source, f"line {i + 1}: expected {what.format(*args)} (an integer), got {line(i)[:40]!r}",
                reason="malformed",
            ) from None
        if value < 0:
            raise SkeletonFileError(source, f"line {i + 1}: negative {what.format(*args)} {value}", reason="malformed")
        return value

    num_frames = count_at(0, "the frame count")
    if num_frames == 0:
        raise SkeletonFileError(source, "zero-length sequence (frame count is 0)", reason="empty")

    # Walk the structure with the counts: a loop over frames and bodies only.
    frame_lines: list[int] = []
    bodies_per_frame: list[int] = []
    body_lines: list[int] = []
    body_id: list[int] = []
    cur = 1
    for t in range(num_frames):
        if cur >= n_lines:
            raise SkeletonFileError(
                source, f"file ends at line {n_lines}, before frame {t + 1} of the {num_frames} it announces",
                reason="truncated",
            )
        num_bodies = count_at(cur, "the body count of frame {}", t + 1)
        frame_lines.append(cur)
        bodies_per_frame.append(num_bodies)
        cur += 1
        for b in range(num_bodies):
            if cur + 1 >= n_lines:
                raise SkeletonFileError(
                    source, f"file ends at line {n_lines}, inside body {b + 1} of frame {t + 1} of {num_frames}",
                    reason="truncated",
                )
            body = line(cur)
            try:
                ident = int(body.split(None, 1)[0])
            except (ValueError, IndexError):
                raise SkeletonFileError(
                    source, f"line {cur + 1}: expected a body line starting with an integer bodyID, "
                    f"got {body[:40]!r}", reason="malformed",
                ) from None
            # Fast path for the one value real files hold; anything else is parsed and checked.
            if line(cur + 1).strip() != b"25":
                num_joints = count_at(cur + 1, "the joint count of body {} in frame {}", b + 1, t + 1)
                if cur + 2 >= n_lines:
                    # A count cut short ("2" of "25") on the last line is truncation, not a bad count.
                    raise SkeletonFileError(
                        source, f"file ends at line {n_lines}, after the joint count of body {b + 1} of frame {t + 1}",
                        reason="truncated",
                    )
                if num_joints != NUM_JOINTS:
                    raise SkeletonFileError(
                        source, f"line {cur + 2}: body {b + 1} of frame {t + 1} has {num_joints} joints, "
                        f"expected {NUM_JOINTS}", reason="wrong_joint_count",
                    )
            body_lines.append(cur)
            body_id.append(ident)
            cur += 2 + NUM_JOINTS
            if cur > n_lines:
                raise SkeletonFileError(
                    source, f"file ends at line {n_lines}, inside the joints of body {b + 1} of frame {t + 1} "
                    f"of {num_frames}",
                    reason="truncated",
                )
    if not body_lines:
        raise SkeletonFileError(source, f"no body in any of the {num_frames} frames", reason="empty")

    # Every line after the first (which int() has checked) must hold exactly the
    # values the structure gives it: 1 for counts, 10 for body lines, 12 for
    # joints. This also catches joint lines cut short and stray blank lines.
    ws = buf <= 32
    token_start = np.flatnonzero(ws[:-1] > ws[1:]) + 1
    first_token = np.searchsorted(token_start, line_start[1:cur])
    bound = np.searchsorted(token_start, line_end[cur - 1])
    per_line = np.diff(first_token, append=bound)
    body_lines_arr = np.asarray(body_lines)
    joint_lines = (body_lines_arr[:, None] + np.arange(2, 2 + NUM_JOINTS)).ravel()
    expected = np.empty(cur, dtype=np.int64)
    expected[frame_lines] = 1
    expected[body_lines_arr + 1] = 1
    expected[body_lines_arr] = BODY_FIELDS
    expected[joint_lines] = JOINT_FIELDS
    wrong = np.flatnonzero(per_line != expected[1:])
    if len(wrong):
        at = int(wrong[0]) + 1
        _raise_value_count(source, at, int(per_line[at - 1]), int(expected[at]), n_lines)

    # bytes.translate drops the allowed bytes in one C pass; anything left over is
    # a stray byte, which matters only inside the structure.
    if data.translate(None, _ALLOWED_BYTES):
        bad = np.flatnonzero(~np.take(_ALLOWED, buf[: ends_list[cur - 1]]))
        if len(bad):
            pos = int(bad[0])
            at = int(np.searchsorted(line_end, pos))
            raise SkeletonFileError(
                source, f"line {at + 1}: unexpected character {data[pos:pos + 1]!r} in {line(at)[:60]!r}",
                reason="malformed",
            )

    xyz_tokens = (first_token[joint_lines - 1][:, None] + np.arange(3)).ravel()
    values = _parse_numbers(data, token_start[xyz_tokens], token_start[xyz_tokens + 1], source, line_end)
    with np.errstate(over="ignore"):  # beyond float32 becomes inf, reported as non-finite below
        xyz = values.astype(np.float32).reshape(len(body_lines), NUM_JOINTS, 3)

    counts = np.asarray(bodies_per_frame)
    frames = np.repeat(np.arange(num_frames), counts)
    # Slot = position of the body within its frame's listing.
    slots = np.arange(len(frames)) - np.repeat(np.cumsum(counts) - counts, counts)
    keep = slots < max_bodies
    dropped = int(len(slots) - keep.sum())
    num_slots = int(min(slots.max() + 1, max_bodies))
    joints = np.zeros((num_slots, num_frames, NUM_JOINTS, 3), dtype=np.float32)
    present = np.zeros((num_slots, num_frames), dtype=bool)
    ids = np.zeros((num_slots, num_frames), dtype=np.int64)
    joints[slots[keep], frames[keep]] = xyz[keep]
    present[slots[keep], frames[keep]] = True
    ids[slots[keep], frames[keep]] = _as_int64(body_id, keep, source)
    if not np.isfinite(joints).all():
        s, t, v, c = (int(i) for i in np.argwhere(~np.isfinite(joints))[0])
        raise SkeletonFileError(
            source, f"non-finite {'xyz'[c]} ({joints[s, t, v, c]}) at frame {t + 1}, body {s + 1}, joint {v + 1}",
            reason="non_finite",
        )
    return joints, present, ids, dropped


def _as_int64(values: list[int], keep: np.ndarray, source: str | Path) -> np.ndarray:
    out = []
    for v, k in zip(values, keep.tolist()):
        if not k:
            continue
        if not -(2**63) <= v < 2**64:
            raise SkeletonFileError(source, f"bodyID {v} does not fit in 64 bits", reason="malformed")
        # Kinect ids are unsigned 64-bit; wrap the (never seen) top half so ids stay distinct.
        out.append(v - 2**64 if v >= 2**63 else v)
    return np.asarray(out, dtype=np.int64)


def _raise_value_count(source: str | Path, index: int, got: int, want: int, n_lines: int) -> None:
    # A short last line is where a truncated download stops; anywhere else the
    # file is malformed.
    kind = {1: "a count", BODY_FIELDS: "a body line", JOINT_FIELDS: "a joint line"}[want]
    if got < want and index >= n_lines - 1:
        raise SkeletonFileError(
            source, f"file ends inside line {index + 1} ({kind} with {got} of {want} values)", reason="truncated"
        )
    raise SkeletonFileError(
        source, f"line {index + 1}: {kind} should hold {want} values, found {got}", reason="malformed"
    )


def _parse_numbers(
    data: bytes, starts: np.ndarray, next_starts: np.ndarray, source: str | Path, line_end: np.ndarray
) -> np.ndarray:
    """float64 values of the tokens at ``starts``, each equal to ``float(token)``.

    ``next_starts`` is where the following token on the same line begins, so a
    single-space separator gives each token's length. Plain decimals
    (``[sign] digits [. digits]``, up to 14 characters) are parsed in batches by
    :func:`_parse_block`; anything else (exponents, nan/inf, wider separators,
    longer tokens, malformed text) goes through ``float()`` token by token. Such
    tokens are rare in recorded data.
    """
    padded = data
    if len(data) < _ROW_BYTES or int(starts.max()) > len(data) - _ROW_BYTES:
        # Only a token within a row's width of the end needs room past it.
        padded = data + b" " * _ROW_BYTES
    # Every byte offset as the start of a _ROW_BYTES-wide record, so gathering
    # the rows copies one record per token.
    records = np.ndarray((len(padded) - _ROW_BYTES + 1,), dtype=f"V{_ROW_BYTES}", buffer=padded, strides=(1,))
    values = np.empty(len(starts), dtype=np.float64)
    ok = np.empty(len(starts), dtype=bool)
    for lo in range(0, len(starts), _BLOCK_ROWS):
        hi = min(lo + _BLOCK_ROWS, len(starts))
        chars = records[starts[lo:hi]].view(np.uint8).reshape(hi - lo, _ROW_BYTES)
        values[lo:hi], ok[lo:hi] = _parse_block(chars, next_starts[lo:hi] - starts[lo:hi] - 1)
    for row in np.flatnonzero(~ok).tolist():
        start = int(starts[row])
        token = data[start : start + 256].split(None, 1)[0]
        try:
            values[row] = float(token)
        except ValueError:
            at = int(np.searchsorted(line_end, start))
            raise SkeletonFileError(
                source, f"line {at + 1}: {token[:40]!r} is not a number", reason="malformed"
            ) from None
    return values


def _parse_block(chars: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values of the plain-decimal token rows ``chars`` ``(B, W)``, and which rows were plain decimals.

    A row holds its token in columns ``[0, length)``, then the separator and the
    start of the next token. A lookup table maps every character to its digit
    value and a class code (digit 1, dot 3, anything else 0); one matrix product
    sums the digits with weights ``10**(W-1-c)`` and the codes with ``4**(W-1-c)``,
    giving exact integers. Rounding a sum down to a multiple of the weight of
    column ``length - 1`` drops the columns from ``length`` on: the separator
    contributes nothing, so what follows it adds less than a tenth of that
    weight and the floor of the (rounded) quotient cannot tip over.

    A valid token's codes are all 1 except a leading sign (0) and at most one
    dot (3), so its code sum minus the all-digit sum is 0 or ``2 * 4**k``, with
    the dot in column ``W-1-k``; any other character makes it something else.
    The digit integer, with the part left of the dot divided by 10 (exact, as
    those weights are >= 10), divided by an exact power of ten is the correctly
    rounded value.
    """
    width = _WIDTH
    sums = np.take(_CHAR_TABLE, chars, axis=0).reshape(len(chars), 2 * _ROW_BYTES) @ _CHAR_WEIGHTS
    cut = np.clip(width - length, 0, width)
    unit = _POW10[cut]
    raw = np.floor(sums[:, 0] / unit) * unit
    first = chars[:, 0]
    negative = first == 45
    has_sign = negative | (first == 43)
    code = np.floor(sums[:, 1] / _POW4[cut]) * _POW4[cut]
    extra = code - _ALL_DIGITS[cut] + has_sign * _POW4[width - 1]
    mantissa, exponent = np.frexp(extra)
    has_dot = extra != 0
    ok = (mantissa == 0.5) & (exponent % 2 == 0)
    ok |= ~has_dot
    ok &= (cut > 0) & (length > has_sign + has_dot.astype(np.int64))
    # Rows that are not plain decimals get a harmless position; float() redoes them.
    dot_pos = np.clip(np.where(ok & has_dot, width - exponent // 2, length), 0, width - 1)

    unit = _POW10[width - dot_pos]
    left = np.floor(raw / unit) * unit
    values = (left / 10.0 + (raw - left)) / _POW10[width - 1 - dot_pos]
    np.negative(values, out=values, where=negative)
    return values, ok


def read_ntu_skeleton(
    path: str | Path, *, max_bodies: int = MAX_BODIES
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """:func:`parse_ntu_skeleton` on the file at ``path``."""
    path = Path(path)
    return parse_ntu_skeleton(read_file_bytes(path), path, max_bodies=max_bodies)


# ---------------------------------------------------------------------------
# Writing (fixtures and benchmarks)

_DEFAULT_ID_BASE = 72057594037927936  # 2**56: the Kinect v2 tracking ids NTU holds start just above it


def _fmt(value: float) -> str:
    # The recording tool wrote .NET single-precision defaults: 7 significant
    # digits, "E-05" exponents, and NaN / Infinity spelled out.
    if np.isnan(value):
        return "NaN"
    if np.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return format(float(value), ".7G")


def write_ntu_skeleton(
    path: str | Path,
    joints: np.ndarray,
    present: np.ndarray,
    body_ids: np.ndarray | Iterable[int] | None = None,
    rng: np.random.Generator | None = None,
    *,
    newline: str = "\n",
) -> Path:
    """Write ``joints`` ``(S, T, V, 3)`` as an NTU ``.skeleton`` file.

    Frame ``t`` lists the bodies ``s`` with ``present[s, t]`` in slot order, so
    reading the file back gives the same slots wherever the present bodies of a
    frame are the leading slots. ``body_ids`` is ``(S,)`` or ``(S, T)`` (default:
    a distinct Kinect-style id per slot). The other fields get plausible values
    from ``rng``: pixel coordinates projected from x, y, z, a random unit
    orientation quaternion, tracking states, hand states and lean. ``V`` is
    written as given, so a wrong joint count can be produced on purpose.
    """
    joints = np.asarray(joints, dtype=np.float64)
    present = np.asarray(present, dtype=bool)
    if joints.ndim != 4 or joints.shape[3] != 3 or present.shape != joints.shape[:2]:
        raise ValueError(f"joints must be (S, T, V, 3) with present (S, T); got {joints.shape} and {present.shape}")
    rng = rng if rng is not None else np.random.default_rng(0)
    num_slots, num_frames, num_joints, _ = joints.shape
    if body_ids is None:
        ids = np.array([_DEFAULT_ID_BASE + 3101 + 37 * s for s in range(num_slots)], dtype=object)
        ids = np.repeat(ids[:, None], num_frames, axis=1)
    else:
        ids = np.array(list(body_ids) if not isinstance(body_ids, np.ndarray) else body_ids, dtype=object)
        if ids.ndim == 1:
            ids = np.repeat(ids[:, None], num_frames, axis=1)
        if ids.shape != (num_slots, num_frames):
            raise ValueError(f"body_ids must be (S,) or (S, T) = {(num_slots, num_frames)}, got {ids.shape}")

    x, y, z = joints[..., 0], joints[..., 1], joints[..., 2]
    safe_z = np.where(np.abs(z) > 1e-3, z, 1e-3)
    depth_x = 256.0 + 365.0 * x / safe_z
    depth_y = 212.0 - 365.0 * y / safe_z
    color_x = 960.0 + 1060.0 * x / safe_z
    color_y = 540.0 - 1060.0 * y / safe_z
    quat = rng.normal(size=joints.shape[:3] + (4,))
    quat /= np.linalg.norm(quat, axis=-1, keepdims=True)
    state = np.where(rng.random(joints.shape[:3]) < 0.93, 2, 1)
    table = np.stack([x, y, z, depth_x, depth_y, color_x, color_y, *np.moveaxis(quat, -1, 0)], axis=-1)
    finite = bool(np.isfinite(table).all())
    line_fmt = " ".join(["%.7G"] * 11) + " %d"

    out = [str(num_frames)]
    for t in range(num_frames):
        slots = np.flatnonzero(present[:, t]).tolist()
        out.append(str(len(slots)))
        for s in slots:
            confidence = rng.integers(0, 2, size=2).tolist()
            hand_state = rng.integers(0, 5, size=2).tolist()
            lean = rng.normal(0.0, 0.05, size=2)
            out.append(
                f"{int(ids[s, t])} 0 {confidence[0]} {hand_state[0]} {confidence[1]} {hand_state[1]} 0 "
                f"{_fmt(lean[0])} {_fmt(lean[1])} 2"
            )
            out.append(str(num_joints))
            rows = table[s, t]
            states = state[s, t].tolist()
            if finite:
                out.extend(line_fmt % (*row, st) for row, st in zip(rows.tolist(), states))
            else:
                out.extend(" ".join(map(_fmt, row)) + f" {st}" for row, st in zip(rows.tolist(), states))
    path = Path(path)
    path.write_bytes((newline.join(out) + newline).encode("ascii"))
    return path
