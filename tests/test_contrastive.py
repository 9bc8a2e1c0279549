"""The method layer (bases, build_method, setup, API) and the methods on it: view/distance SimCLR, MCC, pretexts.

Losses, the virtual camera, clip sampling and MCC's targets are checked
against the papers' equations on small hand-made tensors; the SimCLR DDP test
runs two gloo processes and compares with one process on the same global batch.
"""

from __future__ import annotations

import itertools
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import skelssl
import skelssl.methods.mcc as mcc_module
from skelssl.augment import ObservationCamera, build_pipeline
from skelssl.augment.base import gather_frames, valid_lengths
from skelssl.augment.temporal import SpeedClip, clip_index
from skelssl.data.layouts import SkeletonLayout
from skelssl.losses import info_nce_loss, nt_xent_loss, triplet_loss
from skelssl.methods import (MCC, DatasetInfo, Method, SimCLR, SkeletonCLR, build_method, create_method,
                             register_method)
from skelssl.methods.components import ProjectedEncoder
from skelssl.methods.mcc import interpolation_index
from skelssl.methods.momentum import cosine_momentum
from skelssl.models import create_encoder

TINY_STGCN = {"name": "stgcn", "channels": [4, 4, 4, 4, 4, 4, 4, 4, 4, 8]}


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ----------------------------------------------------------------------------- NT-Xent (Gao et al. eq. 4-5)


def nt_xent_by_loop(z_a: torch.Tensor, z_b: torch.Tensor, tau: float) -> torch.Tensor:
    """Eq. (4)-(5) literally: samples interleaved as (2k-1, 2k), every ℓ(i, j) summed by a Python loop."""
    n = z_a.shape[0]
    z = torch.stack([z_a, z_b], dim=1).reshape(2 * n, -1)  # z[2k] and z[2k+1] are a positive pair

    def sim(u, v):
        return (u @ v) / (u.norm() * v.norm())

    def ell(i, j):
        denominator = sum(torch.exp(sim(z[i], z[k]) / tau) for k in range(2 * n) if k != i)
        return -torch.log(torch.exp(sim(z[i], z[j]) / tau) / denominator)

    return sum(ell(2 * k, 2 * k + 1) + ell(2 * k + 1, 2 * k) for k in range(n)) / (2 * n)


def test_nt_xent_value_and_gradient_equal_the_direct_loop_over_2n_samples():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    loss = nt_xent_loss(F.normalize(a, dim=1), F.normalize(b, dim=1), temperature=0.3)
    reference = nt_xent_by_loop(a, b, 0.3)
    torch.testing.assert_close(loss, reference.to(loss.dtype))
    grad_a, grad_b = torch.autograd.grad(loss, (a, b))
    ref_a, ref_b = torch.autograd.grad(reference, (a, b))
    torch.testing.assert_close(grad_a, ref_a.to(grad_a.dtype), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(grad_b, ref_b.to(grad_b.dtype), atol=1e-6, rtol=1e-5)


def test_nt_xent_of_shards_against_gathered_keys_averages_to_the_full_loss():
    g = torch.Generator().manual_seed(1)
    a, b = (F.normalize(torch.randn(6, 3, generator=g), dim=1) for _ in range(2))
    full = nt_xent_loss(a, b, 0.5)
    shards = [nt_xent_loss(a[s:s + 2], b[s:s + 2], 0.5, keys_a=a, keys_b=b, offset=s) for s in (0, 2, 4)]
    torch.testing.assert_close(torch.stack(shards).mean(), full)
    # A perfect embedding (partners identical, others orthogonal) has the smallest possible loss.
    e = torch.eye(4)
    assert nt_xent_loss(e, e, 0.1) < nt_xent_loss(e, e.roll(1, 0), 0.1)
    with pytest.raises(ValueError):
        nt_xent_loss(a[:2], b[:2], 0.5, keys_a=a, keys_b=b, offset=5)


# ----------------------------------------------------------------------------- virtual camera (eq. 1-3)

TRI = SkeletonLayout(name="tri3", joint_names=("hip", "knee", "foot"), bones=((1, 0), (2, 1)), center=0,
                     mirror_pairs=())


def passive(axis: str, deg: float) -> torch.Tensor:
    """The coordinate transform of rotating the axes anticlockwise about ``axis`` (by hand)."""
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return torch.tensor({"x": [[1, 0, 0], [0, c, s], [0, -s, c]],
                         "y": [[c, 0, -s], [0, 1, 0], [s, 0, c]],
                         "z": [[c, s, 0], [-s, c, 0], [0, 0, 1]]}[axis], dtype=torch.float32)


def three_joint_sequence() -> torch.Tensor:
    # (1, 3, T=2, V=3, M=1): hip at (1, 2, 3) then (1.5, 2, 3); knee and foot below it.
    frames = torch.tensor([[[1.0, 2.0, 3.0], [1.0, 1.5, 3.0], [1.2, 1.0, 3.0]],
                           [[1.5, 2.0, 3.0], [1.5, 1.5, 3.2], [1.4, 1.0, 3.1]]])  # (T, V, 3)
    return frames.permute(2, 0, 1)[None, :, :, :, None].contiguous()


def test_virtual_camera_rotates_and_translates_a_three_joint_skeleton_as_eq_1():
    x = three_joint_sequence()
    cam = ObservationCamera(angles={"y": [90]}, distances=[2], unit_distance=0.5, layout=TRI)
    out = cam(x)
    # v' = R (v - d): origin at the first frame's hip, camera 1 m in front of the subject (d = (0, 0, -1)).
    v = x[0, :, :, :, 0].permute(1, 2, 0)  # (T, V, 3)
    shifted = v - v[0, 0] - torch.tensor([0.0, 0.0, -1.0])
    expected = shifted @ passive("y", 90).T
    torch.testing.assert_close(out[0, :, :, :, 0].permute(1, 2, 0), expected)
    # By hand for the first hip: at the origin, 1 m deep -> seen along the camera's -x after 90 deg about y.
    torch.testing.assert_close(out[0, :, 0, 0, 0], torch.tensor([-1.0, 0.0, 0.0]), atol=1e-6, rtol=0)
    p = cam.sample_params(x)
    assert p["angle_index"].tolist() == [[-1, 0, -1]] and p["distance_index"].tolist() == [0]


def test_virtual_camera_composes_r_x_r_y_r_z_in_the_papers_order_with_the_printed_z_matrix():
    x = three_joint_sequence()
    cam = ObservationCamera(angles={"x": [60], "y": [120], "z": [300]}, layout=TRI)
    params = cam.sample_params(x)
    R = passive("x", 60) @ passive("y", 120) @ passive("z", 300)
    torch.testing.assert_close(params["matrix"][0], R)
    # The matrix the paper prints (as "R^y") is this R^z: a rotation in the x-y plane.
    c, s = math.cos(math.radians(300)), math.sin(math.radians(300))
    torch.testing.assert_close(passive("z", 300), torch.tensor([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]]))
    v = x[0, :, :, :, 0].permute(1, 2, 0)
    torch.testing.assert_close(cam.apply(x, params)[0, :, :, :, 0].permute(1, 2, 0), (v - v[0, 0]) @ R.T)
    # A rigid transform: every bone keeps its length.
    bones = lambda y: (y[:, :, 1:] - y[:, :, :-1]).norm(dim=1)
    torch.testing.assert_close(bones(cam.apply(x, params)), bones(x))


def test_virtual_camera_per_frame_draws_and_padding():
    torch.manual_seed(0)
    x = torch.randn(3, 3, 6, 3, 2)
    x[1, :, 4:] = 0  # padding frames
    x[2, :, :, :, 1] = 0  # an absent second body
    cam = ObservationCamera(angles={k: [0, 60, 120, 180, 240, 300] for k in "xyz"}, distances=range(6),
                            unit_distance=0.5, per_frame=True, layout=TRI)
    params = cam.sample_params(x)
    assert params["matrix"].shape == (3, 6, 3, 3) and params["distance_index"].shape == (3, 6)
    out = cam.apply(x, params)
    assert torch.equal(out[1, :, 4:], torch.zeros_like(out[1, :, 4:]))
    assert torch.equal(out[2, :, :, :, 1], torch.zeros_like(out[2, :, :, :, 1]))
    t = 3  # each frame uses its own camera: check one by hand
    origin = x[0, :, 0, 0, 0]
    d = params["distance_index"][0, t] * 0.5 * torch.tensor([0.0, 0.0, -1.0])
    expected = params["matrix"][0, t] @ (x[0, :, t, :, 0] - origin[:, None] - d[:, None])
    torch.testing.assert_close(out[0, :, t, :, 0], expected)
    # The shipped presets draw only their axes.
    ab = build_pipeline("simclr_view_ab", layout="ntu25")[0].sample_params(torch.randn(64, 3, 2, 25, 1))
    assert (ab["angle_index"][:, 2] == -1).all() and (ab["angle_index"][:, :2] >= 0).all()
    assert (ab["distance_index"] == 0).all()
    dist = build_pipeline("simclr_distance", layout="ntu25")[0].sample_params(torch.randn(200, 3, 2, 25, 1))
    assert (dist["angle_index"] == -1).all() and set(dist["distance_index"].tolist()) == set(range(6))


# ----------------------------------------------------------------------------- MCC's losses (eq. 1-2 as the text says)


def test_triplet_loss_by_hand_pulls_the_positive_closer_than_the_negative():
    b = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    p = torch.tensor([[0.3, 0.4], [0.0, 0.1]])  # d = 0.5, 0.1
    n = torch.tensor([[0.6, 0.0], [1.0, 0.0]])  # d = 0.6, 1.0
    torch.testing.assert_close(triplet_loss(b, p, n, margin=0.15, reduction="none"), torch.tensor([0.05, 0.0]))
    torch.testing.assert_close(triplet_loss(b, p, n, margin=0.15), torch.tensor(0.025))
    torch.testing.assert_close(triplet_loss(b, None, n, margin=0.7, reduction="none"), torch.tensor([0.1, 0.0]))
    # The loss falls when the positive moves towards the basic clip (the printed eq. 1 would rise).
    assert triplet_loss(b, 0.5 * p, n, 0.15) < triplet_loss(b, p, n, 0.15)


def test_nce_has_the_positive_similarity_in_the_numerator():
    q = F.normalize(torch.tensor([[1.0, 0.2, 0.0]]), dim=1)
    pos = F.normalize(torch.tensor([[0.9, 0.1, 0.3]]), dim=1)
    bank = F.normalize(torch.tensor([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.5], [0.2, 0.2, 1.0]]), dim=1)
    sims = torch.cat([(q * pos).sum(1), (q @ bank.T)[0]]) / 0.5
    expected = -torch.log(torch.exp(sims[0]) / torch.exp(sims).sum())
    torch.testing.assert_close(info_nce_loss(q, pos, bank, 0.5), expected)
    assert info_nce_loss(q, q, bank, 0.5) < info_nce_loss(q, pos, bank, 0.5)  # a closer positive costs less


# ----------------------------------------------------------------------------- MCC's clips and targets


def frame_numbered(length: int, total: int | None = None, n: int = 1, v: int = 2) -> torch.Tensor:
    """(n, 3, T, v, 1) with every coordinate of frame t equal to t + 1, zero-padded after ``length``."""
    total = total or length
    t = torch.arange(1, total + 1, dtype=torch.float32)
    t[length:] = 0
    return t[None, None, :, None, None].expand(n, 3, total, v, 1).contiguous()


@pytest.mark.parametrize("speed", [1, 2, 4, 8])
def test_speed_clips_take_every_rth_frame_and_loop_from_the_start(speed):
    x = frame_numbered(10, total=14)  # 10 valid frames, 4 of padding
    assert valid_lengths(x).tolist() == [10]
    start = torch.tensor([7])
    clip = gather_frames(x, clip_index(start, torch.tensor([speed]), 6, valid_lengths(x)))
    frames = clip[0, 0, :, 0, 0].long() - 1
    assert frames.tolist() == [(7 + speed * t) % 10 for t in range(6)]
    # e.g. 2x from frame 7: 7, 9, then around to 1, 3, 5, 7 - never a padding frame.
    assert (clip != 0).all()


def test_speed_clip_transform_labels_its_pace():
    x = frame_numbered(40, n=16)
    aug = SpeedClip(num_frames=5, speeds=(1, 2, 4, 8))
    params = aug.sample_params(x, torch.Generator().manual_seed(0))
    out = aug.apply(x, params)
    steps = (out[:, 0, 1:, 0, 0] - out[:, 0, :-1, 0, 0]).remainder(40)
    assert (steps == params["speed"][:, None].float()).all()
    assert torch.equal(params["speed"], torch.tensor([1, 2, 4, 8])[params["speed_index"]])


def test_mcc_clips_follow_the_drawn_speeds_and_the_negative_shuffles_the_basic_clip():
    torch.manual_seed(0)
    m = MCC(encoder=TINY_STGCN, feature_dim=8, clip_length=8, bank_size=16, decoder_hidden=[4, 4, 4, 4],
            layout="ntu25")
    x = frame_numbered(30, total=40, n=64, v=25)
    clips = m.sample_clips(x)
    assert (clips["r_i"] != clips["r_j"]).all()  # the positive always changes speed
    assert set(clips["r_i"].tolist()) == {1, 2, 4, 8}
    for key, (s, r) in (("basic", ("s_i", "r_i")), ("positive", ("s_j", "r_j"))):
        frames = clips[key][:, 0, :, 0, 0].long() - 1
        expected = (clips[s][:, None] + clips[r][:, None] * torch.arange(8)) % 30
        assert torch.equal(frames, expected)
    negative = m.negative(clips["basic"])
    # Same frames, another order: a shuffled copy of the basic clip.
    basic_frames, neg_frames = clips["basic"][:, 0, :, 0, 0], negative[:, 0, :, 0, 0]
    assert torch.equal(basic_frames.sort(dim=1).values, neg_frames.sort(dim=1).values)
    distinct = basic_frames.unique(dim=1).shape[1] > 1
    assert distinct and (basic_frames != neg_frames).any(dim=1).float().mean() > 0.9


@pytest.mark.parametrize("speed, expected", [
    (1, [3, 4, 5, 6, 3, 4, 5, 6]),          # r = 1: the clip repeated l = 2 times and spliced
    (2, [3, 4, 5, 6, 7, 8, 9, 10]),         # r = 2: every frame of the same stretch
    (4, [3, 5, 7, 9, 11, 13, 15, 17]),      # r = 4: every 2nd frame
])
def test_interpolation_target_for_rate_2(speed, expected):
    index = interpolation_index(torch.tensor([3]), torch.tensor([speed]), 4, 2, torch.tensor([100]))
    assert index[0].tolist() == expected
    clip = clip_index(torch.tensor([3]), torch.tensor([speed]), 4, torch.tensor([100]))[0].tolist()
    assert clip == expected[::2] if speed > 1 else clip == expected[:4]  # the input clip is inside the target
    # It loops like the clips do, and rate 1 (direct reconstruction) is the clip itself.
    looped = interpolation_index(torch.tensor([3]), torch.tensor([speed]), 4, 2, torch.tensor([9]))[0]
    assert looped.tolist() == [e % 9 for e in expected]
    assert torch.equal(interpolation_index(torch.tensor([3]), torch.tensor([speed]), 4, 1, torch.tensor([100])),
                       clip_index(torch.tensor([3]), torch.tensor([speed]), 4, torch.tensor([100])))


@pytest.mark.parametrize("rate", [1, 2])
def test_mcc_decoder_outputs_rate_times_the_clip_length(rate, monkeypatch):
    torch.manual_seed(0)
    m = MCC(encoder=TINY_STGCN, feature_dim=8, clip_length=32, bank_size=16, decoder_hidden=[4, 4, 4, 4],
            interpolation_rate=rate, layout="ntu25")
    seen = {}
    real = m.decoder.forward
    monkeypatch.setattr(m.decoder, "forward", lambda f: seen.setdefault("out", real(f)))
    x = torch.randn(3, 3, 50, 25, 1)
    out = m((x, None, None), 0)
    assert seen["out"].shape == (3, 3, rate * 32, 25, 1)
    assert torch.isfinite(out["loss_interp"]) and out["loss_interp"] > 0


def test_mcc_loss_terms_switches_and_bank(monkeypatch):
    torch.manual_seed(0)
    kw = dict(encoder=TINY_STGCN, feature_dim=8, clip_length=8, bank_size=16, decoder_hidden=[4, 4, 4, 4],
              layout="ntu25")
    x = torch.randn(4, 3, 20, 25, 1)
    calls = []
    real = mcc_module.info_nce_loss
    monkeypatch.setattr(mcc_module, "info_nce_loss", lambda *a: calls.append(a) or real(*a))
    m = MCC(**kw)
    out = m((x, None, None), 0)
    assert {"loss_triplet", "loss_nce", "loss_interp", "triplet_acc"} <= set(out)
    torch.testing.assert_close(out["loss"], out["loss_triplet"] + out["loss_nce"] + out["loss_interp"])
    q, k, bank, tau = calls[0]
    assert tau == 0.5 and bank.shape == (16, 8) and not k.requires_grad  # MoCo keys from the momentum encoder
    torch.testing.assert_close(m.bank.queue[:4], k)  # this batch's keys are the next batches' negatives
    assert m.bank.ptr.item() == 4
    online = MCC(**kw, nce_keys="online")
    online((x, None, None), 0)
    q, k, bank, tau = calls[-1]
    assert k.requires_grad and not hasattr(online, "key")  # the literal reading: online positive, online bank
    torch.testing.assert_close(online.bank.queue[:4], q.detach())
    only = MCC(**kw, lambda_nce=0, lambda_interp=0)
    assert set(only((x, None, None), 0)) == {"loss", "loss_triplet", "triplet_acc"}
    assert not hasattr(only, "decoder") and not hasattr(only, "bank")
    halved = MCC(**kw, lambda_triplet=0.5, lambda_nce=0, lambda_interp=0)
    o = halved((x, None, None), 0)
    torch.testing.assert_close(o["loss"], 0.5 * o["loss_triplet"])
    no_pos = MCC(**kw, positive=False, lambda_nce=0, lambda_interp=0)
    assert "triplet_acc" not in no_pos((x, None, None), 0)
    with pytest.raises(ValueError, match="positive=false"):
        MCC(**kw, positive=False)
    with pytest.raises(ValueError, match="at least one"):
        MCC(**kw, lambda_triplet=0, lambda_nce=0, lambda_interp=0)
    for negative in ("jitter", "view"):
        assert torch.isfinite(MCC(**kw, negative=negative)((x, None, None), 0)["loss"])
    for backbone in ({"name": "agcn", "width": 0.125}, {"name": "asgcn", "width": 0.125}):  # the paper's others
        assert torch.isfinite(MCC(**{**kw, "encoder": backbone})((x, None, None), 0)["loss"])
    with pytest.raises(ValueError, match="per-joint dense map"):
        MCC(**{**kw, "encoder": {"name": "resnet", "depth": 10, "width": 4}})
    cnn = MCC(**{**kw, "encoder": {"name": "resnet", "depth": 10, "width": 4}}, lambda_interp=0)
    assert torch.isfinite(cnn((x, None, None), 0)["loss"])
    with pytest.raises(ValueError, match="multiple of the encoder's temporal stride"):
        MCC(**{**kw, "clip_length": 10})


def smooth_motions(n: int = 16, t: int = 100) -> torch.Tensor:
    """Each sample: a pose plus sinusoidal joint motion with its own amplitude, phase and frequency."""
    g = torch.Generator().manual_seed(0)
    base, amp = torch.randn(n, 3, 1, 25, 1, generator=g), torch.randn(n, 3, 1, 25, 1, generator=g)
    phase = 6.28 * torch.rand(n, 1, 1, 1, 1, generator=g)
    freq = 0.02 + 0.04 * torch.rand(n, 1, 1, 1, 1, generator=g)
    return base + amp * torch.sin(6.28 * freq * torch.arange(float(t))[None, None, :, None, None] + phase)


def test_mcc_training_reduces_nce_and_interpolation_losses():
    torch.manual_seed(0)
    m = MCC(encoder={"name": "stgcn", "channels": [8] * 9 + [16]}, feature_dim=16, clip_length=8, bank_size=32,
            decoder_hidden=[8, 8, 8, 8], momentum=0.99, lambda_triplet=0, layout="ntu25")
    x = smooth_motions()
    opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
    nce, interp = [], []
    for _ in range(60):
        out = m((x, None, None), 0)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        m.after_optimizer_step()  # the key encoder follows by EMA
        nce.append(out["loss_nce"].item())
        interp.append(out["loss_interp"].item())
    # Once the bank holds real keys (after the first steps), the NCE falls; the decoder learns to interpolate.
    assert np.mean(nce[-10:]) < np.mean(nce[5:15]) - 0.15
    assert np.mean(interp[-10:]) < 0.85 * np.mean(interp[:10])
    assert int(m.bank.ptr) == (60 * 16) % 32


# ----------------------------------------------------------------------------- SimCLR method


def test_simclr_step_equals_nt_xent_of_the_two_camera_views():
    torch.manual_seed(0)
    m = SimCLR(encoder=TINY_STGCN, feature_dim=8, temperature=0.3, layout="ntu25")
    x = torch.randn(6, 3, 10, 25, 1)
    torch.manual_seed(5)
    out = m((x, None, None), 0)
    torch.manual_seed(5)
    a, b = m.augment(x), m.augment(x)
    z = F.normalize(m.encoder(torch.cat([a, b])), dim=1)
    torch.testing.assert_close(out["loss"], nt_xent_loss(z[:6], z[6:], 0.3))
    assert not torch.equal(a, b)  # two independent cameras
    enc = m.eval().eval_encoders()["joint"]
    torch.testing.assert_close(enc(x), m.encoder.backbone(x))  # downstream uses h, before the projector


def test_simclr_config_uses_lars_warmup_cosine_and_syncbn():
    from omegaconf import OmegaConf

    from skelssl.engine.config import load_config

    cfg = OmegaConf.to_container(load_config("simclr"), resolve=True)
    assert cfg["train"]["optimizer"]["name"] == "lars" and cfg["train"]["sync_bn"] is True
    assert cfg["train"]["schedule"]["name"] == "cosine" and cfg["train"]["schedule"]["warmup_epochs"] > 0
    assert cfg["method"]["augment"] == "simclr_view_distance" and cfg["method"]["mlp"] is True
    mcc = OmegaConf.to_container(load_config("mcc"), resolve=True)
    assert (mcc["method"]["margin"], mcc["method"]["temperature"], mcc["method"]["interpolation_rate"]) == (0.15, 0.5, 2)
    assert mcc["train"]["optimizer"] == {"name": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4,
                                         "nesterov": False}
    assert mcc["data"]["batch_size"] == 64 and len(mcc["method"]["decoder_hidden"]) == 4
    for name in ("simclr", "simclr_nucla", "simclr_synthetic", "mcc", "mcc_nucla", "mcc_synthetic",
                 "pace_prediction", "clip_order", "cubic_puzzle"):
        section = OmegaConf.to_container(load_config(name), resolve=True)["method"]
        section["encoder"] = TINY_STGCN
        if "clip_length" in section:
            section["clip_length"] = 16
        section.pop("decoder_hidden", None)
        method = build_method(section, DatasetInfo(layout="kinect20", num_frames=20))
        assert method.eval_encoders()


DDP_SIMCLR = """
import json, os, sys
import torch
from safetensors.torch import save_file
from skelssl.engine.distributed import (cleanup_distributed, convert_sync_batchnorm, get_rank, get_world_size,
                                        init_distributed)
sys.path.insert(0, {tests!r})
from test_contrastive import simclr_for_ddp

init_distributed()
torch.set_num_threads(1)
rank, world = get_rank(), get_world_size()
model, x_a, x_b = simclr_for_ddp()
n = x_a.shape[0] // world
mine = slice(rank * n, (rank + 1) * n)
model.augment_pair = lambda x: (x, x_b[mine])
model = convert_sync_batchnorm(model)
ddp = torch.nn.parallel.DistributedDataParallel(model)
out = ddp((x_a[mine], None, None), 0)
out["loss"].backward()
loss = out["loss"].detach().clone()
torch.distributed.all_reduce(loss)
tensors = {{"grad." + k: p.grad.contiguous() for k, p in model.named_parameters()}}
tensors.update({{"buffer." + k: b.float().contiguous() for k, b in model.named_buffers()}})
tensors["loss"] = loss / world
if rank == 0:
    save_file(tensors, os.environ["OUT"])
torch.distributed.barrier()  # leave the group together and skip teardown (see test_engine's DDP script)
cleanup_distributed()
sys.stdout.flush()
sys.stderr.flush()
os._exit(0)
"""


def simclr_for_ddp():
    """The same seeded SimCLR and the same global batch (two camera views) in every process."""
    torch.manual_seed(0)
    model = SimCLR(encoder=TINY_STGCN, feature_dim=8, temperature=0.2, layout="ntu25")
    g = torch.Generator().manual_seed(3)
    x = torch.randn(8, 3, 12, 25, 1, generator=g)
    camera = model.augment
    return model, camera(x, torch.Generator().manual_seed(4)), camera(x, torch.Generator().manual_seed(5))


def test_simclr_two_process_ddp_equals_one_process_on_the_global_batch(tmp_path):
    from safetensors.torch import load_file

    script = tmp_path / "ddp_simclr.py"
    script.write_text(DDP_SIMCLR.format(tests=str(Path(__file__).parent)))
    env = {**os.environ, "OUT": str(tmp_path / "ddp.safetensors"), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(script)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ddp = load_file(tmp_path / "ddp.safetensors")

    model, x_a, x_b = simclr_for_ddp()
    model.augment_pair = lambda x: (x, x_b)
    out = model((x_a, None, None), 0)
    out["loss"].backward()
    torch.testing.assert_close(ddp["loss"], out["loss"].detach(), rtol=1e-5, atol=1e-6)
    grads = {k: p.grad for k, p in model.named_parameters()}
    assert grads and all(f"grad.{k}" in ddp for k in grads)
    for k, g in grads.items():
        torch.testing.assert_close(ddp[f"grad.{k}"], g, rtol=1e-4, atol=1e-6, msg=k)
    # SyncBN: the running statistics are the global batch's too.
    for k, b in model.named_buffers():
        torch.testing.assert_close(ddp[f"buffer.{k}"], b.float(), rtol=1e-4, atol=1e-6, msg=k)


# ----------------------------------------------------------------------------- pretext baselines


def linear_motion(n: int = 16, t: int = 100) -> torch.Tensor:
    """Every joint drifts forward linearly, each sample at its own velocity: pace and order are visible."""
    g = torch.Generator().manual_seed(0)
    start = 0.1 * torch.randn(n, 3, 1, 25, 1, generator=g)
    velocity = 0.01 * (1 + torch.rand(n, 3, 1, 25, 1, generator=g))
    return start + velocity * torch.arange(t, dtype=torch.float32)[None, None, :, None, None]


class SummaryEncoder(nn.Module):
    """Mean position and mean frame step of every joint coordinate, through an MLP.

    Enough to see a clip's pace, time and place, so a pretext whose labels
    match what was done to its input is learned within a few dozen steps.
    """

    feature_dim = 32

    def __init__(self) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(2 * 3 * 25, 64), nn.ReLU(), nn.Linear(64, self.feature_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        position = x.mean(dim=(2, 4))
        step = (x[:, :, 1:] - x[:, :, :-1]).mean(dim=(2, 4))
        return self.mlp(torch.cat([position, step], dim=1).flatten(1))


@pytest.mark.parametrize("name, kw, chance, bound", [
    ("pace_prediction", {"clip_length": 8}, math.log(4), 0.6),
    ("clip_order", {"clip_length": 4, "interval": 2, "pair_dim": 16, "dropout": 0.0}, math.log(6), 0.35),
    # The spatial puzzle; the temporal one's small position differences take a toy encoder far longer
    # (its wiring is checked exactly below).
    ("cubic_puzzle", {"clip_length": 8, "spatial_p": 1.0, "hidden": 64}, math.log(24), 0.1),
])
def test_pretext_tasks_are_learnable(name, kw, chance, bound):
    torch.manual_seed(0)
    m = create_method(name, encoder=SummaryEncoder, layout="ntu25", **kw)
    x = linear_motion()
    opt = torch.optim.Adam(m.parameters(), lr=0.005)
    losses = []
    for _ in range(400):
        out = m((x, None, None), 0)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        losses.append(out["loss"].item())
    assert abs(np.mean(losses[:3]) - chance) < 0.25 * chance  # starts at chance: the labels are drawn fairly
    assert np.mean(losses[-30:]) < bound * chance  # and they are the labels of what was done to the input


class FrameIndex(nn.Module):
    """A 1-d 'encoder': the mean of the first coordinate, i.e. the mean frame number of frame-numbered data."""

    feature_dim = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, 0].mean(dim=(1, 2, 3))[:, None]


@pytest.mark.parametrize("name, kw", [("clip_order", {"num_clips": 4, "clip_length": 3, "interval": 1}),
                                      ("cubic_puzzle", {"clip_length": 8, "spatial_p": 0.0})])
def test_order_and_puzzle_labels_name_the_permutation_shown_to_the_classifier(name, kw, monkeypatch):
    torch.manual_seed(0)
    m = create_method(name, encoder=FrameIndex, layout="ntu25", **kw)
    seen = {}
    head = m.pair_net[0] if name == "clip_order" else m.classifier[0]
    head.register_forward_hook(lambda mod, inp, out: seen.setdefault("inputs", []).append(inp[0].detach()))
    real = m.classification
    monkeypatch.setattr(m, "classification", lambda logits, labels: (seen.setdefault("labels", labels),
                                                                      real(logits, labels))[1])
    x = frame_numbered(200, n=32, v=25)
    m((x, None, None), 0)
    labels = seen["labels"]
    if name == "clip_order":  # pair (0, 1)'s input is [slot 0, slot 1]; (0, 2): [slot 0, slot 2] ...
        slots = torch.cat([seen["inputs"][0], seen["inputs"][1][:, 1:], seen["inputs"][2][:, 1:]], dim=1)
        span = 3 * (3 + 1)
    else:
        slots = seen["inputs"][0]
        span = 3 * 2
    unlooped = (slots.max(dim=1).values - slots.min(dim=1).values) == span  # clips that ran past frame 200 loop
    assert unlooped.sum() >= 24
    # Slot i holds piece orders[label][i]: the pieces' frame numbers rank exactly as the permutation says.
    assert torch.equal(slots[unlooped].argsort(dim=1).argsort(dim=1), m.orders[labels][unlooped])


def test_clip_order_and_cubic_puzzle_pieces():
    torch.manual_seed(0)
    order = create_method("clip_order", encoder=TINY_STGCN, layout="ntu25")
    assert {tuple(o) for o in order.orders.tolist()} == set(itertools.permutations(range(3)))
    assert len(order.orders) == 6 and order.pairs == [(0, 1), (0, 2), (1, 2)]
    puzzle = create_method("cubic_puzzle", encoder=TINY_STGCN, layout="kinect20", clip_length=8)
    clip = frame_numbered(8, n=2, v=20)
    quarters = puzzle.pieces(clip, spatial=False)
    assert quarters.shape == (4, 2, 3, 2, 20, 1) and quarters[2, 0, 0, :, 0, 0].tolist() == [5.0, 6.0]
    limbs = puzzle.pieces(torch.ones(1, 3, 8, 20, 1), spatial=True)
    visible = [(limbs[i, 0, 0, 0, :, 0] != 0).nonzero().flatten().tolist() for i in range(4)]
    # Kinect v1: left arm 4-7, right arm 8-11, left leg 12-15, right leg 16-19; the trunk is never shown.
    assert visible == [[4, 5, 6, 7], [8, 9, 10, 11], [12, 13, 14, 15], [16, 17, 18, 19]]


# ----------------------------------------------------------------------------- the 2-D CNN encoder


def test_resnet_encoder_depth_and_width_knobs():
    small = create_encoder("resnet", depth=10, width=8, layout="kinect20")
    deeper = create_encoder("resnet", depth=18, width=8, layout="kinect20")
    wider = create_encoder("resnet", depth=10, width=16, layout="kinect20")
    count = lambda m: sum(p.numel() for p in m.parameters())
    assert small.feature_dim == deeper.feature_dim == 64 and wider.feature_dim == 128
    assert count(small) < count(deeper) and count(small) < count(wider)
    assert len([b for b in deeper.blocks]) == 8 and len([b for b in small.blocks]) == 4
    x = torch.randn(2, 3, 32, 20, 2)
    dense, h = small.features(x)
    assert dense.shape == (2, 2, 64, 4, 3)  # (T, V) halved by each of the last three stages, persons kept
    torch.testing.assert_close(h, small(x))
    # Parameters by hand: data BN over V·C, a 3×3 stem, then basic blocks (two 3×3 convs + BNs, a 1×1
    # projection + BN where the shape changes), the README's count for the default ResNet-18 of width 64.
    def block(c_in, c_out):
        return 9 * c_in * c_out + 9 * c_out * c_out + 4 * c_out + (c_in * c_out + 2 * c_out if c_in != c_out else 0)

    widths = [64, 64, 128, 128, 256, 256, 512, 512]
    by_hand = 2 * 3 * 25 + (9 * 3 * 64 + 2 * 64) + sum(block(a, b) for a, b in zip([64] + widths[:-1], widths))
    assert count(create_encoder("resnet", layout="ntu25")) == by_hand == 11_168_982
    three = create_encoder("resnet", layers=(1, 1, 1), width=8, layout="kinect20")
    assert three.feature_dim == 32 and three.temporal_stride == 4
    with pytest.raises(ValueError):
        create_encoder("resnet", depth=12)


# ----------------------------------------------------------------------------- the method layer


def test_projected_encoder_gives_dense_map_pooled_features_and_projection_from_one_pass():
    backbone = create_encoder("stgcn", channels=[4] * 9 + [8], layout="ntu25").eval()
    head = nn.Linear(8, 3)
    net = ProjectedEncoder(backbone, head)
    x = torch.randn(2, 3, 16, 25, 2)
    dense, h, z = net.encode(x)
    torch.testing.assert_close(dense, backbone.forward_features(x))
    torch.testing.assert_close(h, backbone(x))
    torch.testing.assert_close(z, head(h))
    rnn = create_encoder("bigru", hidden_size=4, num_layers=1, layout="ntu25", pooling="last", num_person=2)
    d, h = rnn.features(x)
    assert d.shape == (2, 1, 8, 16, 1)
    torch.testing.assert_close(h, rnn(x))


def test_build_method_passes_only_the_dataset_fields_a_method_uses():
    info = DatasetInfo(layout="kinect20", in_channels=3, num_frames=30, num_person=1, num_classes=4, num_samples=50)
    clr = build_method({"name": "skeletonclr", "encoder": TINY_STGCN, "queue_size": 8}, info)
    assert clr.layout.name == "kinect20" and clr.num_frames == 30
    semi = build_method({"name": "pseudo_label", "encoder": {"name": "bigru", "hidden_size": 4, "num_layers": 1}},
                        info)
    assert semi.num_classes == 4 and semi.bank.features.shape[0] == 50 and semi.num_frames == 40  # its own T
    assert not semi.inpaint and not semi.neighbourhood and not semi.adversarial  # the supervised network
    with pytest.raises(ValueError, match="did you mean 'method.temperature'"):
        build_method({"name": "simclr", "temprature": 0.1}, info)
    with pytest.raises(ValueError, match="did you mean 'simclr'"):
        build_method({"name": "simclrr"}, info)


def test_momentum_schedule_constant_or_cosine_and_resumable():
    assert cosine_momentum(0.99, 1.0, 0, 100) == pytest.approx(0.99)
    assert cosine_momentum(0.99, 1.0, 50, 100) == pytest.approx(0.995)
    assert cosine_momentum(0.99, 1.0, 100, 100) == pytest.approx(1.0)
    constant = SkeletonCLR(encoder=TINY_STGCN, queue_size=8, momentum=0.9, layout="ntu25")
    assert "momentum_step" not in constant.state_dict() and constant.momentum == 0.9
    m = SkeletonCLR(encoder=TINY_STGCN, queue_size=8, momentum=0.9, final_momentum=1.0, layout="ntu25")
    m.on_train_start(4)
    before = [p.clone() for p in m.key.parameters()]
    with torch.no_grad():
        for p in m.query.parameters():
            p.add_(1.0)
    m.after_optimizer_step()  # step 0: m = 0.9
    for pk, pk0, pq in zip(m.key.parameters(), before, m.query.parameters()):
        torch.testing.assert_close(pk, 0.9 * pk0 + 0.1 * pq)
    assert m.momentum == pytest.approx(cosine_momentum(0.9, 1.0, 1, 4)) and int(m.momentum_step) == 1
    for _ in range(3):
        m.after_optimizer_step()
    assert m.momentum == pytest.approx(1.0)


# Losses of 6 SGD steps with a fixed seed, recorded with the code before the method layer was refactored
# (commit 7493133, this same loop): the refactor must not change training.
PRE_REFACTOR_CURVES = {
    "skeletonclr": [0.327489, 2.197849, 2.731834, 2.90569, 2.669052, 2.376374],
    "crossclr": [0.827287, 4.402655, 5.423788, 7.094676, 7.02121, 6.669077],
}


@pytest.mark.parametrize("name, kw", [("skeletonclr", {}), ("crossclr", {"views": ["joint", "motion"],
                                                                          "cross_epoch": 1})])
def test_loss_curves_equal_the_pre_refactor_code(name, kw):
    torch.manual_seed(0)
    m = create_method(name, encoder=TINY_STGCN, feature_dim=8, queue_size=24, momentum=0.9, temperature=0.2,
                      layout="ntu25", in_channels=3, num_frames=12, **kw)
    opt = torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=0.1, momentum=0.9)
    g = torch.Generator().manual_seed(1)
    data = [torch.randn(8, 3, 12, 25, 1, generator=g) for _ in range(3)]
    losses = []
    for step in range(6):
        out = m((data[step % 3], None, None), step // 3)  # CrosSCLR: cross-view from the 4th step
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        m.after_optimizer_step()
        losses.append(out["loss"].item())
    np.testing.assert_allclose(losses, PRE_REFACTOR_CURVES[name], rtol=1e-4)


@register_method("setup_probe")
class SetupProbe(Method):
    """Counts ``setup`` calls and computes a dataset statistic there, as ActCLR's average motion would be."""

    dataset_fields = ("layout", "in_channels")
    calls: list = []

    def __init__(self, layout: str = "ntu25", in_channels: int = 3) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(()))
        self.register_buffer("mean_motion", torch.zeros(()))
        self.steps = 0

    def setup(self, dataset):
        SetupProbe.calls.append(("setup", len(dataset), self.steps))
        x = torch.stack([dataset[i][0] for i in range(len(dataset))])
        self.mean_motion.fill_(float((x[:, :, 1:] - x[:, :, :-1]).abs().mean()))

    def training_step(self, batch, epoch):
        self.steps += 1
        return {"loss": (self.weight - self.mean_motion) ** 2}

    def eval_encoders(self):
        return {}


def test_library_pretrain_runs_setup_once_before_training(tmp_path):
    from skelssl.data.prepare import prepare_dataset
    from skelssl.engine.checkpoint import load_checkpoint

    prepare_dataset("synthetic", tmp_path / "data", reader_options={"num_samples": 40}, workers=1, progress=False)
    cfg = tmp_path / "probe.yaml"
    cfg.write_text("method: {name: setup_probe}\ndata: {protocol: xsub, batch_size: 4}\n"
                   "train: {epochs: 1, optimizer: {name: sgd, lr: 0.1}, tensorboard: false, progress: false}\n")
    SetupProbe.calls.clear()
    run = skelssl.pretrain(cfg, data=tmp_path / "data", run_dir=tmp_path / "run", quiet=True)
    assert run == tmp_path / "run" and (run / "checkpoints" / "last.safetensors").exists()
    from skelssl.data.dataset import SkeletonDataset

    train = SkeletonDataset(tmp_path / "data", protocol="xsub", part="train")
    assert SetupProbe.calls == [("setup", len(train), 0)]
    tensors, _ = load_checkpoint(run)
    assert float(tensors["model/mean_motion"]) > 0  # the statistic travels in the checkpoint
