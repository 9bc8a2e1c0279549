"""Where evaluated encoders come from: a pretraining run's checkpoint (or random weights).

A run directory holds ``config.yaml`` (its ``method`` section rebuilds the
method) and ``checkpoints/last.safetensors``; the method's weights are loaded
from the checkpoint (safetensors, no pickle) and
:meth:`~skelssl.methods.base.Method.eval_encoders` gives one encoder per view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from torch import nn


__all__ = ["EncoderSource", "read_run_config", "read_config_file", "load_method_weights", "pretrained_encoders",
           "pretraining_data"]


@dataclass
class EncoderSource:
    """The method an evaluation draws its encoders from, and where its weights came from."""

    method: nn.Module
    method_name: str
    encoders: dict[str, nn.Module]
    checkpoint: str | None = None
    random_init: bool = False
    meta: dict[str, Any] = field(default_factory=dict)


def read_run_config(run_dir: str | Path) -> DictConfig:
    path = Path(run_dir) / "config.yaml"
    if not path.exists():
        raise FileNotFoundError(f"{run_dir}: not a run directory (no config.yaml); pretrain first or check --run")
    cfg = read_config_file(path)
    if "method" not in cfg:
        what = "an evaluation" if "protocol" in cfg and "model" not in cfg else "a supervised run"
        raise ValueError(f"{path}: no 'method' section ({what}, not a pretraining or semi-supervised run)")
    return cfg


def read_config_file(path: Path, what: str = "run") -> DictConfig:
    """A saved ``config.yaml``, or a one-line error naming the file (and line) when it cannot be read."""
    import yaml
    from omegaconf.errors import OmegaConfBaseException

    try:
        cfg = OmegaConf.load(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path.parent}: not a {what} directory (no config.yaml)") from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        where = f"line {mark.line + 1} column {mark.column + 1}: " if mark is not None else ""
        raise ValueError(f"{path}: not valid YAML ({where}{err.problem or err.context})") from None
    except (yaml.YAMLError, UnicodeDecodeError, OmegaConfBaseException) as err:
        raise ValueError(f"{path}: not a readable {what} config ({' '.join(str(err).split())})") from None
    if not isinstance(cfg, DictConfig):
        raise ValueError(f"{path}: not a {what} config (a mapping was expected)")
    return cfg


def load_method_weights(method: nn.Module, checkpoint: str | Path) -> dict[str, Any]:
    """Load the ``model`` state of a Trainer checkpoint into ``method``; returns the checkpoint metadata."""
    from skelssl.engine.checkpoint import decode_state, load_checkpoint, resolve_checkpoint

    path = resolve_checkpoint(checkpoint)
    tensors, meta = load_checkpoint(path)
    # Only the model's tensors are needed; decoding the optimiser state too would only cost memory.
    model_tensors = {k: v for k, v in tensors.items() if k.startswith("model/")}
    state = decode_state(meta["state"]["model"], model_tensors)
    try:
        method.load_state_dict(state)
    except RuntimeError as err:
        raise ValueError(f"{path}: weights do not fit the method built from the run config: {err}") from None
    return {**meta, "path": str(path)}


def pretraining_data(run_cfg: DictConfig, run_dir: str | Path | None) -> dict[str, Any] | None:
    """What a run was pretrained on: ``<run>/dataset_info.json`` (layout, channels, frames, persons, dataset,
    recipe), else — for runs written before that file — the info of its ``data.root``; ``None`` if neither exists."""
    import json

    from skelssl.api.pretraining import DATASET_INFO_FILE

    if run_dir is not None and (Path(run_dir) / DATASET_INFO_FILE).is_file():
        path = Path(run_dir) / DATASET_INFO_FILE
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise ValueError(f"{path}: not readable JSON ({err})") from None
        if not isinstance(record, dict) or "layout" not in record:
            raise ValueError(f"{path}: no 'layout' in the pretraining dataset record")
        return record
    root = (run_cfg.get("data") or {}).get("root")
    if root and (Path(root) / "info.json").is_file():
        from skelssl.data.canonical import open_prepared
        from skelssl.methods.base import DatasetInfo

        prepared = open_prepared(root)
        return {**DatasetInfo.from_prepared(prepared).__dict__, "dataset": prepared.info.get("dataset"),
                "recipe": prepared.info.get("recipe"), "root": str(prepared.root)}
    return None


def pretrained_encoders(run_cfg: DictConfig, data: Any, checkpoint: str | Path) -> EncoderSource:
    """The run's method with its checkpoint's weights, and its ``eval_encoders()``.

    ``data`` is the :class:`~skelssl.methods.base.DatasetInfo` (or prepared dataset) to build the method for:
    the pretraining data's, so the weights fit.
    """
    from skelssl.methods.base import build_method

    method = build_method(run_cfg.method, data)
    meta = load_method_weights(method, checkpoint)
    method.eval()
    return EncoderSource(method=method, method_name=str(run_cfg.method.name), encoders=dict(method.eval_encoders()),
                         checkpoint=meta["path"], meta={k: meta.get(k) for k in ("epoch", "step", "git_commit")})
