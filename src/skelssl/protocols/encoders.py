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

from skelssl.data.canonical import PreparedDataset

__all__ = ["EncoderSource", "read_run_config", "read_config_file", "load_method_weights", "pretrained_encoders"]


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


def pretrained_encoders(run_cfg: DictConfig, prepared: PreparedDataset, checkpoint: str | Path) -> EncoderSource:
    """The run's method with its checkpoint's weights, and its ``eval_encoders()``."""
    from skelssl.methods.base import DatasetInfo, build_method

    method = build_method(run_cfg.method, DatasetInfo.from_prepared(prepared))
    meta = load_method_weights(method, checkpoint)
    method.eval()
    return EncoderSource(method=method, method_name=str(run_cfg.method.name), encoders=dict(method.eval_encoders()),
                         checkpoint=meta["path"], meta={k: meta.get(k) for k in ("epoch", "step", "git_commit")})
