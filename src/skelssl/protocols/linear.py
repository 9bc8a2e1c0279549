"""Linear evaluation: a frozen encoder and a linear classifier trained on its features.

Paper protocol (SkeletonCLR / CrosSCLR / AimCLR): 100 epochs of SGD
(momentum 0.9), learning rate 3.0 multiplied by 0.1 at epoch 80, no weight
decay, batch 128; see ``configs/eval/linear.yaml``.

``protocol.cache_features`` (``auto``: on unless ``protocol.augment`` is set)
extracts the frozen features of the training and test sets once and trains the
linear layer on them. That is the same computation as the frozen-encoder
protocol: the encoder runs in eval mode either way (BatchNorm uses its running
statistics, dropout is off) and receives no gradient, so without augmentation
each sample's feature is the same in every epoch and computing it once changes
nothing. Both paths train an identically initialised layer on the same batches
in the same order through the engine's ``Trainer``. (Under CUDA AMP the
uncached path computes features in reduced precision, the cached one in
float32.) With augmentation the features differ every epoch, so they are
recomputed per batch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig
from torch import Tensor, nn
from torch.utils.data import Dataset

from skelssl.protocols.classifier import Augment, EncoderClassifier, infer_feature_dim
from skelssl.protocols.features import FeatureDataset, eval_mode, extract_features
from skelssl.protocols.results import EvalContext, write_results
from skelssl.protocols.training import as_config, build_augment, config_dict, protocol_device, train_classifier

__all__ = ["LinearProbe", "use_cached_features", "run_linear"]


class LinearProbe(EncoderClassifier):
    """Frozen encoder (always in eval mode) + trainable ``nn.Linear``.

    Pass ``nn.Identity()`` as the encoder to train on cached features: batches
    are then ``(feature, label, index)``.
    """

    def __init__(
        self,
        encoder: nn.Module,
        feature_dim: int,
        num_classes: int,
        *,
        augment: Augment | None = None,
        augment_seed: int = 0,
        dropout: float = 0.0,
        feature_norm: str | None = None,
    ) -> None:
        super().__init__(encoder, feature_dim, num_classes, freeze_encoder=True, augment=augment,
                         augment_seed=augment_seed, dropout=dropout, feature_norm=feature_norm)


def use_cached_features(setting: Any, augment: Any) -> bool:
    """Resolve ``protocol.cache_features`` (``auto``/``true``/``false``) against the augmentation."""
    if setting is None or setting == "auto":
        return augment is None
    if setting and augment is not None:
        raise ValueError("protocol.cache_features=true cannot be combined with protocol.augment: augmented "
                         "features change every epoch (set cache_features to auto or false)")
    return bool(setting)


def run_linear(
    encoder: nn.Module,
    train_ds: Dataset,
    test_ds: Dataset,
    cfg: DictConfig,
    out_dir: str | Path,
    *,
    num_classes: int,
    context: EvalContext,
    feature_dim: int | None = None,
    layout: Any = None,
    resume: bool | str = False,
    device: str | torch.device | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """Train a linear probe on ``encoder``'s frozen features, test it, write ``results.json``.

    ``encoder`` takes the datasets' joint input and returns ``(N, D)``. ``cfg``
    has ``protocol`` (``cache_features``, ``augment``, ``dropout``, ``feature_norm``,
    ``eval_batch_size``), ``data`` (``batch_size``, ``num_workers``) and
    ``train`` (the Trainer's section). The Trainer's checkpoints and logs go
    to ``out_dir``; ``resume`` continues an interrupted probe.
    """
    from skelssl.engine.seed import seed_everything

    cfg = as_config(cfg)
    p = cfg.protocol
    device = protocol_device(device)
    augment = build_augment(p.get("augment"), layout)
    cached = use_cached_features(p.get("cache_features", "auto"), augment)
    eval_bs = int(p.get("eval_batch_size", 256))
    workers = int(cfg.data.get("num_workers", 0))
    seed = int(cfg.train.seed)
    if feature_dim is None:
        feature_dim = infer_feature_dim(encoder, train_ds[0][0][None])
    encoder.to(device)

    if cached:
        train_f = extract_features(encoder, train_ds, batch_size=eval_bs, device=device, num_workers=workers)
        test_f = extract_features(encoder, test_ds, batch_size=eval_bs, device=device, num_workers=workers)
        # Seeded right before the layer is built, so its initial weights match the uncached path's.
        seed_everything(seed)
        probe = LinearProbe(nn.Identity(), feature_dim, num_classes, dropout=float(p.get("dropout", 0.0)),
                            feature_norm=p.get("feature_norm"))
        summary = train_classifier(probe, FeatureDataset(train_f), cfg, out_dir, resume=resume, device=device,
                                   num_workers=0, quiet=quiet)
        logits = _classify(probe, test_f.features)
        labels, indices = test_f.labels, test_f.indices
    else:
        seed_everything(seed)
        probe = LinearProbe(encoder, feature_dim, num_classes, augment=augment, augment_seed=seed,
                            dropout=float(p.get("dropout", 0.0)), feature_norm=p.get("feature_norm"))
        summary = train_classifier(probe, train_ds, cfg, out_dir, resume=resume, device=device, quiet=quiet)
        test_f = extract_features(probe.encoder, test_ds, batch_size=eval_bs, head=probe.head,
                                  num_workers=workers)
        assert test_f.logits is not None
        logits, labels, indices = test_f.logits, test_f.labels, test_f.indices

    context.epochs = int(summary["epoch"])
    context.config = context.config or config_dict(cfg)
    context.seed = seed
    extra = {"train_accuracy": summary["metrics"].get("acc"), "train_loss": summary["metrics"].get("loss"),
             "cache_features": cached, "feature_dim": int(feature_dim), "num_train": len(train_ds),
             "checkpoint_dir": str(Path(out_dir) / "checkpoints")}
    return write_results(out_dir, context, logits.numpy(), labels.numpy(), indices.numpy(), num_classes=num_classes,
                         extra_metrics=extra)


@torch.no_grad()
def _classify(probe: EncoderClassifier, features: Tensor, chunk: int = 4096) -> Tensor:
    device = next(probe.head.parameters()).device
    with eval_mode(probe):
        return torch.cat([probe.logits(features[i : i + chunk].to(device)).float().cpu()
                          for i in range(0, len(features), chunk)])

