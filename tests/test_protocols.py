"""Evaluation protocols: KNN by hand, linear probe (cached == frozen), results.json, ensemble, semi split, t-SNE, CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from skelssl.data.canonical import FORMAT_VERSION, open_prepared, write_index_file, write_meta
from skelssl.data.dataset import SkeletonDataset
from skelssl.data.splits import make_labeled_split, sample_labeled
from skelssl.engine.checkpoint import encode_state, save_checkpoint
from skelssl.engine.config import load_config
from skelssl.methods.base import METHODS, Method
from skelssl.protocols.ensemble import combine_scores, ensemble, load_stream
from skelssl.protocols.features import FeatureDataset, Features, extract_features
from skelssl.protocols.knn import knn_accuracy, knn_evaluate, knn_scores
from skelssl.protocols.linear import LinearProbe, run_linear, use_cached_features
from skelssl.protocols.results import (EvalContext, confusion_matrix, per_class_accuracy, read_results, save_scores,
                                       topk_accuracy, write_results)
from skelssl.protocols.semi import labeled_subset
from skelssl.protocols.training import train_classifier
from skelssl.protocols.tsne import plot_tsne

FAST = ["train.tensorboard=false", "train.progress=false"]


@pytest.fixture(autouse=True)
def _one_thread():
    # These models are tiny: a second intra-op thread only adds synchronisation,
    # which costs 50x on a shared, busy 2-core machine.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --------------------------------------------------------------------------- toy data, encoder and method


class ToyEncoder(nn.Module):
    """Mean over time and persons -> BatchNorm over joint x channel -> linear -> ReLU."""

    def __init__(self, in_channels: int = 3, num_joints: int = 25, feature_dim: int = 16) -> None:
        super().__init__()
        self.feature_dim = feature_dim
        self.bn = nn.BatchNorm1d(in_channels * num_joints)
        self.fc = nn.Linear(in_channels * num_joints, feature_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        return torch.relu(self.fc(self.bn(x.mean(dim=(2, 4)).reshape(n, -1))))


class ToyMethod(Method):
    """One toy encoder per view; ``eval_encoders`` follows base.py (encoders expect their view's input)."""

    def __init__(self, views=("joint",), feature_dim: int = 16, layout="ntu25", in_channels=3, num_frames=8) -> None:
        super().__init__()
        self.encoders = nn.ModuleDict({v: ToyEncoder(in_channels, 25, feature_dim) for v in views})

    def training_step(self, batch, epoch):
        return {"loss": sum(e(batch[0]).pow(2).mean() for e in self.encoders.values())}

    def eval_encoders(self):
        return dict(self.encoders)


METHODS.register("toy_protocols", overwrite=True)(ToyMethod)


def _make_prepared(root: Path, n: int = 48, classes: int = 3, t: int = 8, seed: int = 0) -> Path:
    """A tiny prepared dataset: class-dependent joint offsets plus noise; even samples train, odd test."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    pattern = rng.normal(size=(classes, 3, 1, 25, 1)).astype(np.float32)
    data = rng.normal(scale=0.5, size=(n, 3, t, 25, 2)).astype(np.float32) + pattern[labels]
    root.mkdir(parents=True)
    np.save(root / "data.npy", data)
    rows = [{"sample_id": f"s{i}", "label": int(labels[i]), "subject": i % 4, "view": 1, "setup": 0,
             "replication": 0, "length": t, "frames": t} for i in range(n)]
    write_meta(root / "meta.csv", rows)
    idx = np.arange(n)
    write_index_file(root / "splits" / "xsub_train.txt", idx[idx % 4 < 2])
    write_index_file(root / "splits" / "xsub_test.txt", idx[idx % 4 >= 2])
    info = {"format_version": FORMAT_VERSION, "dataset": "toy", "layout": "ntu25", "channels": ["x", "y", "z"],
            "shape": list(data.shape), "num_classes": classes, "class_names": [f"c{i}" for i in range(classes)],
            "class_counts": np.bincount(labels).tolist(), "protocols": {"xsub": ["test", "train"]}}
    (root / "info.json").write_text(json.dumps(info))
    return root


@pytest.fixture(scope="module")
def prepared_dir(tmp_path_factory) -> Path:
    return _make_prepared(tmp_path_factory.mktemp("protocols") / "toy")


def _make_run(run_dir: Path, data: Path, views=("joint",), seed: int = 1) -> ToyMethod:
    """A run directory as pretraining leaves it: config.yaml + a Trainer-format checkpoint."""
    torch.manual_seed(seed)
    method = ToyMethod(views=views)
    with torch.no_grad():  # "pretrained" BN statistics, so loading them is observable
        for enc in method.encoders.values():
            enc.bn.running_mean.normal_()
            enc.bn.running_var.uniform_(0.5, 2.0)
    run_dir.mkdir(parents=True)
    views_yaml = "[" + ", ".join(views) + "]"
    (run_dir / "config.yaml").write_text(
        f"method: {{name: toy_protocols, views: {views_yaml}, feature_dim: 16}}\n"
        f"data: {{dataset: toy, root: {data}, protocol: xsub}}\n"
    )
    skeleton, tensors = encode_state({"model": method.state_dict()})
    save_checkpoint(run_dir / "checkpoints" / "last", tensors, {"state": skeleton, "epoch": 3, "step": 30})
    return method


# --------------------------------------------------------------------------- KNN


def test_knn_weighted_votes_by_hand():
    # Train bank (deliberately not unit length: KNN must L2-normalise).
    train = torch.tensor([[3.0, 0.0], [0.0, 2.0], [0.6, 0.8], [-5.0, 0.0]])
    labels = torch.tensor([0, 1, 1, 0])
    test = torch.tensor([[2.0, 0.0]])
    # cos sims: 1.0 (c0), 0.0 (c1), 0.6 (c1), -1.0 (c0); k=3 keeps the first three.
    for tau, expected_pred in ((0.1, 0), (10.0, 1)):
        w0, w1 = math.exp(1.0 / tau), math.exp(0.6 / tau) + math.exp(0.0 / tau)
        s = knn_scores(train, labels, test, k=3, temperature=tau, num_classes=3)
        assert s.shape == (1, 3)
        np.testing.assert_allclose(s[0].numpy(), [w0 / (w0 + w1), w1 / (w0 + w1), 0.0], rtol=1e-5)
        assert int(s.argmax()) == expected_pred  # low temperature: the nearest neighbour outweighs the majority
    # k larger than the bank is capped; unlabelled (-1) samples are ignored.
    s = knn_scores(train, torch.tensor([0, 1, 1, -1]), test, k=10, temperature=1.0)
    w = [math.exp(1.0), math.exp(0.0) + math.exp(0.6)]
    np.testing.assert_allclose(s[0].numpy(), np.array(w) / sum(w), rtol=1e-5)
    # A tiny temperature must not overflow.
    assert torch.isfinite(knn_scores(train, labels, test, k=3, temperature=1e-3)).all()


def test_knn_evaluate_and_online_monitor(prepared_dir):
    train_f = Features(torch.eye(3).repeat(2, 1), torch.tensor([0, 1, 2, 0, 1, 2]), torch.arange(6))
    test_f = Features(torch.tensor([[1.0, 0.1, 0.0], [0.0, 0.0, 1.0]]), torch.tensor([0, 1]), torch.arange(2))
    metrics, scores = knn_evaluate(train_f, test_f, k=2, temperature=0.1)
    assert metrics == {"top1": 50.0, "top5": 100.0}
    assert scores.argmax(1).tolist() == [0, 2]

    prepared = open_prepared(prepared_dir)
    train = SkeletonDataset(prepared, protocol="xsub", part="train")
    test = SkeletonDataset(prepared, protocol="xsub", part="test")
    enc = ToyEncoder()
    enc.train()
    enc.fc.eval()  # a mixed state the monitor must restore exactly
    r = knn_accuracy(enc, train, test, k=5, temperature=0.1, batch_size=7, device="cpu")
    assert enc.training and not enc.fc.training and enc.bn.training
    assert set(r) >= {"top1", "top5"} and r["num_train"] == len(train) and r["num_test"] == len(test)
    # Same numbers as the direct computation on extracted features.
    tr, te = extract_features(enc, train, batch_size=100), extract_features(enc, test, batch_size=100)
    direct, _ = knn_evaluate(tr, te, k=5, temperature=0.1, num_classes=3)
    assert r["top1"] == direct["top1"] and r["top5"] == direct["top5"]
    # A motion encoder that expects motion input gets it converted from joints.
    r_motion = knn_accuracy(enc, train, test, k=5, temperature=0.1, batch_size=16, device="cpu", view="motion",
                            layout="ntu25")
    assert 0.0 <= r_motion["top1"] <= 100.0


# --------------------------------------------------------------------------- results


def test_results_json_by_hand(tmp_path):
    scores = np.array([[0.9, 0.1, 0.0, 0.0],   # true 0 -> 0
                       [0.2, 0.7, 0.1, 0.0],   # true 0 -> 1 (0 is 2nd)
                       [0.1, 0.3, 0.6, 0.0],   # true 1 -> 2 (1 is 2nd)
                       [0.0, 0.1, 0.8, 0.1],   # true 2 -> 2
                       [0.5, 0.0, 0.4, 0.1]])  # true 2 -> 0 (2 is 2nd)
    labels = np.array([0, 0, 1, 2, 2])
    cm = confusion_matrix(labels, scores.argmax(1), 4)
    assert cm.tolist() == [[1, 1, 0, 0], [0, 0, 1, 0], [1, 0, 1, 0], [0, 0, 0, 0]]
    assert per_class_accuracy(cm) == [50.0, 0.0, 50.0, None]
    assert topk_accuracy(scores, labels, 1) == pytest.approx(40.0)
    assert topk_accuracy(scores, labels, 2) == pytest.approx(100.0)
    assert topk_accuracy(scores, labels, 5) == 100.0  # k capped at the class count

    ctx = EvalContext(protocol="linear", method="skeletonclr", view="joint", dataset="toy", split_protocol="xsub",
                      seed=3, epochs=7, config={"train": {"epochs": 7}}, command="skelssl evaluate linear --run r")
    out = tmp_path / "eval" / "linear"
    written = write_results(out, ctx, scores, labels, np.array([10, 11, 12, 13, 14]), extra_metrics={"k": 1})
    r = read_results(out)
    assert r == json.loads(json.dumps(written))
    for key in ("top1", "top5", "per_class_accuracy", "confusion_matrix", "config", "seed", "method", "view",
                "protocol", "dataset", "epochs", "command", "num_test", "num_classes"):
        assert key in r, key
    assert r["top1"] == pytest.approx(40.0) and r["top5"] == 100.0
    assert r["confusion_matrix"] == cm.tolist() and r["per_class_accuracy"] == [50.0, 0.0, 50.0, None]
    assert r["mean_class_accuracy"] == pytest.approx(100 / 3)
    assert (r["seed"], r["epochs"], r["method"], r["k"]) == (3, 7, "skeletonclr", 1)
    assert r["command"] == "skelssl evaluate linear --run r"
    assert np.load(out / "test_indices.npy").tolist() == [10, 11, 12, 13, 14]
    np.testing.assert_allclose(np.load(out / "scores.npy"), scores, rtol=1e-6)


# --------------------------------------------------------------------------- linear probe


def _linear_cfg(*overrides: str):
    return load_config("eval/linear", [*FAST, "train.log_every=1000", *overrides])


def test_linear_probe_separates_toy_features(tmp_path):
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(4, 8, generator=g) * 3
    labels = torch.arange(200) % 4
    feats = centres[labels] + 0.5 * torch.randn(200, 8, generator=g)
    train = Features(feats[:120], labels[:120], torch.arange(120))
    cfg = _linear_cfg("train.epochs=15", "train.optimizer.lr=0.5", "data.batch_size=32",
                      "train.schedule.milestones=[12]")
    probe = LinearProbe(nn.Identity(), 8, 4)
    summary = train_classifier(probe, FeatureDataset(train), cfg, tmp_path, device="cpu", quiet=True)
    assert summary["epoch"] == 15 and (tmp_path / "checkpoints" / "last.safetensors").exists()
    probe.eval()
    with torch.no_grad():
        acc = (probe.logits(feats[120:]).argmax(1) == labels[120:]).float().mean().item()
    assert acc > 0.95


@pytest.mark.parametrize("feature_norm", ["null", "batchnorm"])
def test_cached_features_equal_frozen_encoder(tmp_path, feature_norm):
    g = torch.Generator().manual_seed(1)
    y = torch.arange(40) % 2
    x = torch.randn(40, 3, 4, 25, 1, generator=g) + y.view(-1, 1, 1, 1, 1).float()
    train, test = TensorDataset(x[:30], y[:30], torch.arange(30)), TensorDataset(x[30:], y[30:], torch.arange(30, 40))
    torch.manual_seed(0)
    enc = ToyEncoder()
    with torch.no_grad():
        enc.bn.running_mean.normal_()
    bn_before = enc.bn.running_mean.clone()
    results = {}
    for cache in ("true", "false"):
        cfg = _linear_cfg("train.epochs=4", "data.batch_size=8", f"protocol.cache_features={cache}",
                          "train.schedule.milestones=[3]", f"protocol.feature_norm={feature_norm}")
        results[cache] = run_linear(enc, train, test, cfg, tmp_path / cache, num_classes=2, device="cpu", quiet=True,
                                    context=EvalContext(protocol="linear"))
    # The frozen path ran the encoder in eval mode: its BN statistics are untouched.
    assert torch.equal(enc.bn.running_mean, bn_before) and not any(p.requires_grad for p in enc.parameters())
    s_cached, s_frozen = np.load(tmp_path / "true" / "scores.npy"), np.load(tmp_path / "false" / "scores.npy")
    np.testing.assert_allclose(s_cached, s_frozen, rtol=1e-5, atol=1e-6)
    assert results["true"]["cache_features"] is True and results["false"]["cache_features"] is False
    assert results["true"]["top1"] == results["false"]["top1"]
    assert results["true"]["train_loss"] == pytest.approx(results["false"]["train_loss"], rel=1e-5)
    assert use_cached_features("auto", None) and not use_cached_features("auto", object())
    with pytest.raises(ValueError, match="augment"):
        use_cached_features(True, object())


# --------------------------------------------------------------------------- ensemble


def _stream(d: Path, scores, indices, labels, **results) -> Path:
    save_scores(d, np.asarray(scores, dtype=np.float32), np.asarray(indices), np.asarray(labels))
    (d / "results.json").write_text(json.dumps({"dataset": "toy", "split_protocol": "xsub", **results}))
    return d


def test_ensemble_weights_by_hand_and_mismatch(tmp_path):
    labels = np.array([1, 1, 0])
    a = np.array([[2.0, 1.0], [0.0, 1.0], [3.0, 0.0]])
    b = np.array([[0.0, 3.0], [1.0, 0.0], [0.0, 4.0]])
    sa = _stream(tmp_path / "a", a, [5, 6, 7], labels, view="joint")
    # The second stream is stored in another order: [7, 5, 6].
    sb = _stream(tmp_path / "b", b[[2, 0, 1]], [7, 5, 6], labels[[2, 0, 1]], view="motion")
    combined = combine_scores([load_stream(sa), load_stream(sb)], [1.0, 0.5])
    np.testing.assert_allclose(combined, a + 0.5 * b)
    r = ensemble([sa, sb], [1.0, 0.5])
    # a + 0.5 b = [[2, 2.5], [0.5, 1], [3, 2]] -> predictions 1, 1, 0: all right, while a alone
    # predicts 0, 1, 0 (2 of 3) and b alone 1, 0, 1 (1 of 3).
    assert r["top1"] == pytest.approx(100.0)
    assert r["confusion_matrix"] == [[1, 0], [0, 2]]
    assert [s["top1"] for s in r["streams"]] == [pytest.approx(200 / 3), pytest.approx(100 / 3)]
    probs = combine_scores([load_stream(sa), load_stream(sb)], [1, 1], softmax=True)
    np.testing.assert_allclose(probs.sum(1), [2.0, 2.0, 2.0])

    sc = _stream(tmp_path / "c", b, [5, 6, 8], labels)
    with pytest.raises(ValueError, match="test sets differ"):
        ensemble([sa, sc])
    sd = _stream(tmp_path / "d", b, [5, 6, 7], labels, dataset="other")
    with pytest.raises(ValueError, match="dataset"):
        ensemble([sa, sd])
    se = _stream(tmp_path / "e", b, [5, 6, 7], [0, 0, 1][::-1])
    with pytest.raises(ValueError, match="labels"):
        ensemble([sa, se])
    with pytest.raises(ValueError, match="weights"):
        ensemble([sa, sb], [1.0])


# --------------------------------------------------------------------------- semi-supervised split


def test_semi_split_uses_the_sampler_indices(tmp_path):
    root = _make_prepared(tmp_path / "toy", n=60)
    prepared = open_prepared(root)
    ds, path = labeled_subset(prepared, "xsub", per_class=3, seed=5)
    expected = sample_labeled(prepared.labels, per_class=3, seed=5, candidates=prepared.split("xsub", "train"))
    assert ds.indices.tolist() == expected.tolist()
    assert path == make_labeled_split(prepared, "xsub", per_class=3, seed=5)[0] and path.exists()
    assert np.bincount(ds.labels).tolist() == [3, 3, 3]
    ds2, _ = labeled_subset(prepared, "xsub", fraction=0.5, seed=1)
    assert ds2.indices.tolist() == make_labeled_split(prepared, "xsub", fraction=0.5, seed=1)[1].tolist()
    # A published file is used as is; indices outside the training split are refused.
    write_index_file(tmp_path / "pub.txt", expected[:4])
    assert labeled_subset(prepared, "xsub", split_file=tmp_path / "pub.txt")[0].indices.tolist() == expected[:4].tolist()
    write_index_file(tmp_path / "bad.txt", prepared.split("xsub", "test")[:2])
    with pytest.raises(ValueError, match="not in the xsub training split"):
        labeled_subset(prepared, "xsub", split_file=tmp_path / "bad.txt")


# --------------------------------------------------------------------------- t-SNE


def test_tsne_writes_png(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 12)
    feats = rng.normal(size=(36, 10)) + 4 * np.eye(10)[labels]
    out = plot_tsne(feats, labels, tmp_path / "fig" / "tsne.png", class_names=["wave", "kick", "jump"], title="toy",
                    max_samples=30)
    assert out.exists() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- command line, random-init floor


def test_cli_checkpoint_random_floor_semi_and_ensemble(tmp_path, prepared_dir):
    from skelssl.cli import main

    run = tmp_path / "run"
    pretrained = _make_run(run, prepared_dir, views=("joint", "motion"))
    assert main(["evaluate", "knn", "--run", str(run), "--device", "cpu", "protocol.k=5"]) == 0
    r = read_results(run / "eval" / "knn_joint")
    assert r["checkpoint"].endswith("last.safetensors") and not r["random_init"]
    assert (r["method"], r["view"], r["dataset"], r["split_protocol"], r["k"]) == ("toy_protocols", "joint", "toy",
                                                                                    "xsub", 5)
    # The checkpoint's weights were used: same numbers as KNN with the pretrained encoder itself.
    prepared = open_prepared(prepared_dir)
    train = SkeletonDataset(prepared, protocol="xsub", part="train")
    test = SkeletonDataset(prepared, protocol="xsub", part="test")
    for view in ("joint", "motion"):
        direct = knn_accuracy(pretrained.encoders[view], train, test, k=5, temperature=0.1, batch_size=64,
                              device="cpu", view=view, layout="ntu25")
        assert read_results(run / "eval" / f"knn_{view}")["top1"] == pytest.approx(direct["top1"])

    # The random-init floor: linear probe and KNN on untrained, frozen weights.
    assert main(["evaluate", "knn", "--run", str(run), "--view", "joint", "--random-init", "--device", "cpu"]) == 0
    assert main(["evaluate", "linear", "--run", str(run), "--view", "joint", "--random-init", "--device", "cpu",
                 "--quiet", *FAST, "train.epochs=3", "data.batch_size=8"]) == 0
    floor = read_results(run / "eval" / "linear_random_joint")
    assert floor["random_init"] and floor["checkpoint"] is None and floor["epochs"] == 3 and floor["cache_features"]
    assert (run / "eval" / "linear_random_joint" / "checkpoints" / "last.safetensors").exists()
    assert (run / "eval" / "knn_random_joint" / "results.json").exists()

    # Semi-supervised linear on 2 labels per class: the labelled set is the sampler's.
    assert main(["evaluate", "semi", "--run", str(run), "--view", "joint", "--mode", "linear", "--per-class", "2",
                 "--device", "cpu", "--quiet", *FAST, "train.epochs=2"]) == 0
    semi = read_results(run / "eval" / "semi_linear_2perclass_seed0_joint")
    expected = sample_labeled(prepared.labels, per_class=2, seed=0, candidates=prepared.split("xsub", "train"))
    assert semi["extra"]["labeled_samples"] == len(expected) == semi["num_train"]
    assert Path(semi["extra"]["labeled_split_file"]).exists()

    # Fine-tuning from scratch (the supervised baseline), with augmentation; and a t-SNE map.
    assert main(["evaluate", "finetune", "--run", str(run), "--view", "motion", "--from-scratch", "--device", "cpu",
                 "--quiet", *FAST, "train.epochs=2", "data.batch_size=8", "protocol.augment=skeletonclr"]) == 0
    ft = read_results(run / "eval" / "finetune_scratch_motion")
    assert ft["random_init"] and ft["epochs"] == 2 and ft["augment"] == "skeletonclr" and ft["view"] == "motion"
    assert main(["evaluate", "tsne", "--run", str(run), "--view", "joint", "--device", "cpu"]) == 0
    assert (run / "eval" / "tsne_joint" / "tsne.png").exists()
    assert main(["evaluate", "finetune", "--run", str(run), "--random-init"]) == 2  # that is --from-scratch

    # Ensemble of the two views of the run (RUN:VIEW), written to --out.
    out = tmp_path / "ens"
    assert main(["ensemble", f"{run}:joint", f"{run}:motion", "--weights", "1", "0.5", "--protocol", "knn",
                 "--out", str(out)]) == 0
    ens = read_results(out)
    joint, motion = load_stream(run / "eval" / "knn_joint"), load_stream(run / "eval" / "knn_motion")
    by_hand = joint.scores + 0.5 * motion.scores  # same test order within one run
    assert ens["top1"] == pytest.approx(topk_accuracy(by_hand, joint.labels, 1))
    assert main(["ensemble", str(run), "--protocol", "knn"]) == 2  # ambiguous: two views
