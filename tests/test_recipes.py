"""Regression tests for the named preprocessing recipes and their shared steps.

Every expected value is a literal worked out by hand; the comment beside it
shows the computation. Joint indices come from the layout roles (ntu25:
spine_base 0, spine_mid 1, left_shoulder 4, right_shoulder 8, head 3,
spine_shoulder 20).
"""

from __future__ import annotations

import numpy as np
import pytest

from skelssl.data.layouts import get_layout
from skelssl.data.recipes import get_recipe, list_recipes, steps
from skelssl.data.recipes.sgn import assign_actors
from skelssl.data.types import RawSequence, SkeletonFileError

NTU = get_layout("ntu25")
SB, SM, SS = NTU.role("spine_base"), NTU.role("spine_mid"), NTU.role("spine_shoulder")
LS, RS, HEAD = NTU.role("left_shoulder"), NTU.role("right_shoulder"), NTU.role("head")


def seq_of(joints, present=None, *, layout="ntu25", body_ids=None, source="file.skeleton") -> RawSequence:
    joints = np.asarray(joints, dtype=np.float64)
    if present is None:
        present = np.any(joints != 0, axis=(2, 3))
    return RawSequence("s", joints, np.asarray(present, dtype=bool), layout=layout, body_ids=body_ids, source=source)


def posed(centre, rel: dict[int, tuple[float, float, float]], v: int = 25) -> np.ndarray:
    """A ``(V, 3)`` frame: every joint at ``centre`` plus the offsets in ``rel``."""
    frame = np.tile(np.asarray(centre, dtype=np.float64), (v, 1))
    for j, off in rel.items():
        frame[j] += off
    return frame


def test_all_recipes_registered():
    assert set(list_recipes()) >= {"crossclr", "agcn", "sgn", "raw", "stgcn_kinetics"}


# =========================================================================== steps


def test_resize_align_corners_is_linspace():
    x = np.array([0.0, 1.0]).reshape(1, 2, 1, 1)
    out = steps.resize_frames(x, 50, align_corners=True)[0, :, 0, 0]
    # Source position of output frame i is i * (2 - 1) / (50 - 1): 0, 1/49, ..., 1.
    np.testing.assert_allclose(out, np.arange(50) / 49, atol=1e-12)


def test_resize_cv2_half_pixel():
    x = np.array([0.0, 1.0]).reshape(1, 2, 1, 1)
    out = steps.resize_frames(x, 50)[0, :, 0, 0]
    # src = (i + 0.5) * 2/50 - 0.5 = 0.04 i - 0.48, clamped to [0, 1]:
    # i <= 12 -> 0, i = 13..36 -> 0.04, 0.08, ..., 0.96, i >= 37 -> 1.
    expected = [0.0] * 13 + [0.04 * k for k in range(1, 25)] + [1.0] * 13
    np.testing.assert_allclose(out, expected, atol=1e-12)


def test_resize_downsample_and_single_frame():
    x = np.array([0.0, 10.0, 20.0, 30.0]).reshape(1, 4, 1, 1)
    # 4 -> 2: src = (i + 0.5) * 2 - 0.5 = 0.5, 2.5 -> mean of frames (0,1) and (2,3).
    np.testing.assert_allclose(steps.resize_frames(x, 2)[0, :, 0, 0], [5.0, 25.0])
    one = np.array([7.0]).reshape(1, 1, 1, 1)
    # One frame: every output frame samples position 0 -> repeated.
    np.testing.assert_allclose(steps.resize_frames(one, 5)[0, :, 0, 0], [7.0] * 5)


def frames_1d(values):
    """A (T, 1, 1) body whose frame t holds values[t] (0 = empty frame)."""
    return np.asarray(values, dtype=np.float64).reshape(-1, 1, 1)


def test_pad_by_repetition_patterns():
    # Trailing empties: [a b c . . . .] -> [a b c a b c a], repetition starts at 3.
    out, tail = steps.pad_by_repetition(frames_1d([1, 2, 3, 0, 0, 0, 0]))
    assert tail == 3
    np.testing.assert_array_equal(out.ravel(), [1, 2, 3, 1, 2, 3, 1])
    # Empty first frame: non-empty frames move to the front, then repeat:
    # [. a b . . .] -> [a b . . . .] -> [a b a b a b].
    out, tail = steps.pad_by_repetition(frames_1d([0, 4, 5, 0, 0, 0]))
    assert tail == 2
    np.testing.assert_array_equal(out.ravel(), [4, 5, 4, 5, 4, 5])
    # A gap after a non-empty first frame is kept and repeated with the rest:
    # [a . b . .] -> [a . b a .].
    out, tail = steps.pad_by_repetition(frames_1d([6, 0, 7, 0, 0]))
    assert tail == 3
    np.testing.assert_array_equal(out.ravel(), [6, 0, 7, 6, 0])
    # Full sequence: untouched, tail == T.
    out, tail = steps.pad_by_repetition(frames_1d([1, 2]))
    assert tail == 2
    np.testing.assert_array_equal(out.ravel(), [1, 2])


def point_body(xs, v: int = 25) -> np.ndarray:
    """A body whose joints all sit at (x_t, 2, 3) in frame t; x_t = 0 marks an empty frame."""
    body = np.zeros((len(xs), v, 3))
    for t, x in enumerate(xs):
        if x:
            body[t] = (x, 2.0, 3.0)
    return body


def test_nonzero_std_energy_by_hand():
    bodies = np.stack([
        point_body([1.0, 3.0, 0.0]),  # x: 25 ones, 25 threes (empty frame ignored) -> std 1; y, z constant
        point_body([1.0, 2.0, 0.0]),  # x: 1 and 2 -> std 0.5
        point_body([1.0, 5.0, 0.0]),  # x: 1 and 5 -> std 2
        point_body([0.0, 0.0, 0.0]),  # no non-zero frame -> 0
    ])
    np.testing.assert_allclose(steps.nonzero_std_energy(bodies), [1.0, 0.5, 2.0, 0.0], atol=1e-12)


def test_select_most_energetic_picks_top_two_of_four():
    bodies = np.stack([point_body([1.0, 3.0]), point_body([1.0, 2.0]), point_body([1.0, 5.0]),
                       point_body([1.0, 1.5]), point_body([1.0, 9.0])])
    # Energies 1, 0.5, 2, 0.25 for slots 0-3; slot 4 (energy 4) is not a candidate (max 4).
    sel, order = steps.select_most_energetic(bodies, 2, max_candidates=4)
    assert order.tolist() == [2, 0]
    np.testing.assert_array_equal(sel, bodies[[2, 0]])


def test_select_most_energetic_ties_take_higher_slot_first():
    bodies = np.stack([point_body([1.0, 3.0]), point_body([4.0, 6.0])])  # both std 1
    # 2s-AGCN: argsort([1, 1]) = [0, 1] reversed -> [1, 0].
    _, order = steps.select_most_energetic(bodies, 2)
    assert order.tolist() == [1, 0]


def test_select_most_confident_per_frame():
    # 3 slots, 2 frames, 2 joints, channels (x, y, score); x = slot number + 1.
    j = np.zeros((3, 2, 2, 3))
    for s in range(3):
        j[s, :, :, 0] = s + 1
    j[:, 0, :, 2] = np.array([0.1, 0.9, 0.5])[:, None]  # frame 0 sums 0.2, 1.8, 1.0 -> slots 1, 2
    j[:, 1, :, 2] = np.array([0.4, 0.4, 0.0])[:, None]  # frame 1 sums 0.8, 0.8, 0 -> tie keeps 0, 1
    present = np.ones((3, 2), dtype=bool)
    sel, pres = steps.select_most_confident(j, present, k=2)
    assert sel.shape == (2, 2, 2, 3)
    np.testing.assert_array_equal(sel[:, 0, 0, 0], [2, 3])  # slots 1, 2 in frame 0
    np.testing.assert_array_equal(sel[:, 1, 0, 0], [1, 2])  # slots 0, 1 in frame 1
    assert pres.all()
    # Only the first max_candidates slots compete: without slot 2, frame 0 -> slots 1, 0.
    sel, _ = steps.select_most_confident(j, present, k=2, max_candidates=2)
    np.testing.assert_array_equal(sel[:, 0, 0, 0], [2, 1])


def test_group_by_body_id_follows_ids_across_slots():
    j = np.zeros((2, 3, 1, 3))
    j[0, :, 0, 0] = [10, 20, 30]
    j[1, :, 0, 0] = [11, 21, 0]
    ids = np.array([[9, 7, 7], [7, 9, 0]])  # ids swap slots in frame 1; id 9 is gone in frame 2
    present = np.array([[True, True, True], [True, True, False]])
    tracks = steps.group_by_body_id(j, present, ids)
    # First appearance in frame 0: slot 0 holds id 9, slot 1 id 7.
    assert [t.body_id for t in tracks] == [9, 7]
    np.testing.assert_array_equal(tracks[0].frames, [0, 1])
    np.testing.assert_array_equal(tracks[0].joints[:, 0, 0], [10, 21])  # slot 0 then slot 1
    np.testing.assert_array_equal(tracks[1].frames, [0, 1, 2])
    np.testing.assert_array_equal(tracks[1].joints[:, 0, 0], [11, 20, 30])


def test_rotation_helpers():
    # 90 deg about +z, right-handed: x -> y.
    r = steps.rotation_matrix(np.array([0.0, 0.0, 1.0]), np.pi / 2)
    np.testing.assert_allclose(r @ [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], atol=1e-12)
    # y onto z: axis y x z = +x, angle 90 deg.
    r = steps.alignment_rotation(np.array([0.0, 2.0, 0.0]), np.array([0.0, 0.0, 1.0]))
    np.testing.assert_allclose(r @ [0.0, 2.0, 0.0], [0.0, 0.0, 2.0], atol=1e-12)
    # Antiparallel: the cross product vanishes and 2s-AGCN returns the identity.
    r = steps.alignment_rotation(np.array([0.0, 0.0, -1.0]), np.array([0.0, 0.0, 1.0]))
    np.testing.assert_array_equal(r, np.eye(3))


def shoulders(vectors) -> np.ndarray:
    """(1, T, 25, 3): left shoulder at the origin, right shoulder at vectors[t]."""
    j = np.zeros((1, len(vectors), 25, 3))
    j[0, :, RS] = vectors
    return j


def test_shoulder_rotation_45_degrees_to_plus_x():
    j = shoulders([[1.0, 0.0, 1.0]])  # right - left at 45 deg between +x and +z
    out = steps.shoulder_y_rotation(j, LS, RS, mode="per_frame")
    # a = -atan2(1, 1) = -45 deg: x' = cos(a) - sin(a) = sqrt 2, z' = sin(a) + cos(a) = 0.
    np.testing.assert_allclose(out[0, 0, RS], [1.4142135623730951, 0.0, 0.0], atol=1e-12)
    out = steps.shoulder_y_rotation(j, LS, RS, mode="reference")
    # CrosSCLR: a = -arccos(1 / (sqrt 2 + 1e-4)) = -(45 deg + ~7.07e-5 rad);
    # x' = sqrt 2 cos(7.07e-5) ~ sqrt 2, z' = -sqrt 2 sin(7.07e-5) ~ -1e-4.
    np.testing.assert_allclose(out[0, 0, RS, [0, 1]], [1.4142135623730951, 0.0], atol=1e-8)
    np.testing.assert_allclose(out[0, 0, RS, 2], -1.0e-4, rtol=2e-3)


def test_shoulder_rotation_reference_uses_one_sign_per_sequence():
    j = shoulders([[0.0, 0.0, 1.0], [0.0, 0.0, -1.0]])
    out = steps.shoulder_y_rotation(j, LS, RS, mode="reference")
    # arccos(0) = 90 deg in both frames; sum of v_z = 0 >= 0 -> a = -90 deg for both:
    # (x, y, z) -> (z, y, -x): frame 0 -> (1, 0, 0), frame 1 -> (-1, 0, 0) (the reference's quirk).
    np.testing.assert_allclose(out[0, :, RS], [[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]], atol=1e-12)
    out = steps.shoulder_y_rotation(j, LS, RS, mode="per_frame")
    np.testing.assert_allclose(out[0, :, RS], [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]], atol=1e-12)


# =========================================================================== crossclr

# Body 0 relative to its spine shoulder: shoulders along z (right - left = (0, 0, 1)),
# head above. Frame 1 translates the body by +1 in x and tilts the head forward in z.
CROSS_REL_0 = {LS: (0.0, 0.0, -0.5), RS: (0.0, 0.0, 0.5), HEAD: (0.0, 0.5, 0.0)}
CROSS_REL_1 = {LS: (0.0, 0.0, -0.5), RS: (0.0, 0.0, 0.5), HEAD: (0.0, 0.5, 0.4)}


def crossclr_input() -> RawSequence:
    j = np.zeros((3, 3, 25, 3))
    j[0, 0] = posed((1.0, 1.0, 1.0), CROSS_REL_0)
    j[0, 1] = posed((2.0, 1.0, 1.0), CROSS_REL_1)
    j[2, 0] = j[2, 1] = posed((5.0, 5.0, 5.0), {})  # third slot: never kept
    present = np.array([[True, True, False], [False, False, False], [True, True, False]])
    return seq_of(j, present)  # frame 2 holds no body: dropped


def test_crossclr_centre_rotate_resize_by_hand():
    out = get_recipe("crossclr")(crossclr_input())
    assert out.data.shape == (3, 50, 25, 2) and out.data.dtype == np.float32
    assert out.valid_frames == 50
    d = out.data
    # Centring: the spine shoulder is 0 in every frame.
    np.testing.assert_allclose(d[:, :, SS, 0], 0.0, atol=1e-7)
    # Shoulder vector (0, 0, 1): arccos(0 / 1.0001) = 90 deg, sum v_z > 0 -> a = -90 deg,
    # R = [[0, 0, 1], [0, 1, 0], [-1, 0, 0]], (x, y, z) -> (z, y, -x).
    # Right shoulder (0, 0, 0.5) -> (0.5, 0, 0); left (0, 0, -0.5) -> (-0.5, 0, 0).
    np.testing.assert_allclose(d[:, :, RS, 0].T, np.tile([0.5, 0.0, 0.0], (50, 1)), atol=1e-6)
    np.testing.assert_allclose(d[:, :, LS, 0].T, np.tile([-0.5, 0.0, 0.0], (50, 1)), atol=1e-6)
    # Head: frame 0 (0, 0.5, 0) -> (0, 0.5, 0); frame 1 (0, 0.5, 0.4) -> (0.4, 0.5, 0).
    # Resized x = 0.4 * clip(0.04 i - 0.48, 0, 1): i=0 -> 0, i=25 -> 0.4*0.52 = 0.208, i=49 -> 0.4.
    np.testing.assert_allclose(d[:, 0, HEAD, 0], [0.0, 0.5, 0.0], atol=1e-6)
    np.testing.assert_allclose(d[:, 25, HEAD, 0], [0.208, 0.5, 0.0], atol=1e-6)
    np.testing.assert_allclose(d[:, 49, HEAD, 0], [0.4, 0.5, 0.0], atol=1e-6)
    # Slot 1 is absent throughout -> zeros; slot 2 is not kept.
    assert not d[..., 1].any()


def test_crossclr_raw_motion_stream():
    out = get_recipe("crossclr", stream="raw_motion")(crossclr_input())
    m = out.data[:, :, SS, 0]
    # Raw spine shoulder: (1, 1, 1) then (2, 1, 1); 2 frames < 300 so the last motion jumps to 0:
    # motion = [(2,1,1) - (1,1,1), 0 - (2,1,1)] = [(1, 0, 0), (-2, -1, -1)].
    # Resized with w = clip(0.04 i - 0.48, 0, 1): i=0 -> (1,0,0), i=49 -> (-2,-1,-1),
    # i=25 (w = 0.52) -> 0.48*(1,0,0) + 0.52*(-2,-1,-1) = (-0.56, -0.52, -0.52).
    np.testing.assert_allclose(m[:, 0], [1.0, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(m[:, 25], [-0.56, -0.52, -0.52], atol=1e-6)
    np.testing.assert_allclose(m[:, 49], [-2.0, -1.0, -1.0], atol=1e-6)


def test_crossclr_single_frame_is_repeated():
    j = posed((1.0, 1.0, 1.0), CROSS_REL_0)[None, None]
    out = get_recipe("crossclr")(seq_of(j))
    # One frame -> 50 copies; head (0, 0.5, 0) stays (0, 0.5, 0) under (x, y, z) -> (z, y, -x).
    np.testing.assert_allclose(out.data[:, :, HEAD, 0].T, np.tile([0.0, 0.5, 0.0], (50, 1)), atol=1e-6)
    assert out.valid_frames == 50


def test_crossclr_options_validated():
    assert get_recipe("crossclr", rotation="per_frame").describe()["rotation"] == "per_frame"
    with pytest.raises(ValueError):
        get_recipe("crossclr", stream="bone")
    with pytest.raises(ValueError):
        get_recipe("crossclr", rotation="sideways")


# =========================================================================== agcn

# The main body relative to its spine_mid c_t: spine bone along +y, shoulders along z.
AGCN_REL = {SB: (0.0, -1.0, 0.0), LS: (0.0, 0.3, -0.5), RS: (0.0, 0.3, 0.5), HEAD: (0.1, 1.5, 0.2)}


def agcn_input() -> RawSequence:
    j = np.zeros((3, 2, 25, 3))
    j[0] = point_body([1.2, 1.4])  # a point moving 0.2 in x: energy = std{1.2, 1.4} = 0.1
    j[1, 0] = posed((1.0, 2.0, 3.0), AGCN_REL)  # main body, c_0 = (1, 2, 3)
    j[1, 1] = posed((1.5, 2.0, 3.0), AGCN_REL)  # c_1 = (1.5, 2, 3); energy 0.765 (joints spread 2.5 m in y)
    j[2] = point_body([0.7, 0.7])  # static point: energy 0 -> dropped
    return seq_of(j)


def test_agcn_select_centre_rotate_pad_by_hand():
    out = get_recipe("agcn")(agcn_input())
    assert out.data.shape == (3, 300, 25, 2) and out.valid_frames == 2
    d = out.data
    # Energies 0.1, 0.765, 0 -> bodies [slot 1, slot 0].
    # Centre on body 0's spine_mid c_t; then spine (0, 1, 0) -> +z: 90 deg about +x,
    # (x, y, z) -> (x, -z, y); shoulders r - l = (0, 0, 1) -> (0, -1, 0) -> +x: 90 deg about +z,
    # (x, y, z) -> (-y, x, z). Together (x, y, z) -> (z, x, y).
    expected0 = {SM: (0.0, 0.0, 0.0), SB: (0.0, 0.0, -1.0), LS: (-0.5, 0.0, 0.3), RS: (0.5, 0.0, 0.3),
                 HEAD: (0.2, 0.1, 1.5)}
    for t in (0, 1, 2, 299):  # frames 2.. repeat frames 0, 1 (299 is odd -> frame 1, same pose)
        for joint, xyz in expected0.items():
            np.testing.assert_allclose(d[:, t, joint, 0], xyz, atol=1e-6)
    # Body 1 (point): q_t - c_t = (0.2, 0, 0), (-0.1, 0, 0) -> (0, 0.2, 0), (0, -0.1, 0);
    # repetition: even frames like frame 0, odd like frame 1.
    np.testing.assert_allclose(d[:, 0, :, 1].T, np.tile([0.0, 0.2, 0.0], (25, 1)), atol=1e-6)
    np.testing.assert_allclose(d[:, 1, :, 1].T, np.tile([0.0, -0.1, 0.0], (25, 1)), atol=1e-6)
    np.testing.assert_allclose(d[:, 298, :, 1].T, np.tile([0.0, 0.2, 0.0], (25, 1)), atol=1e-6)
    np.testing.assert_allclose(d[:, 299, :, 1].T, np.tile([0.0, -0.1, 0.0], (25, 1)), atol=1e-6)


def test_agcn_late_body_is_moved_to_the_front():
    j = np.zeros((2, 4, 25, 3))
    j[0] = [posed((1.0, 2.0, 3.0), AGCN_REL)] * 4
    j[0, :, :, 0] += np.array([0.0, 0.1, 0.2, 0.3])[:, None]  # main body drifts in x
    j[1, 2] = posed((1.5, 2.0, 3.0), {})  # second body only in frames 2, 3
    j[1, 3] = posed((1.5, 2.0, 3.0), {})
    d = get_recipe("agcn", num_frames=6)(seq_of(j)).data
    # Body 1: frame 0 empty -> frames 2, 3 move to 0, 1 and repeat: 0..5 = q2 q3 q2 q3 q2 q3.
    # It is centred on body 0's spine of the *new* frame index: frame 0: q2 - c_0 = (0.5, 0, 0),
    # frame 1: q3 - c_1 = (1.5 - 1.1, 0, 0) = (0.4, 0, 0); mapped (x, y, z) -> (z, x, y).
    np.testing.assert_allclose(d[:, 0, 0, 1], [0.0, 0.5, 0.0], atol=1e-6)
    np.testing.assert_allclose(d[:, 1, 0, 1], [0.0, 0.4, 0.0], atol=1e-6)
    # Frame 4 (body 1 = q2, body 0 = its frame 0 again, c = (1, 2, 3)): (0.5, 0, 0) -> (0, 0.5, 0).
    np.testing.assert_allclose(d[:, 4, 0, 1], [0.0, 0.5, 0.0], atol=1e-6)


# =========================================================================== sgn


def column_body(x: float, z: float, dy: float = 0.1, v: int = 25) -> np.ndarray:
    """Joints stacked vertically: joint k at (x, dy * k, z); x-spread 0 (never noisy)."""
    frame = np.zeros((v, 3))
    frame[:, 0], frame[:, 1], frame[:, 2] = x, dy * np.arange(v), z
    return frame


def row_body(y: float, z: float, v: int = 25) -> np.ndarray:
    """Joints side by side: joint k at (0.1 k - 3, y, z); y-spread 0, so every frame is noisy."""
    frame = np.zeros((v, 3))
    frame[:, 0], frame[:, 1], frame[:, 2] = 0.1 * np.arange(v) - 3.0, y, z
    return frame


def sgn_input() -> RawSequence:
    # 15 raw frames; frame 7 holds no body. A (id 100) walks +0.1 x per valid frame,
    # B (id 200) stands still, N (id 300) lives 5 frames, W (id 400) is a "wide" ghost.
    t_raw = 15
    j = np.zeros((4, t_raw, 25, 3))
    ids = np.zeros((4, t_raw), dtype=np.int64)
    present = np.zeros((4, t_raw), dtype=bool)
    valid_t = 0
    for t in range(t_raw):
        if t == 7:
            continue
        a = (100, column_body(1.0 + 0.1 * valid_t, 3.0))
        b = (200, column_body(2.0, 3.5))
        order = [b, a] if t < 9 else [a, b]  # file order swaps halfway: ids keep identity
        order.append((400, row_body(1.0, 4.0)))
        if t < 5:
            order.append((300, column_body(-1.0, 2.0)))
        for s, (bid, frame) in enumerate(order):
            j[s, t], ids[s, t], present[s, t] = frame, bid, True
        valid_t += 1
    return seq_of(j, present, body_ids=ids)


def test_sgn_denoise_assign_translate_by_hand():
    out = get_recipe("sgn")(sgn_input())
    assert out.data.shape == (3, 300, 25, 2) and out.valid_frames == 14
    d = out.data
    # Denoising: N has 5 <= 11 frames -> dropped; W's x-spread 2.4 > 0.8 * 0 in all 14 frames,
    # ratio 1 >= 0.69754 -> dropped. Motion: A and B share the y variance 0.01 * var(0..24) = 0.52;
    # A adds var of x over 14 frames > 0 -> A is actor 1, B actor 2.
    # Origin: A's spine_mid (joint 1) in frame 0 = (1.0, 0.1, 3.0).
    # Actor 1 joint k in frame t: (1 + 0.1 t, 0.1 k, 3) - origin = (0.1 t, 0.1 k - 0.1, 0).
    for t in (0, 6, 13):
        for k in (0, 1, 24):
            np.testing.assert_allclose(d[:, t, k, 0], [0.1 * t, 0.1 * k - 0.1, 0.0], atol=1e-6)
    # Actor 2 joint k: (2, 0.1 k, 3.5) - origin = (1, 0.1 k - 0.1, 0.5).
    np.testing.assert_allclose(d[:, 0, 24, 1], [1.0, 2.3, 0.5], atol=1e-6)
    np.testing.assert_allclose(d[:, 13, 0, 1], [1.0, -0.1, 0.5], atol=1e-6)
    # Zero padding after the 14 valid frames; N (x = -1) and W (z = 4) are nowhere.
    assert not d[:, 14:].any()
    assert not np.isclose(d[0], -2.0).any() and not np.isclose(d[2], 1.0).any()


def test_sgn_motion_filter_option():
    # A walks (motion >= 0.52 as above); B is a small column (dy = 0.01): motion 0.0001 * 52 = 0.0052,
    # below noise_mot_thres_lo = 0.089925. The release keeps B; motion_filter=True drops it.
    j = np.stack([[column_body(1.0 + 0.1 * t, 3.0) for t in range(12)],
                  [column_body(2.0, 3.5, dy=0.01) for _ in range(12)]])
    seq = seq_of(j, body_ids=np.array([[1] * 12, [2] * 12]))
    assert get_recipe("sgn")(seq).data[..., 1].any()
    assert not get_recipe("sgn", motion_filter=True)(seq).data[..., 1].any()


def test_sgn_all_short_tracks_are_kept():
    # Two tracks of 3 frames each: the release would crash (every track <= 11 frames);
    # our policy skips the length filter. A moves, so it is actor 1.
    j = np.stack([[column_body(1.0 + 0.1 * t, 3.0) for t in range(3)],
                  [column_body(2.0, 3.5) for _ in range(3)]])
    out = get_recipe("sgn")(seq_of(j, body_ids=np.array([[1] * 3, [2] * 3])))
    assert out.valid_frames == 3
    np.testing.assert_allclose(out.data[:, 2, 1, 0], [0.2, 0.0, 0.0], atol=1e-6)  # A's spine_mid at t=2
    np.testing.assert_allclose(out.data[:, 0, 1, 1], [1.0, 0.0, 0.5], atol=1e-6)  # B's spine_mid


def test_sgn_assign_actors_interval_rule():
    def track(value, first, last):
        frames = np.arange(first, last + 1)
        return steps.BodyTrack(value, frames, np.full((len(frames), 1, 3), float(value)))

    # Motion order X [0,3], Y [0,5], Z [4,7], W [3,6]:
    # X -> actor 1 [0,3]; Y overlaps X (min(3,5) - max(0,0) = 3 > 0) but not actor 2's
    # virtual [0,0] (min(0,5) - max(0,0) = 0) -> actor 2 [0,5];
    # Z vs [0,3]: min(3,7) - max(0,4) = -1 -> actor 1, now [0,7];
    # W overlaps [0,7] (6 - 3 = 3) and [0,5] (5 - 3 = 2) -> discarded.
    a = assign_actors([track(1, 0, 3), track(2, 0, 5), track(3, 4, 7), track(4, 3, 6)], 8)
    np.testing.assert_array_equal(a[0, :, 0, 0], [1, 1, 1, 1, 3, 3, 3, 3])
    np.testing.assert_array_equal(a[1, :, 0, 0], [2, 2, 2, 2, 2, 2, 0, 0])
    # Sharing one frame counts as no overlap (min(3,6) - max(0,3) = 0): the later track wins frame 3.
    a = assign_actors([track(1, 0, 3), track(5, 3, 6)], 7)
    np.testing.assert_array_equal(a[0, :, 0, 0], [1, 1, 1, 5, 5, 5, 5])


def test_sgn_single_frame_kept():
    out = get_recipe("sgn")(seq_of(column_body(1.0, 3.0)[None, None]))
    assert out.valid_frames == 1
    np.testing.assert_allclose(out.data[:, 0, 1, 0], 0.0, atol=1e-7)  # spine_mid is the origin
    np.testing.assert_allclose(out.data[:, 0, 24, 0], [0.0, 2.3, 0.0], atol=1e-6)  # 0.1*24 - 0.1


# =========================================================================== raw


def test_raw_first_bodies_pad_and_crop():
    j = np.zeros((3, 2, 25, 3))
    j[0, :, 0] = [[1, 2, 3], [4, 5, 6]]
    j[1, 0, 0] = [7, 8, 9]
    j[2, :, 0] = 99.0  # third slot: dropped
    out = get_recipe("raw", num_frames=4)(seq_of(j, present=np.array([[1, 1], [1, 0], [1, 1]], dtype=bool)))
    assert out.data.shape == (3, 4, 25, 2) and out.valid_frames == 2
    np.testing.assert_array_equal(out.data[:, :, 0, 0].T, [[1, 2, 3], [4, 5, 6], [0, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(out.data[:, :, 0, 1].T, [[7, 8, 9], [0, 0, 0], [0, 0, 0], [0, 0, 0]])
    crop = get_recipe("raw", num_frames=1)(seq_of(j))
    assert crop.valid_frames == 1
    np.testing.assert_array_equal(crop.data[:, 0, 0, 0], [1, 2, 3])


# =========================================================================== stgcn_kinetics


def test_stgcn_kinetics_centre_zero_and_sort():
    # 3 people, 2 frames, 18 joints; x = 0.5 + 0.1 (p + 1), y = 0.5 - 0.1 (p + 1).
    j = np.zeros((3, 2, 18, 3))
    for p in range(3):
        j[p, :, :, 0] = 0.5 + 0.1 * (p + 1)
        j[p, :, :, 1] = 0.5 - 0.1 * (p + 1)
    j[:, 0, :, 2] = np.array([0.2, 0.9, 0.5])[:, None]
    j[:, 1, :, 2] = np.array([0.8, 0.1, 0.0])[:, None]
    j[1, 0, 3, 2] = 0.0  # an undetected joint of person 1 in frame 0
    present = np.array([[True, True], [True, True], [True, False]])
    out = get_recipe("stgcn_kinetics")(seq_of(j, present, layout="openpose18"))
    assert out.data.shape == (3, 300, 18, 2) and out.valid_frames == 2
    d = out.data
    # Frame 0 sums: 18*0.2 = 3.6, 17*0.9 = 15.3, 18*0.5 = 9 -> persons 1, 2.
    # Person 1: (0.7 - 0.5, 0.3 - 0.5) = (0.2, -0.2); person 2: (0.3, -0.3).
    np.testing.assert_allclose(d[:, 0, 0, 0], [0.2, -0.2, 0.9], atol=1e-6)
    np.testing.assert_allclose(d[:, 0, 0, 1], [0.3, -0.3, 0.5], atol=1e-6)
    np.testing.assert_allclose(d[:, 0, 3, 0], [0.0, 0.0, 0.0], atol=1e-7)  # score 0 -> x, y zeroed
    # Frame 1 sums: 14.4, 1.8, 0 (absent) -> persons 0, 1: (0.1, -0.1), (0.2, -0.2).
    np.testing.assert_allclose(d[:, 1, 5, 0], [0.1, -0.1, 0.8], atol=1e-6)
    np.testing.assert_allclose(d[:, 1, 5, 1], [0.2, -0.2, 0.1], atol=1e-6)
    assert not d[:, 2:].any()


def test_stgcn_kinetics_rejects_3d_layout():
    with pytest.raises(ValueError, match="score"):
        get_recipe("stgcn_kinetics")(seq_of(np.ones((1, 2, 25, 3))))


# =========================================================================== shared policies

RECIPES_3D = {"crossclr": 50, "agcn": 300, "sgn": 300, "raw": 300}


def realistic(layout: str, s: int = 2, t: int = 40) -> RawSequence:
    rng = np.random.default_rng(0)
    v = get_layout(layout).num_joints
    base = rng.normal(scale=0.3, size=(s, 1, v, 3)) + np.array([0.0, 0.0, 3.0])
    joints = base + 0.01 * rng.normal(size=(s, t, v, 3)).cumsum(axis=1)
    ids = np.repeat(np.arange(1, s + 1)[:, None], t, axis=1)
    return RawSequence("r", joints, np.ones((s, t), dtype=bool), layout=layout, body_ids=ids, source="r.skel")


@pytest.mark.parametrize("layout", ["ntu25", "kinect20"])
@pytest.mark.parametrize("name", sorted(RECIPES_3D))
def test_shape_and_dtype_for_both_kinect_layouts(name, layout):
    out = get_recipe(name)(realistic(layout))
    v = get_layout(layout).num_joints
    assert out.data.shape == (3, RECIPES_3D[name], v, 2)
    assert out.data.dtype == np.float32 and out.data.flags.c_contiguous
    assert np.isfinite(out.data).all()


@pytest.mark.parametrize("name", sorted(RECIPES_3D))
def test_single_frame_sequence_is_kept(name):
    out = get_recipe(name)(realistic("ntu25", s=1, t=1))
    assert out.data.shape[1] == RECIPES_3D[name]
    assert out.valid_frames == (50 if name == "crossclr" else 1)
    assert np.isfinite(out.data).all() and out.data.any()


@pytest.mark.parametrize("name", sorted(RECIPES_3D) + ["stgcn_kinetics"])
@pytest.mark.parametrize("frames", [0, 3])
def test_sequence_without_bodies_is_empty_error(name, frames):
    layout = "openpose18" if name == "stgcn_kinetics" else "ntu25"
    v = get_layout(layout).num_joints
    seq = RawSequence("e", np.zeros((2, frames, v, 3)), np.zeros((2, frames), dtype=bool),
                      layout=layout, source="empty.skeleton")
    with pytest.raises(SkeletonFileError) as err:
        get_recipe(name)(seq)
    assert err.value.reason == "empty" and err.value.path == "empty.skeleton"
