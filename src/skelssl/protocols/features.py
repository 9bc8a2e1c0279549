"""Frozen feature (and logit) extraction: eval mode, no grad, batched.

Encoders from :meth:`~skelssl.methods.base.Method.eval_encoders` expect input
already converted to their view; :class:`ViewEncoder` puts that conversion in
front of them so every protocol can feed plain joint coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from skelssl.data.layouts import SkeletonLayout
from skelssl.models.base import eval_mode
from skelssl.methods.components import ViewEncoder

__all__ = [
    "Features",
    "ViewEncoder",
    "joint_input",
    "FeatureDataset",
    "eval_mode",
    "extract_features",
    "make_loader",
    "module_device",
]


@dataclass
class Features:
    """Pooled features of a dataset, in dataset order, on the CPU."""

    features: Tensor  # (N, D) float32
    labels: Tensor  # (N,) int64
    indices: Tensor  # (N,) int64: row in the prepared data.npy
    logits: Tensor | None = None  # (N, num_classes) when a head was given

    def __len__(self) -> int:
        return int(self.features.shape[0])


def joint_input(encoder: nn.Module, view: str, layout: str | SkeletonLayout | None) -> nn.Module:
    """An encoder that takes joint coordinates, whichever convention ``encoder`` follows.

    Encoders that declare ``input_view = "joint"`` (the built-in methods'
    ``eval_encoders()`` do) already convert to their view and are returned
    unchanged; others are taken to expect input in ``view`` and get wrapped.
    """
    if view == "joint" or getattr(encoder, "input_view", None) == "joint":
        return encoder
    if layout is None:
        raise ValueError(f"view {view!r} needs the skeleton layout (bones)")
    return ViewEncoder(encoder, view, layout)


class FeatureDataset(TensorDataset):
    """Cached features as a dataset of ``(feature, label, index)``, the batch shape every probe takes."""

    def __init__(self, features: Features) -> None:
        super().__init__(features.features, features.labels, features.indices)

    @property
    def labels(self):  # mirrors SkeletonDataset.labels (a numpy array)
        return self.tensors[1].numpy()


def module_device(module: nn.Module, default: torch.device | str = "cpu") -> torch.device:
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device(default)


def make_loader(
    data: Dataset | DataLoader, batch_size: int, *, num_workers: int = 0, device: torch.device | str = "cpu"
) -> DataLoader:
    if isinstance(data, DataLoader):
        return data
    return DataLoader(
        data,
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        pin_memory=torch.device(device).type == "cuda",
        persistent_workers=False,
    )


@torch.no_grad()
def extract_features(
    encoder: nn.Module,
    data: Dataset | DataLoader,
    *,
    batch_size: int = 256,
    device: torch.device | str | None = None,
    head: nn.Module | None = None,
    num_workers: int = 0,
) -> Features:
    """Run ``encoder`` (and ``head`` on its output, for logits) over ``data`` in eval mode.

    ``data`` yields ``(x, label, index)`` (a :class:`~skelssl.data.dataset.SkeletonDataset`
    or a loader over one; a dataset drawing random clips is read with uniform
    ones); ``(x, label)`` batches get running indices. The
    modules are moved to ``device`` only if given; their train/eval flags are
    restored afterwards.
    """
    if device is not None:
        encoder.to(device)
        if head is not None:
            head.to(device)
    device = module_device(encoder)
    if hasattr(data, "with_sampling"):
        # Features describe a sample, not one random draw of it: evenly spaced clips (SkeletonDataset).
        data = data.with_sampling("uniform")
    loader = make_loader(data, batch_size, num_workers=num_workers, device=device)
    feats, labels, indices, logits = [], [], [], []
    seen = 0
    modules = (encoder,) if head is None else (encoder, head)
    with eval_mode(*modules):
        for batch in loader:
            x, y = batch[0], batch[1]
            idx = batch[2] if len(batch) > 2 else torch.arange(seen, seen + len(x))
            seen += len(x)
            f = encoder(x.to(device, non_blocking=True)).float()
            if f.dim() != 2:
                raise ValueError(f"encoder returned shape {tuple(f.shape)}; expected pooled (N, D) features")
            feats.append(f.cpu())
            if head is not None:
                logits.append(head(f).float().cpu())
            labels.append(torch.as_tensor(y, dtype=torch.int64))
            indices.append(torch.as_tensor(idx, dtype=torch.int64))
    if not feats:
        raise ValueError("cannot extract features from an empty dataset")
    return Features(
        features=torch.cat(feats),
        labels=torch.cat(labels),
        indices=torch.cat(indices),
        logits=torch.cat(logits) if head is not None else None,
    )
