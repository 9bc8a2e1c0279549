"""Whole-sequence data: the agc_lstm recipe, per-sample input clips, min-max normalisation and scale."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from skelssl.augment import build_pipeline
from skelssl.augment.spatial import MinMaxNormalize, RandomScale
from skelssl.data.canonical import open_prepared
from skelssl.data.dataset import SkeletonDataset, clip_indices, dataset_from_config
from skelssl.data.prepare import prepare_dataset
from skelssl.data.recipes import get_recipe
from skelssl.data.recipes.agc_lstm import minmax_normalize
from skelssl.data.types import RawSequence
from skelssl.engine.trainer import Trainer
from skelssl.protocols.features import extract_features


def _sequence(joints: np.ndarray, present: np.ndarray | None = None) -> RawSequence:
    m, t = joints.shape[:2]
    return RawSequence(sample_id="s", joints=joints.astype(np.float32),
                       present=np.ones((m, t), bool) if present is None else present, label=0, layout="kinect20")


def _walk(t: int = 3) -> np.ndarray:
    """One body walking +0.5 m along x per frame; joint j sits at (0.1 j, 0.05 j, 3 + 0.01 j)."""
    j = np.arange(20)[None, :, None]
    base = np.concatenate([0.1 * j, 0.05 * j, 3.0 + 0.01 * j], axis=2)  # (1, 20, 3)
    step = np.array([0.5, 0.0, 0.0])[None, None, :]
    return (base + np.arange(t)[:, None, None] * step)[None]  # (1, T, 20, 3)


# --------------------------------------------------------------------------- recipe


def test_agc_lstm_centres_on_the_first_frame_and_keeps_the_trajectory():
    joints = _walk(3)
    out = get_recipe("agc_lstm", normalize="none", num_frames=5)(_sequence(joints))
    assert out.data.shape == (3, 5, 20, 1) and out.valid_frames == 3
    spine0 = joints[0, 0, 1]  # kinect20 joint 1 = spine (role spine_mid), frame 0
    np.testing.assert_allclose(out.data[:, :3, :, 0], (joints[0] - spine0).transpose(2, 0, 1), atol=1e-6)
    # The body moves 0.5 m per frame in x: the trajectory survives centring.
    np.testing.assert_allclose(out.data[0, 2, 1, 0] - out.data[0, 0, 1, 0], 1.0, atol=1e-6)
    assert not out.data[:, 3:].any()  # zero padding after the valid frames

    per_frame = get_recipe("agc_lstm", normalize="none", centre="per_frame", num_frames=5)(_sequence(joints))
    np.testing.assert_allclose(per_frame.data[:, :3, 1, 0], 0.0, atol=1e-6)  # every frame's spine at the origin
    np.testing.assert_allclose(per_frame.data[0, 2, 5, 0], 0.1 * 5 - 0.1, atol=1e-6)


def test_agc_lstm_minmax_maps_each_axis_to_unit_range():
    joints = _walk(4)
    out = get_recipe("agc_lstm", num_frames=6, normalize="minmax")(_sequence(joints))
    valid = out.data[:, :4, :, 0].reshape(3, -1)
    centred = (joints[0] - joints[0, 0, 1]).reshape(-1, 3).T
    lo, hi = centred.min(axis=1, keepdims=True), centred.max(axis=1, keepdims=True)
    np.testing.assert_allclose(valid, (centred - lo) / (hi - lo) * 2 - 1, atol=1e-5)
    assert valid.min(axis=1) == pytest.approx([-1, -1, -1]) and valid.max(axis=1) == pytest.approx([1, 1, 1])
    # An axis without spread maps to 0 rather than dividing by zero.
    flat = joints.copy()
    flat[..., 1] = 0.7
    out = get_recipe("agc_lstm", num_frames=6, normalize="minmax")(_sequence(flat))
    assert np.isfinite(out.data).all() and not out.data[1].any()


def test_agc_lstm_subsamples_evenly_beyond_its_length_and_ignores_empty_frames():
    joints = _walk(10)
    present = np.ones((1, 10), bool)
    present[0, 0] = False  # the first frame holds no body: the origin comes from the first valid one
    joints[0, 0] = 0.0
    out = get_recipe("agc_lstm", normalize="none", num_frames=4)(_sequence(joints, present))
    assert out.valid_frames == 4
    keep = 1 + np.linspace(0, 8, 4).astype(int)  # frames 1..9, evenly
    np.testing.assert_allclose(out.data[:, :, :, 0], (joints[0, keep] - joints[0, 1, 1]).transpose(2, 0, 1), atol=1e-6)


# --------------------------------------------------------------------------- clips


def test_uniform_clip_is_floored_linspace_and_random_clip_is_sorted_within_the_valid_frames():
    lengths = np.array([1, 7, 52, 201])
    uniform = clip_indices(lengths, 52, "uniform")
    for row, length in zip(uniform, lengths):
        np.testing.assert_array_equal(row, np.linspace(0, length - 1, 52).astype(int))
    rng = np.random.default_rng(0)
    random = clip_indices(lengths, 52, "random", rng)
    assert (np.diff(random, axis=1) >= 0).all()
    assert (random >= 0).all() and (random < lengths[:, None]).all()
    assert (random[0] == 0).all()
    # A long sequence's clip spreads over it (not just its start).
    assert random[3].max() > 150 and random[3].min() < 50
    with pytest.raises(ValueError, match="unknown clip sampling"):
        clip_indices(lengths, 5, "nearest")


def _prepared_walks(tmp_path, lengths=(3, 30, 80)):
    """A canonical-format dataset of whole sequences (frame f of sample k holds the value f + 1), clips of 8."""
    import json

    from skelssl.data.canonical import FORMAT_VERSION, write_meta

    t = 90
    data = np.zeros((len(lengths), 3, t, 20, 1), np.float32)
    rows = []
    for k, length in enumerate(lengths):
        data[k, 0, :length, :, 0] = np.arange(length)[:, None] + 1  # frame f holds the value f + 1
        rows.append({"sample_id": f"s{k}", "label": k % 2, "subject": 1, "view": 1, "setup": -1, "replication": -1,
                     "length": length, "frames": length})
    root = tmp_path / "walks"
    root.mkdir()
    np.save(root / "data.npy", data)
    write_meta(root / "meta.csv", rows)
    info = {"format_version": FORMAT_VERSION, "dataset": "toy", "layout": "kinect20", "num_classes": 2,
            "shape": list(data.shape), "recipe": {"name": "agc_lstm", "clip_frames": 8}, "protocols": {}}
    (root / "info.json").write_text(json.dumps(info))
    return open_prepared(root)


def test_dataset_serves_recipe_clips_deterministic_per_seed_epoch_and_sample(tmp_path):
    prepared = _prepared_walks(tmp_path)
    test = SkeletonDataset(prepared)
    assert test.clip_frames == 8 and test.num_frames == 8
    x, label, index = test[1]
    assert x.shape == (3, 8, 20, 1) and (label, index) == (1, 1)
    np.testing.assert_array_equal(x[0, :, 0, 0].numpy(), np.linspace(0, 29, 8).astype(int) + 1)

    train = SkeletonDataset(prepared, sampling="random", seed=3)
    first = [train[i][0] for i in range(3)]
    again = [SkeletonDataset(prepared, sampling="random", seed=3)[i][0] for i in range(3)]
    for a, b in zip(first, again):
        torch.testing.assert_close(a, b)
    train.set_epoch(1)
    assert not torch.equal(train[2][0], first[2])  # a new clip each epoch
    for i, length in enumerate((3, 30, 80)):
        frames = train[i][0][0, :, 0, 0]
        assert (frames >= 1).all() and (frames <= length).all() and (torch.diff(frames) >= 0).all()
    # Whole stored samples on request; feature extraction always reads uniform clips.
    assert SkeletonDataset(prepared, clip_frames=None)[0][0].shape == (3, 90, 20, 1)
    feats = extract_features(torch.nn.Flatten(), train).features
    torch.testing.assert_close(feats, extract_features(torch.nn.Flatten(), test).features)


def test_dataset_from_config_draws_random_training_clips_only_when_training(tmp_path):
    prepared = _prepared_walks(tmp_path)
    cfg = {"clip_frames": 5, "train_clip": "random"}
    assert dataset_from_config(prepared, cfg, train=True).sampling == "random"
    test = dataset_from_config(prepared, cfg, train=False)
    assert test.sampling == "uniform" and test.clip_frames == 5
    assert dataset_from_config(prepared, {"train_clip": "uniform"}, train=True).sampling == "uniform"


class _EpochRecorder(Dataset):
    def __init__(self):
        self.epochs = []

    def set_epoch(self, epoch):
        self.epochs.append(epoch)

    def __len__(self):
        return 4

    def __getitem__(self, i):
        return torch.tensor([float(i)]), 0, i


class _Linear(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, batch, epoch):
        return {"loss": ((batch[0][:, 0] * self.w - 1) ** 2).mean()}


def test_trainer_tells_the_dataset_each_epoch(tmp_path):
    data = _EpochRecorder()
    cfg = {"epochs": 3, "progress": False, "tensorboard": False, "optimizer": {"name": "sgd", "lr": 0.01}}
    Trainer(_Linear(), cfg, tmp_path, data, batch_size=2, quiet=True).fit()
    assert data.epochs == [0, 1, 2]


# --------------------------------------------------------------------------- transforms


def test_minmax_normalize_matches_the_recipe_on_the_valid_frames_of_present_bodies():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 3, 10, 20, 2, generator=g)
    x[:, :, :, :, 1] = 0.0  # the second body slot is empty
    x[0, :, 6:] = 0.0  # sample 0 has 6 valid frames
    lengths = torch.tensor([6, 10, 10])
    out = MinMaxNormalize(layout="kinect20")(x, lengths=lengths)
    for n, length in enumerate(lengths.tolist()):
        joints = x[n, :, :length].permute(3, 1, 2, 0).numpy()  # (M, T, V, C)
        present = np.zeros((2, length), bool)
        present[0] = True
        expected = minmax_normalize(joints, present).transpose(3, 1, 2, 0)
        np.testing.assert_allclose(out[n, :, :length].numpy(), expected, atol=1e-5)
    assert not out[:, :, :, :, 1].any() and not out[0, :, 6:].any()  # absent body and padding untouched


def test_random_scale_multiplies_coordinates_by_the_drawn_factor():
    x = torch.randn(4, 3, 5, 20, 1)
    scale = RandomScale((0.5, 1.5))
    params = scale.sample_params(x, torch.Generator().manual_seed(1))
    f = params["factor"]
    assert (f[:, 0] == f[:, 1]).all() and ((f >= 0.5) & (f <= 1.5)).all()
    torch.testing.assert_close(scale.apply(x, params), x * f[:, :, None, None, None])


def test_agc_lstm_pipeline_rotates_then_renormalises():
    x = torch.rand(2, 3, 8, 20, 1) * 2 - 1
    aug = build_pipeline("agc_lstm", layout="kinect20")
    out = aug.run(x, torch.Generator().manual_seed(0))
    rotation = out.params[0]["matrix"]
    assert not torch.allclose(rotation, torch.eye(3).expand(2, 3, 3))
    # Whatever the rotation and scale, every axis of every sample spans [-1, 1] again.
    torch.testing.assert_close(out.x.amin(dim=(2, 3, 4)), -torch.ones(2, 3))
    torch.testing.assert_close(out.x.amax(dim=(2, 3, 4)), torch.ones(2, 3))
    # ... and it equals min-max of the rotated input (the scale cancels).
    rotated = torch.einsum("nij,njtvm->nitvm", rotation, x)
    torch.testing.assert_close(out.x, MinMaxNormalize()(rotated), atol=1e-5, rtol=1e-5)


@pytest.mark.realdata
def test_prepare_nucla_default_recipe_round_trip(nucla_dir, tmp_path):
    out = tmp_path / "nucla"
    prepare_dataset("nucla", out, nucla_dir, workers=2, progress=False)
    ds = SkeletonDataset(out, protocol="xview", part="test")
    x, label, k = ds[0]
    assert x.shape == (3, 52, 20, 1)
    frames = int(ds.prepared.meta["frames"][k])
    np.testing.assert_allclose(x.numpy(), ds.prepared.data[k][:, np.linspace(0, frames - 1, 52).astype(int)])
