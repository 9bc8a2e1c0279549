"""Weighted k-nearest-neighbour classification of frozen features.

The InstDisc / MoCo monitor rule: features are L2-normalised, a test sample's
``k`` most cosine-similar training samples each vote for their class with
weight ``exp(sim / temperature)``, and the class with the largest total wins.
No training, so it doubles as a cheap online monitor during pretraining
(:func:`knn_accuracy`).

Scores returned per class are the vote *shares* (each row sums to 1). They are
computed with the row's largest similarity subtracted inside the exponential,
which cancels in the shares, so small temperatures cannot overflow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import Dataset

from skelssl.data.layouts import SkeletonLayout
from skelssl.protocols.features import Features, extract_features, joint_input
from skelssl.protocols.results import EvalContext, topk_accuracy, write_results

__all__ = ["knn_scores", "knn_evaluate", "knn_accuracy", "run_knn"]


@torch.no_grad()
def knn_scores(
    train_features: Tensor,
    train_labels: Tensor,
    test_features: Tensor,
    *,
    k: int,
    temperature: float,
    num_classes: int | None = None,
    chunk_size: int = 1024,
) -> Tensor:
    """Vote shares ``(N_test, num_classes)`` of the weighted KNN rule.

    ``k`` is capped at the number of training samples. Training samples with a
    negative label (unlabelled) are not in the memory bank. Work is chunked
    over test samples so the similarity matrix never exceeds
    ``chunk_size × N_train``.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    train_labels = torch.as_tensor(train_labels, dtype=torch.int64, device=train_features.device)
    keep = train_labels >= 0
    bank = F.normalize(train_features[keep].float(), dim=1)
    bank_labels = train_labels[keep]
    if len(bank) == 0:
        raise ValueError("KNN needs at least one labelled training sample")
    if num_classes is None:
        num_classes = int(bank_labels.max()) + 1
    k = min(k, len(bank))
    out = []
    for start in range(0, len(test_features), chunk_size):
        query = F.normalize(test_features[start : start + chunk_size].to(bank.device).float(), dim=1)
        sim, nn_idx = (query @ bank.T).topk(k, dim=1)
        weights = ((sim - sim[:, :1]) / temperature).exp()
        votes = torch.zeros(len(query), num_classes, device=bank.device, dtype=weights.dtype)
        votes.scatter_add_(1, bank_labels[nn_idx], weights)
        out.append(votes / votes.sum(dim=1, keepdim=True))
    if not out:
        return torch.zeros(0, num_classes)
    return torch.cat(out).cpu()


def knn_evaluate(
    train: Features,
    test: Features,
    *,
    k: int,
    temperature: float,
    num_classes: int | None = None,
    device: torch.device | str = "cpu",
) -> tuple[dict[str, float], Tensor]:
    """``({"top1", "top5"} in %, vote shares on the CPU)`` of KNN from ``train`` features onto ``test``."""
    if num_classes is None:
        num_classes = int(max(train.labels.max(), test.labels.max())) + 1
    scores = knn_scores(
        train.features.to(device), train.labels, test.features, k=k, temperature=temperature, num_classes=num_classes
    )
    labels = test.labels.numpy()
    s = scores.numpy()
    return {"top1": topk_accuracy(s, labels, 1), "top5": topk_accuracy(s, labels, 5)}, scores


def knn_accuracy(
    encoder: nn.Module,
    train_ds: Dataset,
    test_ds: Dataset,
    k: int,
    temperature: float,
    batch_size: int,
    device: torch.device | str,
    *,
    view: str = "joint",
    layout: str | SkeletonLayout | None = None,
    num_workers: int = 0,
) -> dict[str, Any]:
    """KNN top-1/top-5 (in %) of ``encoder``'s features: the online pretraining monitor.

    The encoder runs in eval mode under ``no_grad`` and its (and its
    submodules') train/eval flags are restored afterwards, so it can be called
    between training epochs. The datasets yield joint coordinates; for an
    encoder of another ``view`` that does not convert its input itself (no
    ``input_view = "joint"`` attribute), ``view``/``layout`` say how to convert
    (see :func:`~skelssl.protocols.features.joint_input`).
    Returns ``{"top1", "top5", "k", "temperature", "num_train", "num_test"}``.
    """
    model = joint_input(encoder, view, layout)
    train = extract_features(model, train_ds, batch_size=batch_size, device=device, num_workers=num_workers)
    test = extract_features(model, test_ds, batch_size=batch_size, device=device, num_workers=num_workers)
    num_classes = _num_classes(train_ds, test_ds, train, test)
    metrics, _ = knn_evaluate(train, test, k=k, temperature=temperature, num_classes=num_classes, device=device)
    return {**metrics, "k": int(k), "temperature": float(temperature), "num_train": len(train), "num_test": len(test)}


def _num_classes(train_ds: Dataset, test_ds: Dataset, train: Features, test: Features) -> int:
    # Prefer the dataset's declared class count: a split may miss the last classes.
    for ds in (train_ds, test_ds):
        prepared = getattr(ds, "prepared", None)
        if prepared is not None:
            return int(prepared.num_classes)
    return int(np.max([train.labels.max().item(), test.labels.max().item()])) + 1


def run_knn(
    encoder: nn.Module,
    train_ds: Dataset,
    test_ds: Dataset,
    cfg: Any,
    out_dir: str | Path,
    *,
    num_classes: int,
    context: EvalContext,
    device: torch.device | str | None = None,
) -> dict[str, Any]:
    """The KNN protocol: ``cfg.protocol.k`` / ``temperature`` / ``eval_batch_size``; writes ``results.json``.

    The saved scores are the vote shares, so KNN runs can be ensembled like
    classifier runs (``skelssl ensemble --protocol knn``).
    """
    from skelssl.protocols.training import as_config, config_dict, protocol_device

    cfg = as_config(cfg)
    p = cfg.protocol
    device = protocol_device(device)
    batch_size = int(p.get("eval_batch_size", 256))
    workers = int(cfg.data.get("num_workers", 0))
    train = extract_features(encoder, train_ds, batch_size=batch_size, device=device, num_workers=workers)
    test = extract_features(encoder, test_ds, batch_size=batch_size, device=device, num_workers=workers)
    k, temperature = int(p.k), float(p.temperature)
    _, scores = knn_evaluate(train, test, k=k, temperature=temperature, num_classes=num_classes, device=device)
    context.epochs = 0
    context.config = context.config or config_dict(cfg)
    extra = {"k": k, "temperature": temperature, "num_train": len(train), "feature_dim": int(train.features.shape[1])}
    return write_results(out_dir, context, scores.numpy(), test.labels.numpy(), test.indices.numpy(),
                         num_classes=num_classes, extra_metrics=extra)
