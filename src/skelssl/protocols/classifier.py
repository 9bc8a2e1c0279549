"""An encoder with a linear classifier on top, trainable by the engine's ``Trainer``.

Its ``forward(batch, epoch)`` returns ``{"loss", "acc"}`` like a method's, so
linear evaluation and fine-tuning get the engine's optimiser, schedule,
checkpoint/resume and logging without a training loop of their own.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["EncoderClassifier", "infer_feature_dim", "FEATURE_NORM_EPS"]

FEATURE_NORM_EPS = 1e-20

# Joint-coordinate batch and a generator -> augmented batch (a skelssl.augment pipeline).
Augment = Callable[[Tensor, "torch.Generator | None"], Tensor]


class EncoderClassifier(nn.Module):
    """``classifier(dropout(norm(encoder(augment(x)))))`` trained with cross-entropy.

    With ``freeze_encoder`` the encoder's parameters get no gradient, it runs
    under ``no_grad`` and it *stays in eval mode* even when the trainer calls
    ``model.train()``: BatchNorm then uses the pretrained running statistics and
    dropout is off, which is the frozen-encoder protocol (and what makes
    training on cached features equivalent). ``augment`` is applied in
    training mode only, drawing from its own generator seeded with
    ``augment_seed``; the Trainer finds that generator and checkpoints it, so a
    resumed run continues the same augmentation stream.

    ``feature_norm="batchnorm"`` puts a BatchNorm without affine parameters
    between the features and the linear layer (MAE's linear probe). It is part
    of the trained head, not of the encoder, and makes the probe insensitive to
    the features' scale: an encoder whose features vary by a fraction of a
    percent between samples (a random-init ST-GCN, whose BatchNorms still hold
    their initial statistics) otherwise needs thousands of steps at lr 3.0.
    Its eps is 1e-20, not BatchNorm's 1e-5: such an encoder's feature
    variances are ~1e-10, and the default eps would leave exactly those
    features unscaled. Standardised inputs want a small learning rate (0.1),
    not the papers' 3.0, which makes the probe of a pretrained encoder diverge.
    The papers' protocol has none (``None``, the default).
    """

    def __init__(
        self,
        encoder: nn.Module,
        feature_dim: int,
        num_classes: int,
        *,
        freeze_encoder: bool,
        augment: Augment | None = None,
        augment_seed: int = 0,
        dropout: float = 0.0,
        feature_norm: str | None = None,
    ) -> None:
        super().__init__()
        if feature_norm not in (None, "none", "batchnorm"):
            raise ValueError(f"feature_norm must be null or 'batchnorm', got {feature_norm!r}")
        self.encoder = encoder
        self.freeze_encoder = freeze_encoder
        self.augment = augment
        self.generator = torch.Generator().manual_seed(int(augment_seed)) if augment is not None else None
        # Everything after the encoder, i.e. the trainable part of a linear probe.
        self.head = nn.Sequential(OrderedDict(
            # A cumulative average (momentum=None): with frozen features it converges to the exact
            # training mean, where an exponential one keeps a bias that can exceed the features' spread.
            norm=nn.BatchNorm1d(feature_dim, eps=FEATURE_NORM_EPS, affine=False, momentum=None)
            if feature_norm == "batchnorm"
            else nn.Identity(),
            dropout=nn.Dropout(dropout) if dropout > 0 else nn.Identity(),
            fc=nn.Linear(feature_dim, num_classes),
        ))
        if freeze_encoder:
            self.encoder.requires_grad_(False)
            self.encoder.eval()

    def train(self, mode: bool = True) -> "EncoderClassifier":
        super().train(mode)
        if self.freeze_encoder:
            self.encoder.eval()
        return self

    def features(self, x: Tensor) -> Tensor:
        if self.freeze_encoder:
            with torch.no_grad():
                return self.encoder(x)
        return self.encoder(x)

    def logits(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))

    @property
    def classifier(self) -> nn.Linear:
        return self.head.fc

    def forward(self, batch: tuple[Tensor, ...], epoch: int = 0) -> dict[str, Tensor]:
        x, y = batch[0], batch[1].long()
        if self.training and self.augment is not None:
            with torch.no_grad():
                x = self.augment(x, self.generator)
        logits = self.logits(x)
        loss = F.cross_entropy(logits, y)
        acc = (logits.detach().argmax(dim=1) == y).float().mean() * 100.0
        return {"loss": loss, "acc": acc}


@torch.no_grad()
def infer_feature_dim(encoder: nn.Module, sample: Tensor | None = None) -> int:
    """The encoder's ``feature_dim`` attribute, else the width of its output on ``sample``."""
    dim = getattr(encoder, "feature_dim", None)
    if isinstance(dim, int):
        return dim
    if sample is None:
        raise ValueError("encoder has no feature_dim attribute; give feature_dim or a sample input")
    from skelssl.protocols.features import eval_mode, module_device

    with eval_mode(encoder):
        return int(encoder(sample.to(module_device(encoder))).shape[-1])
