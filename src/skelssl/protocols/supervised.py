"""Supervised training from scratch: the ceiling every self- and semi-supervised number is read against.

A fresh encoder (``cfg.model.encoder``, any registered backbone, seeded) and a
linear classifier trained end to end on every label of the protocol's
training split, then tested. It is the fine-tune protocol
(:func:`~skelssl.protocols.finetune.run_finetune`) started from random
weights, so the same schedule, augmentation, clip sampling, checkpoints and
exact resume apply; ``results.json`` goes to the run directory.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from torch import nn

from skelssl.data.canonical import PreparedDataset, open_prepared
from skelssl.data.dataset import dataset_from_config, input_frames
from skelssl.protocols.results import EvalContext

__all__ = ["build_supervised_encoder", "run_supervised"]


def build_supervised_encoder(model_cfg: DictConfig | dict, prepared: PreparedDataset) -> nn.Module:
    """``model.encoder`` for ``prepared``'s layout, channels, bodies and clip length, taking joint input.

    ``model.view`` (joint / motion / bone / bone_motion) is derived from the
    joint batch inside the returned module, after augmentation.
    """
    from skelssl.methods.components import build_encoder
    from skelssl.models.registry import ENCODERS
    from skelssl.protocols.features import joint_input

    spec = dict(OmegaConf.to_container(model_cfg.encoder, resolve=True) if isinstance(model_cfg, DictConfig)
                else model_cfg["encoder"])
    _, channels, _, _, persons = prepared.info["shape"]
    accepted = inspect.signature(ENCODERS.get(spec["name"])).parameters
    # Fill what the backbone takes and the data fixes, unless the config sets it.
    for key, value in (("num_person", int(persons)), ("num_frames", input_frames(prepared))):
        if key in accepted:
            spec.setdefault(key, value)
    encoder = build_encoder(spec, int(channels), prepared.layout)
    view = str(model_cfg.get("view", "joint"))
    return joint_input(encoder, view, prepared.layout)


def run_supervised(cfg: DictConfig, run_dir: str | Path, *, resume: bool | str = False, device: Any = None,
                   quiet: bool = False) -> dict[str, Any]:
    """Train ``cfg.model`` from scratch on ``cfg.data``'s training split, test, write ``results.json``."""
    from skelssl.engine.config import config_to_dict
    from skelssl.engine.seed import seed_everything
    from skelssl.protocols.finetune import run_finetune

    prepared = open_prepared(cfg.data.root)
    protocol = str(cfg.data.protocol)
    seed = int(cfg.train.seed)
    train_ds = dataset_from_config(prepared, cfg.data, train=True, protocol=protocol, part="train", seed=seed)
    test_ds = dataset_from_config(prepared, cfg.data, train=False, protocol=protocol, part="test")
    seed_everything(seed)
    encoder = build_supervised_encoder(cfg.model, prepared)
    context = EvalContext(
        protocol="supervised", method="supervised", view=str(cfg.model.get("view", "joint")),
        dataset=str(prepared.info.get("dataset")), data_root=str(prepared.root), split_protocol=protocol,
        checkpoint=str(Path(run_dir) / "checkpoints"), random_init=True, seed=seed,
        class_names=list(prepared.info.get("class_names") or []) or None, config=config_to_dict(cfg),
        extra={"encoder": str(cfg.model.encoder.name), "recipe": (prepared.info.get("recipe") or {}).get("name"),
               "clip_frames": train_ds.clip_frames, "train_clip": train_ds.sampling},
    )
    return run_finetune(encoder, train_ds, test_ds, cfg, run_dir, num_classes=prepared.num_classes, context=context,
                        layout=prepared.layout, resume=resume, device=device, quiet=quiet)
