"""Train a protocol's classifier with the engine's generic ``Trainer``.

Going through the Trainer gives linear evaluation and fine-tuning the same
checkpoints (``<out_dir>/checkpoints/``), exact resume, ``metrics.jsonl`` /
TensorBoard logging and AMP as pretraining.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torch.utils.data import Dataset

from skelssl.methods.components import build_augment  # noqa: F401  (the protocols' augmentation, as the methods')

__all__ = ["as_config", "config_dict", "build_augment", "train_classifier", "protocol_device"]


def as_config(cfg: DictConfig | Mapping[str, Any]) -> DictConfig:
    return cfg if isinstance(cfg, DictConfig) else OmegaConf.create(dict(cfg))


def config_dict(cfg: DictConfig) -> dict[str, Any]:
    return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]


def protocol_device(device: str | torch.device | None = None) -> torch.device:
    from skelssl.engine.trainer import default_device

    return torch.device(device) if device is not None else default_device()


def train_classifier(
    model: nn.Module,
    data: Dataset,
    cfg: DictConfig,
    out_dir: str | Path,
    *,
    resume: bool | str = False,
    device: str | torch.device | None = None,
    num_workers: int | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """``Trainer(model, cfg.train, out_dir, data, batch_size=...).fit(resume)``.

    ``cfg.data.batch_size`` is the global batch, as in ``skelssl pretrain``:
    under ``torchrun`` each process takes an equal share of it.
    """
    from skelssl.engine.distributed import local_batch_size
    from skelssl.engine.trainer import Trainer

    trainer = Trainer(
        model,
        cfg.train,
        out_dir,
        data,
        batch_size=local_batch_size(cfg.data.batch_size),
        num_workers=int(cfg.data.num_workers if num_workers is None else num_workers),
        config=cfg,
        device=device,
        quiet=quiet,
        # A probe is one step of a bigger job: one bar for its whole run, no line per epoch.
        epoch_lines=False,
    )
    return trainer.fit(resume=resume)
