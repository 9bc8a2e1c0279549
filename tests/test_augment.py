"""Batched augmentations vs per-sample reference formulas, plus RNG, device and pipeline checks.

Each reference below is written the way the original research code works: one
sample at a time, in NumPy, from the parameters the batched transform drew
(``sample_params``), so the two must agree to rounding.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from skelssl.augment import (
    AxisMask,
    Compose,
    GaussianBlur,
    GaussianNoise,
    InpaintingMask,
    MotionShuffle,
    RandomFrameSampling,
    RandomRotation,
    Shear,
    SkeletonAdaIN,
    SkeletonMix,
    SpatialFlip,
    SpeedResample,
    TemporalCrop,
    TemporalFlip,
    TemporalResize,
    Transform,
    VirtualCamera,
    body_parts,
    build_pipeline,
    build_transform,
    list_pipelines,
    list_transforms,
    register_transform,
)
from skelssl.augment.base import Params, to_device
from skelssl.data.layouts import SkeletonLayout, get_layout, register_layout

# A 6-joint toy skeleton so the small cases exercise mirror pairs and body parts.
TOY = register_layout(
    SkeletonLayout(
        name="toy6_augment_test",
        joint_names=("pelvis", "neck", "arm_l", "arm_r", "leg_l", "leg_r"),
        bones=((1, 0), (2, 1), (3, 1), (4, 0), (5, 0)),
        center=0,
        mirror_pairs=((2, 3), (4, 5)),
        roles={"left_shoulder": 2, "right_shoulder": 3, "left_hip": 4, "right_hip": 5},
    ),
    overwrite=True,
)
N, C, T, V, M = 3, 3, 6, 6, 2
LENGTHS = torch.tensor([6, 3, 5])


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def x() -> torch.Tensor:
    return torch.randn(N, C, T, V, M, generator=gen(123), dtype=torch.float64)


def np_(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def assert_close(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray, atol: float = 1e-10) -> None:
    a = np_(a) if isinstance(a, torch.Tensor) else a
    b = np_(b) if isinstance(b, torch.Tensor) else b
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=atol)


def length_of(lengths: torch.Tensor | None, n: int) -> int:
    return T if lengths is None else int(lengths[n])


# --- per-sample references (C, T, V, M arrays) ------------------------------------


def ref_channel_matrix(xs: np.ndarray, mat: np.ndarray) -> np.ndarray:
    # (C, T, V, M) -> (T, V, M, C) @ mat.T -> back, as in the reference feeders.
    d = mat.shape[0]
    out = xs.copy()
    out[:d] = np.dot(xs[:d].transpose(1, 2, 3, 0), mat.T).transpose(3, 0, 1, 2)
    return out


def ref_crop(xs: np.ndarray, offset: int, length: int, ratio: float) -> np.ndarray:
    pad = int(length // ratio)
    clip = xs[:, :length]
    padded = np.concatenate((clip[:, :pad][:, ::-1], clip, clip[:, length - pad :][:, ::-1]), axis=1)
    out = xs.copy()
    start = offset + pad
    out[:, :length] = padded[:, start : start + length]
    return out


def ref_rotation(angles: np.ndarray) -> np.ndarray:
    ax, ay, az = angles
    rx = np.array([[1, 0, 0], [0, math.cos(ax), -math.sin(ax)], [0, math.sin(ax), math.cos(ax)]])
    ry = np.array([[math.cos(ay), 0, math.sin(ay)], [0, 1, 0], [-math.sin(ay), 0, math.cos(ay)]])
    rz = np.array([[math.cos(az), -math.sin(az), 0], [math.sin(az), math.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def ref_time_index(xs: np.ndarray, index: list[int]) -> np.ndarray:
    return xs[:, index]


def ref_blur(xs: np.ndarray, sigma: float, length: int, kernel: int, normalize: bool) -> np.ndarray:
    r = kernel // 2
    w = np.exp(-np.arange(-r, r + 1) ** 2 / (2 * sigma**2))
    if normalize:
        w = w / w.sum()
    out = xs.copy()
    for t in range(length):
        acc = np.zeros_like(xs[:, 0])
        for k in range(-r, r + 1):
            if 0 <= t + k < length:
                acc += w[k + r] * xs[:, t + k]
        out[:, t] = acc
    return out


def ref_linear_resize(xs: np.ndarray, length: int, size: int) -> np.ndarray:
    # F.interpolate(align_corners=False) grid, written with np.interp per series.
    src = np.clip((np.arange(size) + 0.5) * length / size - 0.5, 0, None)
    flat = xs[:, :length].transpose(0, 2, 3, 1).reshape(-1, length)
    res = np.stack([np.interp(src, np.arange(length), row) for row in flat])
    c, _, v, m = xs.shape
    return res.reshape(c, v, m, size).transpose(0, 3, 1, 2)


# --- equivalence tests ---------------------------------------------------------------


@pytest.mark.parametrize("beta", [0.5, 1.3])
def test_shear_matches_reference(x, beta):
    t = Shear(beta=beta, layout=TOY)
    params = t.sample_params(x, gen(1))
    mats = np_(params["matrix"])
    assert np.allclose(np.diagonal(mats, axis1=1, axis2=2), 1.0)
    off = mats[:, ~np.eye(3, dtype=bool)]
    assert np.all(np.abs(off) <= beta) and np.all(off != 0)
    out = t.apply(x, params)
    ref = np.stack([ref_channel_matrix(np_(x[n]), mats[n]) for n in range(N)])
    assert_close(out, ref)


@pytest.mark.parametrize("ratio", [6, 2, 1.5])
@pytest.mark.parametrize("lengths", [None, LENGTHS])
def test_temporal_crop_matches_crossclr(x, ratio, lengths):
    t = TemporalCrop(padding_ratio=ratio)
    seen = set()
    for seed in range(6):
        params = t.sample_params(x, gen(seed), lengths)
        out = t.apply(x, params, lengths)
        ref = []
        for n in range(N):
            length = length_of(lengths, n)
            off = int(params["offset"][n])
            pad = int(length // ratio)
            assert -pad <= off <= pad
            seen.add((n, off))
            ref.append(ref_crop(np_(x[n]), off, length, ratio))
        assert_close(out, np.stack(ref))
    assert len(seen) > N  # offsets actually vary


def test_temporal_crop_default_t50_offsets():
    # At T=50, gamma=6 the reference pads 8 frames and draws 17 start positions.
    xb = torch.randn(64, 3, 50, 4, 1, dtype=torch.float64, generator=gen(5))
    t = TemporalCrop(6)
    params = t.sample_params(xb, gen(2))
    offsets = params["offset"]
    assert offsets.min() >= -8 and offsets.max() <= 8 and len(set(offsets.tolist())) > 8
    out = t.apply(xb, params)
    for n in (0, 1, 2):
        assert_close(out[n], ref_crop(np_(xb[n]), int(offsets[n]), 50, 6))


def test_rotation_matches_reference(x):
    t = RandomRotation(angles=((-20, 20), (-40, 40), (-60, 60)), layout=TOY)
    params = t.sample_params(x, gen(3))
    ang = np_(params["angles"])
    assert np.all(np.abs(ang) <= np.radians([20, 40, 60]) + 1e-7)
    out = t.apply(x, params)
    ref = np.stack([ref_channel_matrix(np_(x[n]), ref_rotation(ang[n])) for n in range(N)])
    assert_close(out, ref)


def test_rotation_convention_and_main_axis():
    r = ref_rotation(np.radians([90.0, 0, 0]))
    assert np.allclose(r @ [0, 1, 0], [0, 0, 1])  # right-handed, active
    xb = torch.zeros(200, 3, 2, 2, 1)
    t = RandomRotation(angles=((0, 1), (0, 1), (0, 1)), main_axis_angles=(10, 30))
    ang = np.degrees(np_(t.sample_params(xb, gen(4))["angles"]))
    main = ang >= 10 - 1e-4
    assert np.all(main.sum(1) == 1)  # exactly one main axis per sample
    assert np.all(ang[~main] <= 1 + 1e-4) and np.all(ang[main] <= 30 + 1e-4)
    assert set(main.argmax(1).tolist()) == {0, 1, 2}


def test_strong_rotation_ranges_reproduce_aimclr_convention(x):
    # AimCLR builds the transpose of the standard matrix per axis and right-multiplies
    # (T, V, M, C) rows by its transpose again, i.e. rotates by minus the drawn angle;
    # strong.yaml therefore draws from negated ranges.
    degrees = np.array([12.0, 0.4, 0.7])
    aim = np.transpose(np_(x[0]), (1, 2, 3, 0))
    for axis in range(3):
        a = np.zeros(3)
        a[axis] = math.radians(degrees[axis])
        aim_matrix = ref_rotation(a).T
        aim = np.matmul(aim, aim_matrix.T)
    aim = np.transpose(aim, (3, 0, 1, 2))
    ours = RandomRotation().apply(x[:1], {"matrix": torch.as_tensor(ref_rotation(-np.radians(degrees)))[None]})
    assert_close(ours[0], aim)
    strong = build_pipeline("strong", layout="ntu25")
    rot = next(t for t in strong if isinstance(t, RandomRotation))
    assert rot.angles == ((-1.0, 0.0),) * 3 and rot.main_axis_angles == (-30.0, 0.0)


def test_rotation_2d_layout_uses_in_plane_angle():
    xb = torch.randn(4, 3, 5, 18, 1, dtype=torch.float64, generator=gen(0))
    t = RandomRotation(layout="openpose18")
    params = t.sample_params(xb, gen(1))
    assert params["matrix"].shape == (4, 2, 2)
    out = t.apply(xb, params)
    assert torch.equal(out[:, 2], xb[:, 2])  # the score channel is not rotated
    az = np_(params["angles"])[:, 2]
    for n in range(4):
        rot = np.array([[math.cos(az[n]), -math.sin(az[n])], [math.sin(az[n]), math.cos(az[n])]])
        assert_close(out[n], ref_channel_matrix(np_(xb[n]), rot))


@pytest.mark.parametrize("negate_x", [False, True])
def test_spatial_flip_matches_reference(x, negate_x):
    t = SpatialFlip(TOY, negate_x=negate_x, p=0.5)
    params = t.sample_params(x, gen(7))
    params["flip"] = torch.tensor([True, False, True])
    out = t.apply(x, params)
    perm = TOY.mirror_permutation
    for n in range(N):
        ref = np_(x[n]).copy()
        if params["flip"][n]:
            ref = ref[:, :, perm]
            if negate_x:
                ref[0] = -ref[0]
        assert_close(out[n], ref)
    assert_close(t.apply(out, params), x)  # flipping twice is the identity


def test_spatial_flip_ntu25_pairs():
    perm = get_layout("ntu25").mirror_permutation
    xb = torch.arange(25, dtype=torch.float32).view(1, 1, 1, 25, 1).expand(2, 3, 2, 25, 1).contiguous()
    out = SpatialFlip("ntu25", p=1.0)(xb, gen(0))
    assert torch.equal(out[0, 0, 0, :, 0], torch.as_tensor(perm, dtype=torch.float32))
    assert out[0, 0, 0, 4] == 8 and out[0, 0, 0, 21] == 23 and out[0, 0, 0, 20] == 20


def test_axis_mask_matches_reference(x):
    t = AxisMask(p=0.7)
    for seed in range(4):
        params = t.sample_params(x, gen(seed))
        out = t.apply(x, params)
        for n in range(N):
            ref = np_(x[n]).copy()
            axis = int(params["axis"][n])
            if axis >= 0:
                ref[axis] = 0.0
            assert_close(out[n], ref)


def test_gaussian_noise_matches_reference(x):
    t = GaussianNoise(mean=0.2, std=0.5, p=0.5)
    params = t.sample_params(x, gen(8))
    out = t.apply(x, params)
    drawn = params["index"].tolist()
    for n in range(N):
        ref = np_(x[n]).copy()
        if n in drawn:
            ref = ref + np_(params["noise"][drawn.index(n)])
        assert_close(out[n], ref)
    big = torch.zeros(64, 3, 20, 25, 2)
    noise = GaussianNoise(std=0.01, p=1.0)(big, gen(0))
    assert abs(noise.std().item() - 0.01) < 5e-4 and abs(noise.mean().item()) < 5e-4


@pytest.mark.parametrize("lengths", [None, LENGTHS])
def test_temporal_flip_matches_reference(x, lengths):
    t = TemporalFlip(p=0.5)
    params = {"flip": torch.tensor([True, True, False])}
    out = t.apply(x, params, lengths)
    for n in range(N):
        length = length_of(lengths, n)
        ref = np_(x[n]).copy()
        if params["flip"][n]:
            ref[:, :length] = ref[:, :length][:, ::-1]
        assert_close(out[n], ref)
    assert_close(t.apply(out, params, lengths), x)


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("lengths", [None, LENGTHS])
def test_gaussian_blur_matches_reference(x, normalize, lengths):
    t = GaussianBlur(kernel_size=5, sigma=(0.5, 2.0), normalize=normalize, p=0.6)
    params = t.sample_params(x, gen(9), lengths)
    params["on"] = torch.tensor([True, False, True])
    out = t.apply(x, params, lengths)
    for n in range(N):
        ref = np_(x[n])
        if params["on"][n]:
            ref = ref_blur(ref, float(params["sigma"][n]), length_of(lengths, n), 5, normalize)
        assert_close(out[n], ref)
    # The matrix form agrees with the applied result.
    b = t.blur_matrix(x, params, lengths)
    assert_close(torch.einsum("nts,ncsvm->nctvm", b, x), out)


def test_gaussian_blur_kernel15_matches_aimclr_style_conv(x):
    # AimCLR convolves (M, C, V, T) with a grouped, zero-padded, unnormalised 15-tap kernel.
    xb = torch.randn(2, 3, 20, 4, 2, dtype=torch.float64, generator=gen(1))
    t = GaussianBlur(normalize=False, p=1.0)
    params = t.sample_params(xb, gen(2))
    out = t.apply(xb, params)
    for n in range(2):
        sigma = float(params["sigma"][n])
        w = torch.exp(-torch.arange(-7, 8, dtype=torch.float64) ** 2 / (2 * sigma**2))
        weight = w.view(1, 1, 1, 15).repeat(3, 1, 1, 1)
        y = torch.nn.functional.conv2d(xb[n].permute(3, 0, 2, 1), weight, padding=(0, 7), groups=3)
        assert_close(out[n], y.permute(1, 3, 2, 0))


@pytest.mark.parametrize("lengths", [None, LENGTHS])
def test_speed_matches_reference(x, lengths):
    t = SpeedResample(speeds=(1, 2, 4, 8))
    params = t.sample_params(x, gen(1), lengths)
    params["speed"] = torch.tensor([2.0, 4.0, 8.0], dtype=x.dtype)
    out = t.apply(x, params, lengths)
    for n in range(N):
        length = length_of(lengths, n)
        s = int(params["speed"][n])
        index = [(t_ * s) % length for t_ in range(length)] + list(range(length, T))
        assert_close(out[n], ref_time_index(np_(x[n]), index))
    one = t.apply(x, {"speed": torch.ones(N, dtype=x.dtype)}, lengths)
    assert torch.equal(one, x)


def test_speed_labels_and_probs():
    xb = torch.zeros(400, 1, 4, 1, 1)
    params = SpeedResample(speeds=(1, 2, 4), probs=(0.0, 1.0, 3.0)).sample_params(xb, gen(0))
    assert set(params["speed_index"].tolist()) == {1, 2}
    assert torch.equal(params["speed"], torch.tensor([1.0, 2.0, 4.0])[params["speed_index"]])
    assert 0.65 < (params["speed_index"] == 2).float().mean() < 0.85


@pytest.mark.parametrize("lengths", [None, LENGTHS])
def test_motion_shuffle_frames_matches_reference(x, lengths):
    t = MotionShuffle()
    for seed in range(5):
        params = t.sample_params(x, gen(seed), lengths)
        out = t.apply(x, params, lengths)
        for n in range(N):
            length = length_of(lengths, n)
            order = params["order"][n].tolist()
            assert sorted(order[:length]) == list(range(length)) and order[length:] == list(range(length, T))
            assert order[:length] != list(range(length))  # ensure_changed
            assert_close(out[n], ref_time_index(np_(x[n]), order))


@pytest.mark.parametrize("lengths", [None, LENGTHS])
def test_motion_shuffle_segments_matches_reference(x, lengths):
    t = MotionShuffle(segments=3)
    for seed in range(5):
        params = t.sample_params(x, gen(seed), lengths)
        out = t.apply(x, params, lengths)
        for n in range(N):
            length = length_of(lengths, n)
            bounds = [k * length // 3 for k in range(4)]
            order = params["order"][n].tolist()
            assert sorted(order) == [0, 1, 2] and order != [0, 1, 2]
            pieces = [np_(x[n])[:, bounds[o] : bounds[o + 1]] for o in order] + [np_(x[n])[:, length:]]
            assert_close(out[n], np.concatenate(pieces, axis=1))


@pytest.mark.parametrize("lengths", [None, LENGTHS])
def test_random_frame_sampling_matches_reference(x, lengths):
    t = RandomFrameSampling(num_frames=4)
    params = t.sample_params(x, gen(2), lengths)
    out = t.apply(x, params, lengths)
    assert out.shape == (N, C, 4, V, M)
    for n in range(N):
        length = length_of(lengths, n)
        index = params["index"][n].tolist()
        assert index == sorted(index) and all(0 <= i < length for i in index)
        if length >= 4:
            assert len(set(index)) == 4
        assert_close(out[n], ref_time_index(np_(x[n]), index))
    if lengths is not None:
        assert torch.equal(t.output_lengths(lengths, out), torch.full((N,), 4))


@pytest.mark.parametrize("size", [4, 6, 11])
def test_temporal_resize_matches_reference(x, size):
    t = TemporalResize(size)
    out = t(x)
    ref = np.stack([ref_linear_resize(np_(x[n]), T, size) for n in range(N)])
    assert_close(out, ref)
    # The per-length path agrees with F.interpolate when every frame is valid.
    assert_close(t(x, lengths=torch.full((N,), T)), out)
    out_l = t(x, lengths=LENGTHS)
    for n in range(N):
        assert_close(out_l[n], ref_linear_resize(np_(x[n]), int(LENGTHS[n]), size))


def ref_adain(xs, xp, lp, length, a, swap_mean, swap_std, eps):
    out = xs.copy()
    d = xs.shape[0]
    for m in range(xs.shape[-1]):
        if not (np.any(xs[..., m] != 0) and np.any(xp[..., m] != 0)):
            continue
        mu = xs[:, :length, :, m].mean(axis=2, keepdims=True)  # (C, L, 1)
        r = xs[:, :length, :, m] - mu
        nu = r.mean(axis=1, keepdims=True)
        sd = r.std(axis=1, keepdims=True)
        mu_p_full = xp[:, :, :, m].mean(axis=2, keepdims=True)
        rp = xp[:, :lp, :, m] - mu_p_full[:, :lp]
        sd_p = rp.std(axis=1, keepdims=True)
        mu_p = mu_p_full[:, [t % lp for t in range(length)]]
        new_sd = (1 - a) * sd + a * sd_p
        centred = (r - nu) * (new_sd / (sd + eps)) if swap_std else r - nu
        new_mu = (1 - a) * mu + a * mu_p if swap_mean else mu
        out[:d, :length, :, m] = centred + nu + new_mu
    return out


@pytest.mark.parametrize("swap", [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize("lengths", [None, LENGTHS])
def test_adain_matches_reference(x, swap, lengths):
    xb = x.clone()
    xb[2, :, :, :, 1] = 0.0  # sample 2 has a single body
    t = SkeletonAdaIN(swap_mean=swap[0], swap_std=swap[1], alpha=(0.3, 1.0), p=1.0)
    params = t.sample_params(xb, gen(4), lengths)
    out = t.apply(xb, params, lengths)
    for n in range(N):
        pn = int(params["partner"][n])
        assert pn != n
        ref = ref_adain(
            np_(xb[n]), np_(xb[pn]), length_of(lengths, pn), length_of(lengths, n),
            float(params["alpha"][n]), swap[0], swap[1], t.eps,
        )
        assert_close(out[n], ref, atol=1e-9)
    assert torch.equal(out[2, :, :, :, 1], xb[2, :, :, :, 1])  # absent body stays zero


def test_adain_full_swap_transfers_statistics():
    xb = torch.randn(2, 3, 30, 6, 1, dtype=torch.float64, generator=gen(0))
    xb[1] = xb[1] * 3 + 2
    params = {"partner": torch.tensor([1, 0]), "alpha": torch.ones(2, dtype=xb.dtype), "on": torch.tensor([True, True])}
    spatial_mean = lambda z: z.mean(dim=2, keepdim=True)  # noqa: E731  (per sample: C, T, V, M)
    # Mean swap alone: the output's per-frame centroid is the partner's trajectory.
    out = SkeletonAdaIN(swap_std=False, eps=0.0).apply(xb, params)
    assert_close(spatial_mean(out[0]), spatial_mean(xb[1]), atol=1e-9)
    assert_close(out[0] - spatial_mean(out[0]), xb[0] - spatial_mean(xb[0]), atol=1e-9)
    # Std swap alone: each joint's motion amplitude about the centroid is the partner's.
    out = SkeletonAdaIN(swap_mean=False, eps=0.0).apply(xb, params)
    amp = lambda z, ref: (z - spatial_mean(ref)).std(dim=1, unbiased=False)  # noqa: E731
    assert_close(amp(out[0], xb[0]), amp(xb[1], xb[1]), atol=1e-9)


def ref_mix(mode, xs, xp, params, n):
    if mode == "mixup":
        lam = float(params["lam"][n])
        return lam * xs + (1 - lam) * xp
    out = xs.copy()
    if mode in ("cutmix_joints", "cutmix_parts"):
        for v in range(xs.shape[2]):
            if params["joint_mask"][n, v]:
                out[:, :, v] = xp[:, :, v]
        return out
    if mode == "cutmix_frames":
        for t in range(xs.shape[1]):
            if params["frame_mask"][n, t]:
                out[:, t] = xp[:, t]
        return out
    start, size = int(params["start"][n]), int(params["size"][n])
    if size:
        out[:, start : start + size] = ref_linear_resize(xp, xs.shape[1], size)
    return out


@pytest.mark.parametrize("mode", SkeletonMix.MODES)
def test_skeleton_mix_matches_reference(x, mode):
    t = SkeletonMix(mode, alpha=0.8, p=0.8, layout=TOY)
    for seed in range(3):
        params = t.sample_params(x, gen(seed))
        res = t.apply(x, params)
        assert torch.equal(res.lam, params["lam"]) and torch.equal(res.index, params["partner"])
        for n in range(N):
            pn = int(params["partner"][n])
            assert pn != n
            assert_close(res.x[n], ref_mix(mode, np_(x[n]), np_(x[pn]), params, n))
            lam = float(res.lam[n])
            assert 0.0 <= lam <= 1.0
            if mode in ("cutmix_joints", "cutmix_parts"):
                assert lam == pytest.approx(1 - float(params["joint_mask"][n].sum()) / V)
            elif mode == "cutmix_frames":
                assert lam == pytest.approx(1 - float(params["frame_mask"][n].sum()) / T)
            elif mode == "resizemix":
                assert lam == pytest.approx(1 - int(params["size"][n]) / T)


def test_body_parts():
    assert body_parts(TOY) == {
        "trunk": (0, 1), "left_arm": (2,), "right_arm": (3,), "left_leg": (4,), "right_leg": (5,),
    }
    ntu = body_parts("ntu25")
    assert ntu["left_arm"] == (4, 5, 6, 7, 21, 22) and ntu["right_leg"] == (16, 17, 18, 19)
    assert ntu["trunk"] == (0, 1, 2, 3, 20)
    op = body_parts("openpose18")
    assert op["right_leg"] == (8, 9, 10) and op["right_arm"] == (2, 3, 4)
    assert sorted(sum(op.values(), ())) == list(range(18))


@pytest.mark.parametrize("per_frame", [False, True])
@pytest.mark.parametrize("lengths", [None, LENGTHS])
def test_virtual_camera_matches_reference(x, per_frame, lengths):
    xb = x.clone()
    xb[1, :, :, :, 1] = 0.0  # absent second body
    t = VirtualCamera(
        angles={"y": [0, 60, 120, 180, 240, 300]}, angle_ranges={"x": [-10, 10]},
        distances=[0, 1, 2], unit_distance=0.5, per_frame=per_frame, layout=TOY,
    )
    params = t.sample_params(xb, gen(6), lengths)
    out = t.apply(xb, params, lengths)
    ang = np.degrees(np_(params["angles"]))
    idx = np_(params["angle_index"])
    assert np.allclose(ang[..., 1], np.array([0, 60, 120, 180, 240, 300])[idx[..., 1]])
    assert np.all(idx[..., 0] == -1) and np.all(np.abs(ang[..., 0]) <= 10 + 1e-4) and np.all(ang[..., 2] == 0)
    assert np.allclose(np_(params["translation"])[..., 2], 0.5 * np_(params["distance_index"]))
    for n in range(N):
        xs = np_(xb[n])
        ref = xs.copy()
        pivot = xs[:, 0, TOY.center, 0]
        for t_ in range(length_of(lengths, n)):
            a = np_(params["angles"][n, t_] if per_frame else params["angles"][n])
            tr = np_(params["translation"][n, t_] if per_frame else params["translation"][n])
            rot = ref_rotation(a)
            for m in range(M):
                if np.any(xs[:, t_, :, m] != 0):
                    ref[:, t_, :, m] = (rot @ (xs[:, t_, :, m] - pivot[:, None])) + pivot[:, None] + tr[:, None]
        assert_close(out[n], ref)


def test_virtual_camera_origin_pivot_pure_translation():
    xb = torch.randn(4, 3, 5, 6, 1, generator=gen(0))
    t = VirtualCamera(distances=[2.0], unit_distance=1.5, pivot="origin")
    out = t(xb, gen(1))
    assert torch.allclose(out - xb, torch.tensor([0.0, 0.0, 3.0]).view(1, 3, 1, 1, 1).expand_as(xb))


@pytest.mark.parametrize("lengths", [None, LENGTHS])
def test_inpainting_mask_matches_reference(x, lengths):
    t = InpaintingMask(frame_ratio=0.34, joint_ratio=0.2, cell_ratio=0.1, mask_value=-7.0)
    params = t.sample_params(x, gen(3), lengths)
    res = t.apply(x, params, lengths)
    assert res.mask.shape == (N, 1, T, V, 1) and res.mask.dtype == torch.bool
    for n in range(N):
        length = length_of(lengths, n)
        mask = np_(params["mask"][n])
        assert not mask[length:].any()
        full_frames = mask[:length].all(axis=1).sum()
        full_joints = mask[:length].all(axis=0).sum()
        assert full_frames >= round(0.34 * length) and full_joints >= round(0.2 * V)
        ref = np_(x[n]).copy()
        for t_ in range(T):
            for v in range(V):
                if mask[t_, v]:
                    ref[:, t_, v] = -7.0
        assert_close(res.x[n], ref)


def test_inpainting_mask_exact_counts():
    xb = torch.zeros(8, 3, 20, 25, 1)
    lengths = torch.tensor([20, 19, 10, 5, 20, 13, 7, 1])
    frames = InpaintingMask(frame_ratio=0.5).sample_params(xb, gen(0), lengths)["mask"]
    assert frames.all(2).sum(1).tolist() == [math.floor(0.5 * int(l) + 0.5) for l in lengths]
    cells = InpaintingMask(cell_ratio=0.3).sample_params(xb, gen(0), lengths)["mask"]
    assert cells.sum((1, 2)).tolist() == [math.floor(0.3 * int(l) * 25 + 0.5) for l in lengths]


# --- whole-pipeline equivalence -------------------------------------------------------


def test_strong_pipeline_matches_per_sample_composition():
    xb = torch.randn(4, 3, 12, 25, 2, dtype=torch.float64, generator=gen(11))
    pipe = build_pipeline("strong", layout="ntu25")
    res = pipe.run(xb, gen(12))
    crop, shear, flip, rot, tflip, noise, blur, amask = res.params
    perm = get_layout("ntu25").mirror_permutation
    for n in range(4):
        s = ref_crop(np_(xb[n]), int(crop["offset"][n]), 12, 6)
        s = ref_channel_matrix(s, np_(shear["matrix"][n]))
        if flip["flip"][n]:
            s = s[:, :, perm]
        s = ref_channel_matrix(s, ref_rotation(np_(rot["angles"][n])))
        if tflip["flip"][n]:
            s = s[:, ::-1]
        drawn = noise["index"].tolist()
        if n in drawn:
            s = s + np_(noise["noise"][drawn.index(n)])
        if blur["on"][n]:
            s = ref_blur(s, float(blur["sigma"][n]), 12, 15, normalize=False)
        if amask["axis"][n] >= 0:
            s = s.copy()
            s[int(amask["axis"][n])] = 0.0
        assert_close(res.x[n], s, atol=1e-9)
    assert torch.equal(pipe.replay(xb, res.params), res.x)


# --- identities ---------------------------------------------------------------------


def test_identity_cases(x):
    g = gen(0)
    assert torch.equal(Shear(beta=0.0)(x, g), x)
    assert torch.equal(SpeedResample(speeds=(1,))(x, g), x)
    assert torch.equal(SpeedResample(speeds=(1,))(x, g, LENGTHS), x)
    assert torch.allclose(RandomRotation(angles=((0, 0), (0, 0), (0, 0)))(x, g), x)
    assert torch.equal(TemporalCrop(7)(x, g), x)  # T // 7 = 0 frames of padding: nothing to crop
    assert torch.equal(TemporalResize(T)(x), x)
    assert torch.equal(RandomFrameSampling(T)(x, g), x)
    assert torch.allclose(GaussianBlur(sigma=(1e-3, 1e-3), p=1.0)(x, g), x)
    for t in (
        Shear(p=0.0), TemporalCrop(2, p=0.0), RandomRotation(p=0.0), SpatialFlip(TOY, p=0.0),
        AxisMask(p=0.0), GaussianNoise(p=0.0), TemporalFlip(p=0.0), GaussianBlur(p=0.0),
        MotionShuffle(p=0.0), SkeletonAdaIN(p=0.0),
    ):
        assert torch.equal(t(x, g), x), t
    assert torch.equal(SkeletonMix("cutmix_frames", p=0.0)(x, g).x, x)
    assert torch.equal(InpaintingMask(frame_ratio=0.5, p=0.0)(x, g).x, x)
    flip = SpatialFlip(TOY, negate_x=True, p=1.0)
    assert torch.equal(flip(flip(x, g), g), x)
    tflip = TemporalFlip(p=1.0)
    assert torch.equal(tflip(tflip(x, g), g), x)


def test_temporal_crop_p1_at_t6_moves_frames(x):
    # At T=6 and gamma=6 the pad is 1 frame, so offsets are -1, 0 or 1.
    t = TemporalCrop(6)
    offsets = torch.cat([t.sample_params(x, gen(s))["offset"] for s in range(10)])
    assert set(offsets.tolist()) == {-1, 0, 1}


# --- randomness, devices, dtypes ----------------------------------------------------------


def all_ops():
    return [
        Shear(), TemporalCrop(2), RandomRotation(), SpatialFlip(TOY), AxisMask(), GaussianNoise(),
        TemporalFlip(), GaussianBlur(), SpeedResample(), MotionShuffle(), MotionShuffle(3),
        RandomFrameSampling(4), SkeletonAdaIN(),
        VirtualCamera(angles={"y": [0, 90, 180]}, distances=[0, 1], layout=TOY),
        InpaintingMask(frame_ratio=0.3, joint_ratio=0.2), *(SkeletonMix(m, layout=TOY) for m in SkeletonMix.MODES),
    ]


def first(out):
    return out if isinstance(out, torch.Tensor) else out[0]


@pytest.mark.parametrize("op", all_ops(), ids=lambda o: type(o).__name__ + getattr(o, "mode", ""))
def test_reproducible_and_seed_dependent(x, op):
    a = first(op(x, gen(42)))
    b = first(op(x, gen(42)))
    assert torch.equal(a, b)
    outs = [first(op(x, gen(s))) for s in range(6)]
    assert any(not torch.equal(outs[0], o) for o in outs[1:])


@pytest.mark.parametrize("op", all_ops(), ids=lambda o: type(o).__name__ + getattr(o, "mode", ""))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_and_device_preserved(x, op, dtype):
    xb = x.to(dtype)
    params = op.sample_params(xb, gen(0))
    for v in params.values():
        assert v.device == xb.device
        if v.is_floating_point():
            assert v.dtype == dtype
    out = op.apply(xb, params)
    for t in (out,) if isinstance(out, torch.Tensor) else (out[0],):
        assert t.device == xb.device and t.dtype == dtype


@pytest.mark.parametrize("op", [o for o in all_ops() if isinstance(o, Transform)], ids=lambda o: type(o).__name__)
def test_inplace_variant_matches_and_inputs_untouched(x, op):
    params = op.sample_params(x, gen(1), LENGTHS)
    before = x.clone()
    out = op.apply(x, params, LENGTHS)
    assert torch.equal(x, before)
    assert torch.equal(op.apply_(x.clone(), params, LENGTHS), out)
    # Non-contiguous input (e.g. a permuted view) gives the same result.
    nc = x.permute(0, 2, 1, 3, 4).contiguous().permute(0, 2, 1, 3, 4)
    assert not nc.is_contiguous()
    assert torch.equal(op.apply(nc, params, LENGTHS), out)


@pytest.mark.parametrize("name", ["skeletonclr", "strong", "view_distance", "assl"])
def test_pipeline_never_writes_its_input(name):
    xb = torch.randn(6, 3, 50, 25, 2, generator=gen(0))
    before = xb.clone()
    pipe = build_pipeline(name, layout="ntu25")
    res = pipe.run(xb, gen(3))
    assert torch.equal(xb, before)
    assert torch.equal(pipe.replay(xb, res.params), res.x)
    # Every step out of place gives the same batch as the pipeline's in-place reuse.
    y = xb
    for t, p in zip(pipe, res.params):
        y = t.apply(y, p)
    assert torch.equal(y, res.x)


def test_params_independent_of_input_dtype(x):
    # Float draws are float32 on the generator, so float32 and float64 inputs see the same augmentation.
    p32 = Shear().sample_params(x.float(), gen(5))
    p64 = Shear().sample_params(x, gen(5))
    assert torch.equal(p32["matrix"].double(), p64["matrix"])


def test_to_device_casts_floats_only(x):
    params: Params = {"a": torch.zeros(2), "b": torch.zeros(2, dtype=torch.long)}
    moved = to_device(params, x)
    assert moved["a"].dtype == torch.float64 and moved["b"].dtype == torch.long


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("name", ["skeletonclr", "strong", "view_distance", "assl"])
def test_cuda_matches_cpu_with_cpu_generator(name):
    xb = torch.randn(8, 3, 50, 25, 2, generator=gen(0))
    pipe = build_pipeline(name, layout="ntu25")
    cpu = pipe(xb, gen(1))
    gpu = pipe(xb.cuda(), gen(1))
    assert gpu.device.type == "cuda"
    assert torch.allclose(gpu.cpu(), cpu, atol=1e-4)
    dev_gen = torch.Generator(device="cuda").manual_seed(1)
    assert pipe(xb.cuda(), dev_gen).device.type == "cuda"


def test_generator_none_uses_global_rng(x):
    torch.manual_seed(3)
    a = Shear()(x)
    torch.manual_seed(3)
    b = Shear()(x)
    assert torch.equal(a, b)


def test_two_views_from_one_generator_differ(x):
    pipe = build_pipeline("skeletonclr", layout="ntu25")
    g = gen(0)
    assert not torch.equal(pipe(x, g), pipe(x, g))


# --- pipelines and registry ---------------------------------------------------------


def test_shipped_pipelines():
    assert {"skeletonclr", "strong", "view_distance", "assl"} <= set(list_pipelines())
    clr = build_pipeline("skeletonclr", layout="ntu25")
    assert isinstance(clr, Compose) and [type(t) for t in clr] == [TemporalCrop, Shear]
    assert clr[0].padding_ratio == 6 and clr[1].beta == 0.5
    strong = build_pipeline("strong", layout="ntu25")
    assert len(strong) >= 7
    assert {type(t) for t in strong} == {
        TemporalCrop, Shear, SpatialFlip, RandomRotation, TemporalFlip, GaussianNoise, GaussianBlur, AxisMask,
    }
    xb = torch.randn(4, 3, 50, 25, 2, generator=gen(0))
    for name in list_pipelines():
        out = build_pipeline(name, layout="ntu25")(xb, gen(1))
        assert out.dtype == xb.dtype and out.shape[:2] == (4, 3) and out.shape[3:] == (25, 2)
    assert build_pipeline("assl", layout="ntu25")(xb, gen(1)).shape[2] == 40


def test_normalised_blur_pipelines_differ_from_aimclrs_only_in_the_blur_kernel():
    # strong_normalised_blur (the N-UCLA extreme view) = strong with a kernel summing to 1: the same
    # transforms in the same order; a constant clip stays constant away from the edges instead of
    # being scaled by the kernel's sum.
    for plain, normalised in (("strong", "strong_normalised_blur"), ("extreme", "extreme_normalised_blur")):
        a, b = build_pipeline(plain, layout="ntu25"), build_pipeline(normalised, layout="ntu25")
        assert [type(t) for t in a] == [type(t) for t in b]
        for ta, tb in zip(a, b):
            if isinstance(ta, GaussianBlur):
                assert ta.normalize is False and tb.normalize is True
                assert (ta.kernel_size, ta.sigma, ta.p) == (tb.kernel_size, tb.sigma, tb.p)
            else:
                assert repr(ta) == repr(tb)
    ones = torch.ones(2, 3, 40, 25, 1)
    blur = next(t for t in build_pipeline("strong_normalised_blur", layout="ntu25") if isinstance(t, GaussianBlur))
    params = {"on": torch.ones(2, dtype=torch.bool), "sigma": torch.tensor([2.0, 2.0])}
    out = blur.apply(ones, params)
    assert torch.allclose(out[:, :, 7:-7], ones[:, :, 7:-7], atol=1e-5)


def test_include_sets_parameters_of_the_transforms_it_splices_in():
    spec = {"transforms": [{"include": "skeletonclr", "set": {"shear": {"beta": 0.1}}}]}
    crop, shear = build_pipeline(spec, layout="ntu25")
    assert isinstance(shear, Shear) and shear.beta == 0.1 and crop.padding_ratio == 6
    with pytest.raises(ValueError, match="did you mean 'shear'"):
        build_pipeline({"transforms": [{"include": "skeletonclr", "set": {"shaer": {"beta": 0.1}}}]}, layout="ntu25")
    with pytest.raises(ValueError, match="only 'include' and 'set'"):
        build_pipeline({"transforms": [{"include": "skeletonclr", "p": 0.5}]}, layout="ntu25")


def test_pipeline_from_yaml_file_dict_and_list(tmp_path, x):
    path = tmp_path / "mine.yaml"
    path.write_text(
        "name: mine\ntransforms:\n  - include: skeletonclr\n  - name: temporal_flip\n    p: 1.0\n", encoding="utf-8"
    )
    from_file = build_pipeline(path, layout=TOY)
    assert from_file.name == "mine" and [type(t) for t in from_file] == [TemporalCrop, Shear, TemporalFlip]
    from_str = build_pipeline(str(path), layout=TOY)
    spec = {
        "transforms": [
            {"name": "temporal_crop", "padding_ratio": 6},
            {"name": "shear", "beta": 0.5},
            {"name": "temporal_flip", "p": 1.0},
        ]
    }
    from_dict = build_pipeline(spec, layout=TOY)
    from_list = build_pipeline(spec["transforms"], layout=TOY)
    outs = [p(x, gen(9)) for p in (from_file, from_str, from_dict, from_list)]
    assert all(torch.equal(outs[0], o) for o in outs[1:])


def test_pipeline_errors(tmp_path):
    with pytest.raises(KeyError, match="unknown augmentation pipeline"):
        build_pipeline("no_such_pipeline")
    with pytest.raises(FileNotFoundError):
        build_pipeline(tmp_path / "missing.yaml")
    with pytest.raises(KeyError, match="unknown transform"):
        build_pipeline([{"name": "no_such_transform"}])
    with pytest.raises(ValueError, match="unknown parameter"):
        build_pipeline([{"name": "shear", "amplitude": 0.5}])
    with pytest.raises(ValueError, match="needs a layout"):
        build_pipeline([{"name": "spatial_flip"}])
    with pytest.raises(TypeError, match="call it directly"):
        build_pipeline([{"name": "skeleton_mix"}])
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps: []\n", encoding="utf-8")
    with pytest.raises(ValueError, match="transforms"):
        build_pipeline(bad)
    loop = tmp_path / "loop.yaml"
    loop.write_text(f"transforms:\n  - include: {loop}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="nest too deeply"):
        build_pipeline(loop)


def test_register_custom_transform(x):
    @register_transform("test_scale_by_two", overwrite=True)
    class ScaleByTwo(Transform):
        def sample_params(self, x, generator=None, lengths=None):
            return {}

        def _apply(self, x, params, lengths):
            return x * 2

    assert "test_scale_by_two" in list_transforms()
    pipe = build_pipeline([{"name": "test_scale_by_two"}, {"name": "shear", "beta": 0.0}])
    assert torch.equal(pipe(x), x * 2)
    assert isinstance(build_transform({"name": "test_scale_by_two"}), ScaleByTwo)


def test_compose_threads_lengths(x):
    pipe = build_pipeline(
        [
            {"name": "temporal_crop", "padding_ratio": 2},
            {"name": "random_frames", "num_frames": 4},
            {"name": "temporal_flip", "p": 1.0},
        ]
    )
    res = pipe.run(x, gen(0), lengths=LENGTHS)
    assert res.x.shape[2] == 4 and torch.equal(res.lengths, torch.full((N,), 4))
    assert torch.equal(pipe.replay(x, res.params, lengths=LENGTHS), res.x)
    assert torch.equal(pipe(x, gen(0), lengths=LENGTHS), res.x)


def test_input_validation(x):
    with pytest.raises(ValueError, match=r"\(N, C, T, V, M\)"):
        Shear()(x[0])
    with pytest.raises(TypeError, match="floating-point"):
        Shear()(x.long())
    with pytest.raises(ValueError, match="lengths has"):
        TemporalFlip()(x, gen(0), torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="joints"):
        SpatialFlip("ntu25")(x, gen(0))
    with pytest.raises(ValueError):
        Shear(p=1.5)
