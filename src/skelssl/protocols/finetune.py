"""Fine-tuning: encoder and linear classifier trained end to end.

Paper protocol (SkeletonCLR / CrosSCLR / AimCLR): 100 epochs of SGD
(momentum 0.9), learning rate 0.1 multiplied by 0.1 at epoch 80, weight decay
1e-4, batch 128; see ``configs/eval/finetune.yaml``. The same run from a
randomly initialised encoder (``skelssl evaluate finetune --from-scratch``) is
the supervised baseline the pretrained encoder is compared with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig
from torch import nn
from torch.utils.data import Dataset

from skelssl.protocols.classifier import Augment, EncoderClassifier, infer_feature_dim
from skelssl.protocols.features import extract_features
from skelssl.protocols.results import EvalContext, write_results
from skelssl.protocols.training import as_config, build_augment, config_dict, protocol_device, train_classifier

__all__ = ["FineTuneClassifier", "run_finetune"]


class FineTuneClassifier(EncoderClassifier):
    """Trainable encoder + ``nn.Linear``; BatchNorm and dropout follow train/eval mode."""

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
        super().__init__(encoder, feature_dim, num_classes, freeze_encoder=False, augment=augment,
                         augment_seed=augment_seed, dropout=dropout, feature_norm=feature_norm)
        self.encoder.requires_grad_(True)


def run_finetune(
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
    """Fine-tune ``encoder`` (modified in place) with a new classifier, test, write ``results.json``.

    ``cfg`` has ``protocol`` (``augment``, ``dropout``, ``feature_norm``, ``eval_batch_size``),
    ``data`` (``batch_size``, ``num_workers``) and ``train`` (the Trainer's
    section); checkpoints and logs go to ``out_dir``.
    """
    from skelssl.engine.seed import seed_everything

    cfg = as_config(cfg)
    p = cfg.protocol
    device = protocol_device(device)
    seed = int(cfg.train.seed)
    augment = build_augment(p.get("augment"), layout)
    if feature_dim is None:
        feature_dim = infer_feature_dim(encoder, train_ds[0][0][None])
    seed_everything(seed)
    model = FineTuneClassifier(encoder, feature_dim, num_classes, augment=augment, augment_seed=seed,
                               dropout=float(p.get("dropout", 0.0)), feature_norm=p.get("feature_norm"))
    summary = train_classifier(model, train_ds, cfg, out_dir, resume=resume, device=device, quiet=quiet)
    test = extract_features(model.encoder, test_ds, batch_size=int(p.get("eval_batch_size", 256)),
                            head=model.head, num_workers=int(cfg.data.get("num_workers", 0)))
    assert test.logits is not None
    context.epochs = int(summary["epoch"])
    context.config = context.config or config_dict(cfg)
    context.seed = seed
    extra = {"train_accuracy": summary["metrics"].get("acc"), "train_loss": summary["metrics"].get("loss"),
             "augment": p.get("augment"), "feature_dim": int(feature_dim), "num_train": len(train_ds),
             "checkpoint_dir": str(Path(out_dir) / "checkpoints")}
    return write_results(out_dir, context, test.logits.numpy(), test.labels.numpy(), test.indices.numpy(),
                         num_classes=num_classes, extra_metrics=extra)
