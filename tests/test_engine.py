"""Engine tests: optimisers and schedules by hand, checkpoints, configs, seeding, exact resume, 2-process DDP."""

from __future__ import annotations

import copy
import json
import math
import os
import pickle
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from skelssl.data.layouts import get_layout
from skelssl.engine import config as config_mod
from skelssl.engine.callbacks import Callback, KNNMonitor
from skelssl.engine.checkpoint import CheckpointManager, decode_state, encode_state, load_checkpoint, save_checkpoint
from skelssl.engine.config import ConfigError, load_config, save_config
from skelssl.engine.distributed import EpochSampler, batch_shuffle, batch_unshuffle, concat_all_gather
from skelssl.engine.optim import LARS, build_optimizer, build_schedule, clip_gradients
from skelssl.engine.seed import capture_rng_state, module_generators, restore_rng_state, seed_everything
from skelssl.engine.trainer import Trainer
from skelssl.methods.base import METHODS, Method


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Tensors here are tiny: extra OpenMP threads only spin-wait on a shared, busy machine.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --------------------------------------------------------------------------- toy method and data


class ToyMoCo(Method):
    """A miniature MoCo: BatchNorm, dropout, momentum encoder, key queue + pointer, shuffle-BN.

    Randomness comes from torch's global RNG (query noise, dropout), from a
    generator the module owns (key noise) and from ``on_train_epoch_start``,
    so an exact resume has to restore all three at the right moment.
    """

    def __init__(self, layout: str = "ntu25", in_channels: int = 3, num_frames: int = 4, dim: int = 8,
                 queue_size: int = 16, momentum: float = 0.9, temperature: float = 0.2) -> None:
        super().__init__()
        self.encoder = PoolEncoder(in_channels * get_layout(layout).num_joints, dim)
        self.encoder_k = copy.deepcopy(self.encoder)
        for p in self.encoder_k.parameters():
            p.requires_grad = False
        self.register_buffer("queue", F.normalize(torch.randn(queue_size, dim), dim=1))
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.int64))
        self.key_rng = torch.Generator().manual_seed(1234)
        self.momentum, self.temperature = momentum, temperature
        self.epoch_draws: list[float] = []

    def training_step(self, batch, epoch):
        x = batch[0]
        q = F.normalize(self.encoder(x + 0.1 * torch.randn_like(x)), dim=1)
        with torch.no_grad():
            noise = torch.randn(x.shape, generator=self.key_rng).to(x.device)
            shuffled, unshuffle = batch_shuffle(x + 0.1 * noise)
            k = batch_unshuffle(F.normalize(self.encoder_k(shuffled), dim=1), unshuffle)
        logits = torch.cat([(q * k).sum(1, keepdim=True), q @ self.queue.clone().T], dim=1) / self.temperature
        loss = F.cross_entropy(logits, torch.zeros(len(x), dtype=torch.long, device=x.device))
        self._enqueue(k)
        return {"loss": loss, "acc": (logits.argmax(1) == 0).float().mean()}

    @torch.no_grad()
    def _enqueue(self, k: torch.Tensor) -> None:
        keys = concat_all_gather(k)
        ptr, n = int(self.queue_ptr), keys.shape[0]
        idx = (torch.arange(n) + ptr) % self.queue.shape[0]
        self.queue[idx] = keys
        self.queue_ptr.fill_((ptr + n) % self.queue.shape[0])

    @torch.no_grad()
    def after_optimizer_step(self) -> None:
        for pk, pq in zip(self.encoder_k.parameters(), self.encoder.parameters()):
            pk.mul_(self.momentum).add_(pq.detach(), alpha=1 - self.momentum)

    def on_train_epoch_start(self, epoch: int) -> None:
        self.epoch_draws.append(float(torch.rand(())))

    def eval_encoders(self):
        return {"joint": self.encoder}


class PoolEncoder(nn.Module):
    """(N, C, T, V, M) -> average over frames and persons -> a small MLP with BatchNorm and dropout."""

    def __init__(self, in_dim: int, dim: int) -> None:
        super().__init__()
        self.feature_dim = dim
        self.mlp = nn.Sequential(nn.Linear(in_dim, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x.mean(dim=(2, 4)).flatten(1))


def skeletonclr_pool(**kwargs):
    """The real SkeletonCLR (augmentations, shuffle-BN, gathered queue) with a PoolEncoder backbone, for speed."""
    from skelssl.methods.skeletonclr import SkeletonCLR

    in_dim = kwargs.get("in_channels", 3) * get_layout(kwargs.get("layout", "ntu25")).num_joints
    return SkeletonCLR(encoder=lambda: PoolEncoder(in_dim, 16), **kwargs)


METHODS.add("toy_moco", ToyMoCo, overwrite=True)
METHODS.add("skeletonclr_pool", skeletonclr_pool, overwrite=True)


class ToyData(Dataset):
    def __init__(self, n: int = 24) -> None:
        g = torch.Generator().manual_seed(7)
        self.x = torch.randn(n, 3, 4, 25, 1, generator=g)
        self.y = torch.arange(n) % 3

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], int(self.y[i]), i


class Kill(Callback):
    def __init__(self, at: int) -> None:
        self.at = at

    def on_step_end(self, trainer, step, metrics):
        if step == self.at:
            raise KeyboardInterrupt(f"killed at step {step}")


TOY_TRAIN = {
    "epochs": 3, "seed": 5, "deterministic": True, "log_every": 1, "tensorboard": False, "progress": False,
    "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4},
    "schedule": {"name": "step", "milestones": [2], "gamma": 0.1, "warmup_epochs": 1},
    "checkpoint": {"every_steps": 4, "keep_last": 2, "monitor": "loss", "mode": "min"},
}


def toy_trainer(run_dir: Path, train: dict | None = None, callbacks=(), init_seed: int = 0,
                method: str = "toy_moco") -> Trainer:
    seed_everything(init_seed)
    model = METHODS.create(method, queue_size=20 if method != "toy_moco" else 16, layout="ntu25", in_channels=3,
                           num_frames=4, **({"feature_dim": 8, "momentum": 0.9} if method != "toy_moco" else {}))
    return Trainer(model, {**TOY_TRAIN, **(train or {})}, run_dir, ToyData(), batch_size=4,
                   callbacks=callbacks, quiet=True)


def full_state(trainer: Trainer) -> dict[str, torch.Tensor]:
    gens = {k: g.get_state() for k, g in module_generators(trainer.module).items()}
    _, tensors = encode_state({"model": trainer.module.state_dict(), "optim": trainer.optimizer.state_dict(),
                               "generators": gens, "cpu_rng": torch.get_rng_state()})
    return tensors


# --------------------------------------------------------------------------- optimisers and schedules


def _opt(lr: float = 1.0) -> torch.optim.Optimizer:
    return torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=lr)


def test_step_schedule_with_warmup_by_hand():
    opt = _opt(0.4)
    s = build_schedule({"name": "step", "milestones": [3, 4.5], "gamma": 0.5, "warmup_epochs": 1}, opt, 4, 6)
    # warm-up over 4 steps: (s+1)/4; milestones at steps 12 and 18
    expected = {0: 0.1, 1: 0.2, 3: 0.4, 4: 0.4, 11: 0.4, 12: 0.2, 17: 0.2, 18: 0.1, 23: 0.1}
    for step, lr in expected.items():
        s.step_to(step)
        assert opt.param_groups[0]["lr"] == pytest.approx(lr), step


def test_cosine_schedule_with_warmup_by_hand():
    opt = _opt(1.0)
    s = build_schedule({"name": "cosine", "warmup_epochs": 2, "min_lr_ratio": 0.1}, opt, 5, 12)
    # 10 warm-up steps, then cosine over the remaining 50
    assert s.lr_at(0) == pytest.approx(0.1)
    assert s.lr_at(4) == pytest.approx(0.5)
    assert s.lr_at(9) == pytest.approx(1.0)
    assert s.lr_at(10) == pytest.approx(1.0)
    assert s.lr_at(35) == pytest.approx(0.1 + 0.9 * 0.5)  # half way: cos(pi/2) = 0
    assert s.lr_at(60) == pytest.approx(0.1)
    s.step_to(35)
    fresh = build_schedule({"name": "cosine", "warmup_epochs": 2, "min_lr_ratio": 0.1}, _opt(1.0), 5, 12)
    fresh.optimizer.param_groups[0]["lr"] = 123.0
    fresh.load_state_dict(s.state_dict())
    assert fresh.optimizer.param_groups[0]["lr"] == pytest.approx(0.55)


def test_schedule_and_optimizer_errors():
    with pytest.raises(ValueError, match="milestonez"):
        build_schedule({"name": "step", "milestonez": [1]}, _opt(), 2, 2)
    with pytest.raises(ValueError, match="unknown optimizer"):
        build_optimizer(nn.Linear(2, 2), {"name": "rmsprop", "lr": 0.1})
    with pytest.raises(ValueError, match="nesterov"):
        build_optimizer(nn.Linear(2, 2), {"name": "adam", "lr": 0.1, "nesterov": True})


def test_lars_trust_ratio_by_hand():
    w = nn.Parameter(torch.tensor([3.0, 4.0]))  # |w| = 5
    b = nn.Parameter(torch.tensor([1.0]))
    w.grad, b.grad = torch.tensor([0.0, 1.0]), torch.tensor([2.0])
    opt = LARS([{"params": [w]}, {"params": [b], "weight_decay": 0.0, "lars_exclude": True}],
               lr=0.5, momentum=0.9, weight_decay=0.1, eta=0.01)
    opt.step()
    # g = grad + 0.1 w = [0.3, 1.4]; |g| = sqrt(2.05); trust = 0.01 * 5 / |g|
    g = torch.tensor([0.3, 1.4])
    trust = 0.01 * 5 / math.sqrt(2.05)
    assert torch.allclose(w.detach(), torch.tensor([3.0, 4.0]) - 0.5 * trust * g)
    assert torch.allclose(b.detach(), torch.tensor([1.0 - 0.5 * 2.0]))  # excluded: plain SGD step
    # second step: momentum buffer carries lr * trust * g
    w.grad, b.grad = torch.zeros(2), torch.zeros(1)
    before = w.detach().clone()
    opt.step()
    g2 = 0.1 * before
    t2 = 0.01 * before.norm() / g2.norm()
    assert torch.allclose(w.detach(), before - (0.9 * 0.5 * trust * g + 0.5 * t2 * g2))
    assert torch.allclose(b.detach(), torch.tensor([0.0 - 0.9 * 1.0]))


def test_lars_groups_exclude_bias_and_norm():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    opt = build_optimizer(model, {"name": "lars", "lr": 1.0, "weight_decay": 1e-6})
    adapted, plain = opt.param_groups
    assert [p.shape for p in adapted["params"]] == [(4, 3), (2, 4)]
    assert len(plain["params"]) == 4 and plain["lars_exclude"] and plain["weight_decay"] == 0.0
    sgd = build_optimizer(model, {"name": "sgd", "lr": 0.1, "nesterov": True})
    assert len(sgd.param_groups) == 1 and sgd.param_groups[0]["nesterov"]


def test_clip_gradients():
    p = nn.Parameter(torch.zeros(2))
    p.grad = torch.tensor([3.0, 4.0])
    assert clip_gradients([p], None) is None
    assert clip_gradients([p], 1.0) == pytest.approx(5.0)
    assert p.grad.norm() == pytest.approx(1.0, rel=1e-4)


# --------------------------------------------------------------------------- checkpoints


def test_encode_decode_round_trip():
    state = {"a": torch.arange(3), "opt": {"state": {0: {"buf": torch.ones(2), "step": 3}}, "groups": [{"betas": (0.9, 0.99)}]},
             "none": None, "f": 1.5}
    skeleton, tensors = encode_state(state)
    json.dumps(skeleton)
    back = decode_state(json.loads(json.dumps(skeleton)), tensors)
    assert torch.equal(back["a"], state["a"]) and torch.equal(back["opt"]["state"][0]["buf"], torch.ones(2))
    assert back["opt"]["groups"][0]["betas"] == (0.9, 0.99) and back["opt"]["state"][0]["step"] == 3
    assert back["none"] is None and back["f"] == 1.5


def test_checkpoint_atomic_keep_last_best_and_no_pickle(tmp_path, monkeypatch):
    mgr = CheckpointManager(tmp_path, keep_last=2)
    for epoch in range(1, 5):
        mgr.save({"w": torch.full((2,), float(epoch))}, {"epoch": epoch}, epoch=epoch, best=epoch == 2)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["best.json", "best.safetensors", "epoch_0003.json", "epoch_0003.safetensors",
                     "epoch_0004.json", "epoch_0004.safetensors", "last.json", "last.safetensors"]
    assert json.loads((tmp_path / "best.json").read_text())["epoch"] == 2

    # A write that dies half way leaves the previous checkpoint and no stray file behind.
    import skelssl.engine.checkpoint as ck

    def dying_save(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(ck, "save_file", dying_save)
    with pytest.raises(OSError):
        mgr.save({"w": torch.zeros(2)}, {"epoch": 99})
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == names
    # Loading never unpickles.
    for name, target in ((torch, "load"), (pickle, "load"), (pickle, "loads")):
        monkeypatch.setattr(name, target, lambda *a, **k: (_ for _ in ()).throw(AssertionError("pickle used")))
    tensors, meta = load_checkpoint(tmp_path)
    assert meta["epoch"] == 4 and torch.equal(tensors["w"], torch.full((2,), 4.0))
    assert tmp_path.joinpath("last.safetensors").read_bytes()[:8] != b"\x80\x04\x95"  # not a pickle stream


def test_save_checkpoint_header_matches_sidecar(tmp_path):
    path = save_checkpoint(tmp_path / "x", {"t": torch.ones(1)}, {"step": 7, "config": {"a": [1, 2]}})
    _, meta = load_checkpoint(path)
    assert meta == json.loads(path.with_suffix(".json").read_text())
    assert meta["step"] == 7


# --------------------------------------------------------------------------- configs


@pytest.fixture
def config_root(tmp_path, monkeypatch):
    root = tmp_path / "configs"
    (root / "pretrain").mkdir(parents=True)
    (root / "eval").mkdir()
    (root / "pretrain" / "toy.yaml").write_text(textwrap.dedent("""
        method: {name: toy_moco, queue_size: 16}
        data: {batch_size: 8}
        train:
          epochs: 10
          optimizer: {name: sgd, lr: 0.1, momentum: 0.9}
          schedule: {name: step, milestones: [8]}
    """))
    (root / "pretrain" / "toy_big.yaml").write_text(textwrap.dedent("""
        base: toy.yaml
        method: {queue_size: 64, drop_me: 1}
        train:
          epochs: "${data.batch_size}"
          schedule: {name: cosine, warmup_epochs: 1}
    """))
    (root / "eval" / "probe.yaml").write_text("base: toy\ntrain: {optimizer: {_replace_: true, name: adam, lr: 0.01}}\n")
    monkeypatch.setattr(config_mod, "_config_root", lambda: root)
    return root


def test_config_names_base_inheritance_and_overrides(config_root, tmp_path):
    cfg = load_config("toy_big", ["train.optimizer.lr=1e-3", "+method.extra=[1, 2]", "~method.drop_me"])
    assert cfg.method == {"name": "toy_moco", "queue_size": 64, "extra": [1, 2]}
    assert cfg.train.epochs == 8  # interpolation resolved
    assert cfg.train.schedule == {"name": "cosine", "warmup_epochs": 1}  # switching schedules starts afresh
    assert cfg.train.optimizer == {"name": "sgd", "lr": 0.001, "momentum": 0.9, "weight_decay": 1e-4, "nesterov": False}
    assert cfg.train.log_every == 10 and cfg.data.reader_options == {}  # engine defaults underneath
    probe = load_config("probe")
    assert probe.train.optimizer == {"name": "adam", "lr": 0.01}
    switched = load_config("toy", ["train.optimizer.name=adam"])
    assert switched.train.optimizer == {"name": "adam", "lr": 0.1, "weight_decay": 1e-4}  # momentum, nesterov dropped
    saved = save_config(cfg, tmp_path / "run")
    assert load_config(saved) == cfg


def test_config_errors_name_the_culprit(config_root, tmp_path):
    with pytest.raises(ConfigError, match=r"override 'train.epoch=3'.*did you mean 'train.epochs'"):
        load_config("toy", ["train.epoch=3"])
    assert load_config("toy", ["method.foo=1"]).method.foo == 1  # free-form: new kwargs welcome
    with pytest.raises(ConfigError, match=r"no 'metod' section \(did you mean 'method'\?\); write \+metod.foo"):
        load_config("toy", ["metod.foo=1"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("base: toy\ntrain: {chekpoint: {every_steps: 3}}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: unknown key 'train.chekpoint'.*did you mean 'train.checkpoint'"):
        load_config(bad)
    neg = tmp_path / "neg.yaml"
    neg.write_text("base: toy\ntrain: {epochs: -1}\n")
    with pytest.raises(ConfigError, match=r"train.epochs' \(set in .*neg.yaml\)"):
        load_config(neg)
    cyc = tmp_path / "cyc.yaml"
    cyc.write_text("base: cyc.yaml\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_config(cyc)
    with pytest.raises(ConfigError, match="unknown schedule 'warm'"):
        load_config("toy", ["train.schedule.name=warm"])
    missing = tmp_path / "missing.yaml"
    missing.write_text("base: toy\nmethod: {queue_size: '???'}\n")
    with pytest.raises(ConfigError, match="method.queue_size"):
        load_config(missing)
    with pytest.raises(FileNotFoundError, match="pretrain/toy"):
        load_config("nope")


# --------------------------------------------------------------------------- seeding and single-process helpers


def test_rng_capture_restore_round_trip():
    gen = torch.Generator().manual_seed(3)
    seed_everything(11)
    random.random(), np.random.rand(), torch.rand(2), torch.rand(1, generator=gen)
    random.gauss(0, 1)  # leaves a cached gaussian in Python's state
    state = capture_rng_state({"g": gen})
    first = (random.gauss(0, 1), np.random.randn(3).tolist(), torch.rand(3).tolist(), torch.rand(2, generator=gen).tolist())
    seed_everything(99)
    torch.rand(5, generator=gen)
    restore_rng_state(state, {"g": gen})
    again = (random.gauss(0, 1), np.random.randn(3).tolist(), torch.rand(3).tolist(), torch.rand(2, generator=gen).tolist())
    assert first == again


def test_single_process_gather_and_shuffle_are_identity():
    x = torch.randn(5, 3)
    assert torch.equal(concat_all_gather(x), x)
    state = torch.get_rng_state()
    shuffled, idx = batch_shuffle(x)
    assert torch.equal(torch.get_rng_state(), state)  # no random draw in one process
    assert torch.equal(batch_unshuffle(shuffled, idx), x)


def test_epoch_sampler_shards_and_resumes():
    shards = [EpochSampler(10, seed=3, rank=r, world_size=2) for r in range(2)]
    for s in shards:
        s.set_epoch(4)
    a, b = list(shards[0]), list(shards[1])
    assert len(a) == len(b) == 5 and sorted(a + b) == list(range(10))
    shards[0].set_epoch(4, start=2)
    assert list(shards[0]) == a[2:] and len(shards[0]) == 3
    shards[0].set_epoch(5)
    assert list(shards[0]) != a


# --------------------------------------------------------------------------- exact resume


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    run = tmp_path_factory.mktemp("full")
    trainer = toy_trainer(run)
    result = trainer.fit()
    return full_state(trainer), result, epoch_rows(run)


def epoch_rows(run: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "time"} for r in rows if r["kind"] == "epoch"]


@pytest.mark.parametrize("how, kill_at", [("callback", 10), ("callback", 7), ("max_steps", 9)])
def test_kill_and_resume_is_bit_identical(uninterrupted, tmp_path, how, kill_at):
    full, full_result, full_epochs = uninterrupted
    assert full_result["step"] == 18 and full["model/queue_ptr"].item() == (18 * 4) % 16
    if how == "callback":
        # step checkpoints every 4 steps, epochs of 6: 10 resumes mid-epoch from step 8, 7 from the epoch-1 end (6)
        with pytest.raises(KeyboardInterrupt):
            toy_trainer(tmp_path, callbacks=[Kill(kill_at)]).fit()
    else:
        toy_trainer(tmp_path, {"max_steps": kill_at}).fit()
    _, meta = load_checkpoint(tmp_path)
    assert meta["step"] == {10: 8, 7: 6, 9: 9}[kill_at]
    resumed = toy_trainer(tmp_path, init_seed=42)  # fresh weights: everything must come from the checkpoint
    result = resumed.fit(resume=True)
    assert result["step"] == 18 and result["epoch"] == 3
    b = full_state(resumed)
    assert full.keys() == b.keys()
    for key in full:
        assert torch.equal(full[key], b[key]), key
    assert result["metrics"] == full_result["metrics"]
    assert epoch_rows(tmp_path) == full_epochs  # epoch averages too, even for the epoch cut in two
    steps = [json.loads(line)["step"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()
             if json.loads(line)["kind"] == "step"]
    assert steps == list(range(1, 19))  # steps re-done after the checkpoint are not logged twice
    ckpts = sorted(p.name for p in (tmp_path / "checkpoints").glob("*.safetensors"))
    assert ckpts == ["best.safetensors", "epoch_0002.safetensors", "epoch_0003.safetensors", "last.safetensors"]


def test_skeletonclr_kill_and_resume_is_bit_identical(tmp_path):
    """The shipped SkeletonCLR (augmentations from the global RNG, queue, momentum key encoder) resumes exactly."""
    full = toy_trainer(tmp_path / "full", method="skeletonclr_pool")
    full.fit()
    expected = full_state(full)
    with pytest.raises(KeyboardInterrupt):
        toy_trainer(tmp_path / "cut", callbacks=[Kill(10)], method="skeletonclr_pool").fit()
    resumed = toy_trainer(tmp_path / "cut", init_seed=1, method="skeletonclr_pool")
    resumed.fit(resume=True)
    got = full_state(resumed)
    assert expected.keys() == got.keys() and "model/queue.ptr" in got
    assert all(torch.equal(expected[k], got[k]) for k in expected)


def test_knn_monitor_logs_and_leaves_training_unchanged(uninterrupted, tmp_path):
    full = uninterrupted[0]
    calls = []

    def knn_eval(model):
        calls.append(model.training)
        torch.rand(100)  # an evaluation that draws random numbers must not shift training's RNG
        return {"joint/top1": 50.0 + len(calls), "k": 20}

    trainer = toy_trainer(tmp_path, {"checkpoint": {"monitor": "knn/joint/top1"}}, [KNNMonitor(knn_eval, every=2)])
    trainer.fit()
    assert len(calls) == 2  # epoch 2 and the last epoch
    b = full_state(trainer)
    assert all(torch.equal(full[k], b[k]) for k in full)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    epochs = [r for r in rows if r["kind"] == "epoch"]
    assert [r.get("knn/joint/top1") for r in epochs] == [None, 51.0, 52.0]
    _, meta = load_checkpoint(tmp_path / "checkpoints" / "best.safetensors")
    assert meta["epoch"] == 3 and meta["best"]["value"] == 52.0


# --------------------------------------------------------------------------- 2-process DDP through the CLI

DDP_SCRIPT = """
import json, os, sys
from pathlib import Path
import torch
sys.path.insert(0, {tests!r})
import test_engine  # registers skeletonclr_pool
from skelssl.engine.distributed import (batch_shuffle, batch_unshuffle, cleanup_distributed, concat_all_gather,
                                        get_rank, get_world_size, init_distributed)
from skelssl.cli import main

init_distributed()
rank, world = get_rank(), get_world_size()
x = torch.arange(12, dtype=torch.float32).view(4, 3) + 100 * rank
gathered = concat_all_gather(x)
expected = torch.cat([torch.arange(12, dtype=torch.float32).view(4, 3) + 100 * r for r in range(world)])
shuffled, idx = batch_shuffle(x)
everyone = concat_all_gather(shuffled)
report = dict(
    rank=rank, world=world, gather_ok=bool(torch.equal(gathered, expected)),
    unshuffle_ok=bool(torch.equal(batch_unshuffle(shuffled, idx), x)),
    shuffle_is_partition=sorted(everyone[:, 0].tolist()) == sorted(expected[:, 0].tolist()),
)
# One uninterrupted run, and one stopped mid-epoch (step 4 of 6) then resumed: they must end identical.
codes = [main(sys.argv[1:] + ["--run-dir", os.environ["FULL_RUN"]]),
         main(sys.argv[1:] + ["--run-dir", os.environ["CUT_RUN"], "train.max_steps=4"]),
         main(sys.argv[1:] + ["--run-dir", os.environ["CUT_RUN"], "--resume"])]
report.update(codes=codes)
Path(os.environ["REPORT_DIR"], f"rank{{rank}}.json").write_text(json.dumps(report))
# Leave the group together: a process exiting with gloo's threads alive can abort at teardown
# ("terminate called without an active exception") after all its work is done. os._exit then skips
# the interpreter's teardown, where a C++ thread still joinable at static destruction aborts under load.
torch.distributed.barrier()
cleanup_distributed()
sys.stdout.flush()
sys.stderr.flush()
os._exit(0)
"""

DDP_CONFIG = """
method: {name: skeletonclr_pool, queue_size: 64, feature_dim: 8, momentum: 0.9, temperature: 0.1}
data: {dataset: synthetic, protocol: xsub, part: train, batch_size: 8, reader_options: {num_samples: 48}}
train:
  epochs: 2
  optimizer: {name: sgd, lr: 0.05}
  schedule: {name: cosine, warmup_epochs: 1}
  log_every: 1
  checkpoint: {every_steps: 2, every_epochs: 0, monitor: knn/joint/top1}
  knn_monitor: {every: 1, k: 5}
"""


def test_ddp_two_process_pretraining_smoke(tmp_path):
    script = tmp_path / "ddp_run.py"
    script.write_text(DDP_SCRIPT.format(tests=str(Path(__file__).parent)))
    cfg = tmp_path / "toy_ddp.yaml"
    cfg.write_text(DDP_CONFIG)
    run_dir, cut_dir = tmp_path / "runs" / "ddp", tmp_path / "runs" / "cut"
    env = {**os.environ, "REPORT_DIR": str(tmp_path), "OMP_NUM_THREADS": "1", "FULL_RUN": str(run_dir),
           "CUT_RUN": str(cut_dir)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(script),
           "pretrain", str(cfg), "--quiet", "--seed", "3", "--deterministic"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    reports = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    for r, rep in enumerate(reports):
        assert rep["rank"] == r and rep["world"] == 2 and rep["codes"] == [0, 0, 0]
        assert rep["gather_ok"] and rep["unshuffle_ok"] and rep["shuffle_is_partition"]
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in rows if r["kind"] == "step"]
    assert len(losses) == 6 and all(math.isfinite(v) for v in losses)
    assert "knn/joint/top1" in rows[-1]
    tensors, meta = load_checkpoint(run_dir)
    assert meta["step"] == 6 and meta["world_size"] == 2 and set(meta["state"]["per_rank"]) == {"rank0", "rank1"}
    # 28 xsub-train samples, global batch 8 = 4 per rank, 3 steps per epoch: the queue advanced by
    # both ranks' keys each step (6 x 8 = 48), which it would not (24) without the gather before enqueue
    assert int(tensors["model/queue.ptr"]) == 48
    assert (run_dir / "checkpoints" / "best.safetensors").exists()  # decided on rank 0, saved by all
    cut, cut_meta = load_checkpoint(cut_dir)
    assert cut_meta["step"] == 6 and cut.keys() == tensors.keys()
    assert all(torch.equal(cut[k], tensors[k]) for k in tensors)  # per-rank RNG states included
    assert (run_dir / "config.yaml").exists() and any((run_dir / "tb").iterdir())
    assert (tmp_path / "runs" / "data").is_dir()  # synthetic data prepared beside the run


def test_cli_pretrain_then_resume_longer(tmp_path, capsys):
    from skelssl.cli import main
    from skelssl.data.prepare import prepare_dataset

    prepare_dataset("synthetic", tmp_path / "data", reader_options={"num_samples": 40}, workers=1, progress=False)
    cfg = tmp_path / "toy.yaml"
    cfg.write_text(DDP_CONFIG)
    run = tmp_path / "run"
    assert main(["pretrain", str(cfg), "--data", str(tmp_path / "data"), "--run-dir", str(run), "--quiet",
                 "train.tensorboard=false", "train.epochs=1", "train.knn_monitor.every=0"]) == 0
    _, first = load_checkpoint(run)
    # `--resume` directly followed by an override: the override is not taken for a PATH. Neither the data
    # nor the first run's overrides are repeated: they come from the run directory.
    assert main(["pretrain", str(cfg), "--run-dir", str(run), "--resume", "train.epochs=3", "--quiet"]) == 0
    _, meta = load_checkpoint(run)
    assert first["epoch"] == 1 and meta["epoch"] == 3 and meta["step"] == 3 * first["step"]
    assert meta["config"]["train"]["epochs"] == 3 and "epochs: 3" in (run / "config.yaml").read_text()
    assert meta["config"]["train"]["knn_monitor"]["every"] == 0 and meta["config"]["train"]["tensorboard"] is False
    assert meta["config"]["data"]["root"] == str((tmp_path / "data").resolve())
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["kind"] == "step"] == list(range(1, meta["step"] + 1))
    assert not any("knn/joint/top1" in r for r in rows)  # the config file's monitor stayed off
    assert main(["pretrain", "no_such_config"]) == 2
    assert main(["pretrain", str(cfg), "train.epoch=3"]) == 2
    assert "did you mean 'train.epochs'" in capsys.readouterr().err


def test_local_batch_size_splits_the_global_batch_evenly(monkeypatch):
    from skelssl.engine import distributed

    assert distributed.local_batch_size(32) == 32  # one process: the whole batch
    monkeypatch.setattr(distributed, "get_world_size", lambda: 4)
    assert distributed.local_batch_size(32) == 8
    with pytest.raises(ValueError, match=r"data.batch_size=30 .* over 4 processes"):
        distributed.local_batch_size(30)


def test_git_commit_names_the_commit_and_flags_uncommitted_changes(tmp_path):
    import subprocess

    from skelssl.engine.checkpoint import git_commit

    def git(*args):
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path,
                              check=True, capture_output=True, text=True).stdout.strip()

    git("init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", "code.py")
    git("commit", "-qm", "first")
    head = git("rev-parse", "HEAD")
    (tmp_path / "notes.txt").write_text("untracked files are not the code that ran\n")
    assert git_commit(tmp_path) == head
    (tmp_path / "code.py").write_text("x = 2\n")
    (tmp_path / "sub").mkdir()
    assert git_commit(tmp_path / "sub") == head + "-dirty"  # another directory: not the cached answer
    assert git_commit(tmp_path.parent / "nowhere") is None
