"""What a finished semi-supervised run's neighbourhoods and VAT perturbations look like: the evidence in docs/semi.md.

    python benchmarks/diagnostics/semi_neighbours.py RUN [RUN ...] [--k 10] [--out FILE]

For each run (a ``skelssl semi`` run directory, last checkpoint), prints one
JSON line measured on its training split:

* ``neighbour_quality``: the share of each unlabeled sample's ``k`` nearest
  unlabeled neighbours (Euclidean in ``h̄``) that have its true class, with
  ``h̄`` of the clean clips (``clean``), of the clips after the run's training
  augmentation (``augmented``), and with the bank the run left behind
  (``stored_bank``; only methods that keep it current). On a BatchNorm
  backbone also ``clean_batch_stats``: the clean clips in training mode,
  normalised by the statistics of shuffled batches as large as a training
  step's key pass (both halves) — how the bank was filled during training
  before ``bank_input=clean`` meant eval-mode features.
* ``proxy_accuracy``: the same ways, how often an unlabeled sample's
  nearest *labeled* sample has its class (ASSL's positive-neighbour test).
* ``classifier_accuracy``: the same ways, how often the run's classifier
  labels an unlabeled sample's ``h̄`` right.
* ``vat``: for a finite-difference step ``xi`` and a perturbation norm ``eps``,
  the mean ``KL(p(x) ‖ p(x + eps·d))`` with ``d`` from one power iteration,
  the share of predictions it flips, and the same KL for a random ``d``.
  A step lost to float32 rounding gives ``d = 0``: KL 0, nothing flipped.

``--out`` also writes the lines as a JSON list.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from skelssl.api.semi_supervised import _chunks, _clip_frames
from skelssl.data.canonical import open_prepared
from skelssl.data.dataset import load_clips
from skelssl.losses.semi import _unit, kl_from_logits, nearest_neighbours
from skelssl.methods.base import DatasetInfo, build_method
from skelssl.methods.semi.base import running_stats_frozen
from skelssl.protocols.encoders import load_method_weights, read_run_config


@torch.no_grad()
def neighbourhoods(method, prepared, train: np.ndarray, clip_frames: int | None, k: int, key_batch: int) -> dict:
    labels = torch.as_tensor(prepared.labels[train])
    labeled = method.bank.label[train] >= 0
    unlabeled = ~labeled
    anchors = torch.nonzero(unlabeled)[:, 0]

    def features(augment: bool) -> torch.Tensor:
        torch.manual_seed(0)
        out = []
        for x, _ in _chunks(prepared, train, clip_frames):
            x = method.sample_frames(x, torch.Generator().manual_seed(0))
            if augment and method.augment is not None:
                x = method.augment(x)
            out.append(method.embed(x)[1])
        return torch.cat(out)

    def batch_stats_features() -> torch.Tensor:
        order = np.random.default_rng(0).permutation(len(train))
        feats = torch.empty(len(train), method.bank.features.shape[1])
        method.train()
        with running_stats_frozen(method.encoder):
            for s in range(0, len(order), key_batch):
                part = order[s:s + key_batch]
                x = load_clips(prepared, train[part], clip_frames=clip_frames, sampling="uniform")
                feats[torch.as_tensor(part)] = method.embed(method.sample_frames(x, torch.Generator().manual_seed(s)))[1].float()
        method.eval()
        return feats

    def score(feats: torch.Tensor) -> tuple[float, float, float]:
        feats = feats.float()
        idx = nearest_neighbours(feats[unlabeled], feats, unlabeled, k, exclude=anchors)
        quality = (labels[idx] == labels[unlabeled][:, None]).float().mean().item()
        nearest_labeled = nearest_neighbours(feats[unlabeled], feats, labeled, 1)[:, 0]
        proxy = (labels[nearest_labeled] == labels[unlabeled]).float().mean().item()
        classified = (method.classifier(feats[unlabeled]).argmax(1) == labels[unlabeled]).float().mean().item()
        return round(quality, 3), round(proxy, 3), round(classified, 3)

    spaces = {"clean": features(False), "augmented": features(True)}
    if not method._batch_independent:
        spaces["clean_batch_stats"] = batch_stats_features()
    stored = method.bank.features[train]
    if method.uses_unlabeled:
        spaces["stored_bank"] = stored
    scores = {name: score(feats) for name, feats in spaces.items()}
    return {"neighbour_quality": {n: s[0] for n, s in scores.items()},
            "proxy_accuracy": {n: s[1] for n, s in scores.items()},
            "classifier_accuracy": {n: s[2] for n, s in scores.items()}}


def vat_directions(method, x: torch.Tensor, steps: list[float], norms: list[float]) -> list[dict]:
    with torch.no_grad():
        logits = method.logits(x)
    rows = []
    for xi in steps:
        d = _unit(torch.randn(x.shape, generator=torch.Generator().manual_seed(0))).requires_grad_(True)
        divergence = kl_from_logits(logits, method.logits(x + xi * d)).mean()
        d = _unit(torch.autograd.grad(divergence, d)[0])
        random = _unit(torch.randn(x.shape, generator=torch.Generator().manual_seed(1)))
        with torch.no_grad():
            for eps in norms:
                adv = method.logits(x + eps * d)
                rows.append({"xi": xi, "eps": eps, "kl": kl_from_logits(logits, adv).mean().item(),
                             "flipped": (adv.argmax(1) != logits.argmax(1)).float().mean().item(),
                             "kl_random_direction": kl_from_logits(logits, method.logits(x + eps * random)).mean().item()})
    return rows


def measure(run: Path, k: int) -> dict:
    cfg = read_run_config(run)
    prepared = open_prepared(cfg.data.root)
    method = build_method(cfg.method, DatasetInfo.from_prepared(prepared))
    load_method_weights(method, run)
    method.eval()
    train = prepared.split(str(cfg.data.protocol), "train")
    clip_frames = _clip_frames(cfg, prepared)
    out = {"run": str(run), "method": str(cfg.method.name), "k": k,
           "bank_input": str(cfg.method.get("bank_input", "clean")),
           **neighbourhoods(method, prepared, train, clip_frames, k, 2 * int(cfg.data.batch_size))}
    x = method.sample_frames(load_clips(prepared, train[::4][:200], clip_frames=clip_frames, sampling="uniform"),
                             torch.Generator().manual_seed(0))
    step = x[:, :, 1:] - x[:, :, :-1]
    out["rms_frame_displacement"] = round(step.pow(2).mean().sqrt().item(), 4)
    out["vat"] = vat_directions(method, x, [1e-6, 1e-3, 0.1], [1.0, 4.0])
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    torch.set_num_threads(1)
    lines = []
    for run in args.runs:
        lines.append(measure(run, args.k))
        print(json.dumps(lines[-1]), flush=True)
    if args.out:
        args.out.write_text(json.dumps(lines, indent=1) + "\n")


if __name__ == "__main__":
    main()
