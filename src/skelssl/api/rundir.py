"""Run directories as the source of truth: claimed before writing, cleared only on request, resumed from.

* :func:`claim_run_dir`: a directory that already holds a run (checkpoints,
  results, metrics) is refused unless the caller resumes it or asked to
  overwrite it (which deletes its contents first). Writing a new run into an
  old one used to mix the two: checkpoint pruning deleted the new run's
  checkpoint and kept the old one's, and the old results showed up in the new
  run's table.
* :func:`resume_config`: ``--resume`` reads the run's own ``config.yaml``
  (and so its data root); overrides given on resume are allowed where they do
  not change what the run is (more epochs, logging, checkpoint cadence) and
  refused otherwise, naming each key with its old and new value.
* :func:`run_kind`: what wrote a run directory (``skelssl resume`` dispatches on it).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["SAFE_ON_RESUME", "RUN_ENTRIES", "RunDirError", "claim_run_dir", "resume_config", "run_kind", "has_checkpoint",
           "as_interrupted"]

# Keys an override may change when a run is resumed: how long it runs, how it logs and checkpoints,
# how data is loaded. Everything else (method, view, optimiser, schedule, seed, batch ...) defines the run.
# train.max_steps ("stop after N steps") belongs to one invocation: a resumed run runs to train.epochs
# unless the resume command sets it again.
SAFE_ON_RESUME = (
    "train.epochs", "train.max_steps", "train.log_every", "train.progress", "train.tensorboard",
    "train.deterministic", "train.checkpoint.", "train.knn_monitor.", "data.num_workers", "semi.monitor_every",
)
# What a run (or evaluation) writes into its directory: the only entries --overwrite deletes. Anything
# else there (a log a script keeps beside the run, notes) is left alone.
RUN_ENTRIES = frozenset({"config.yaml", "checkpoints", "metrics.jsonl", "tb", "eval", "stage1", "results.json",
                         "scores.npy", "test_indices.npy", "test_labels.npy", "loss.png", "probes.png", "tsne.png"})


class RunDirError(ValueError):
    """A run directory that cannot be used as asked (one line: the problem and the flag that fixes it)."""


def _results_in(path: Path) -> list[str]:
    """What in ``path`` a new run would destroy: checkpoints (resumable), results, evaluations."""
    found = []
    if any(path.glob("checkpoints/*.safetensors")) or any(path.glob("stage1/checkpoints/*.safetensors")):
        found.append("checkpoints")
    if (path / "results.json").exists():
        found.append("results.json")
    if (path / "eval").is_dir() and any((path / "eval").iterdir()):
        found.append("eval/")
    return found


def claim_run_dir(run_dir: str | os.PathLike, *, overwrite: bool = False, main: bool = True,
                  what: str = "run directory", resume_flag: str | None = "--resume") -> None:
    """Check that a new run may write to ``run_dir``; clear what an earlier run left there (on ``main`` only).

    A directory holding checkpoints, results or evaluations of an earlier run
    is refused unless ``overwrite``. What a run writes (:data:`RUN_ENTRIES`)
    is then deleted, so nothing of the old run mixes into the new one; that
    includes the leftovers of a start that died before its first checkpoint
    (config, a partial log). Other files are never touched. Under DDP every
    rank calls this before any rank writes; follow it with a barrier.
    """
    path = Path(run_dir)
    if not path.exists():
        return
    if not path.is_dir():
        raise RunDirError(f"{path} is a file, not a {what}; choose another path")
    kept = _results_in(path)
    if kept and not overwrite:
        resume = f"pass {resume_flag} to continue it or " if resume_flag else "pass "
        raise RunDirError(f"{path} already holds a run ({', '.join(kept)}); {resume}--overwrite to delete it "
                          f"and start over, or choose another directory")
    if main:
        for entry in sorted(RUN_ENTRIES & set(os.listdir(path))):
            target = path / entry
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            else:
                target.unlink()


def has_checkpoint(run_dir: str | os.PathLike) -> bool:
    path = Path(run_dir)
    return (path / "checkpoints" / "last.safetensors").exists() or \
        (path / "stage1" / "checkpoints" / "last.safetensors").exists()


def run_kind(run_dir: str | os.PathLike) -> str:
    """``pretrain``, ``semi``, ``supervised`` or ``eval``: what wrote ``run_dir`` (from its ``config.yaml``)."""
    from skelssl.protocols.encoders import read_config_file

    cfg = read_config_file(Path(run_dir) / "config.yaml", what="run")
    if "semi" in cfg:
        return "semi"
    if "model" in cfg:
        return "supervised"
    if "method" in cfg:
        return "pretrain"
    if "protocol" in cfg:
        return "eval"
    raise RunDirError(f"{Path(run_dir) / 'config.yaml'}: not a skelssl run config (no method, model or protocol "
                      f"section)")


def resume_config(run_dir: str | os.PathLike, overrides: Sequence[str] = (), *, data: str | os.PathLike | None = None,
                  kind: str, command: str, checkpoint: str | os.PathLike | None = None) -> Any:
    """The run's own config with the ``overrides`` that are safe on resume; anything else is refused.

    ``data`` (``--data``) may point at the same prepared dataset in a new
    place; a different dataset is refused. ``command`` is the command line to
    suggest for starting a new run instead; ``checkpoint`` the one to resume
    from, if not the run's last. The checkpoint is read first, so a damaged one
    is reported (naming the file) before anything else happens.
    """
    from omegaconf import OmegaConf

    from skelssl.api.checks import check_config
    from skelssl.engine.config import load_config, override_key

    path = Path(run_dir)
    config_file = path / "config.yaml"
    if not config_file.exists():
        raise RunDirError(f"{path}: nothing to resume (no config.yaml); start the run without --resume")
    found = run_kind(path)
    if found != kind:
        raise RunDirError(f"{path} is a {found} run, not a {kind} run; continue it with `skelssl resume {path}`")
    if not has_checkpoint(path):
        raise RunDirError(f"{path}: no checkpoint to resume from (the run stopped before saving one); "
                          f"start it again without --resume")
    from skelssl.engine.checkpoint import load_checkpoint

    last = path / "checkpoints" / "last.safetensors"
    load_checkpoint(checkpoint if checkpoint is not None else last if last.exists()
                    else path / "stage1" / "checkpoints" / "last.safetensors")
    before = load_config(config_file)
    where: dict[str, str] = {}
    cfg = load_config(config_file, list(overrides), origins=where)
    changed = []
    for item in overrides:
        key = override_key(item)
        old, new = OmegaConf.select(before, key, default=None), OmegaConf.select(cfg, key, default=None)
        if _plain(old) != _plain(new) and not key.startswith(SAFE_ON_RESUME) and key not in SAFE_ON_RESUME:
            changed.append(f"{key} ({_show(old)} -> {_show(new)})")
    if changed:
        safe = ", ".join(k + ("*" if k.endswith(".") else "") for k in SAFE_ON_RESUME)
        raise RunDirError(f"resuming {path} would change {', '.join(changed)}: a different run. Start one with "
                          f"{command} --run-dir NEW_DIR (on resume only these may change: {safe})")
    if not any(override_key(item) == "train.max_steps" for item in overrides):
        cfg.train.max_steps = None
    check_config(cfg, kind, where)
    _resume_data(cfg, path, data)
    return cfg


def _resume_data(cfg: Any, run_dir: Path, data: str | os.PathLike | None) -> None:
    old_root = cfg.data.get("root")
    if data is None:
        if old_root and not (Path(old_root) / "info.json").exists():
            raise RunDirError(f"{run_dir}: its data {old_root} is gone; pass --data DIR with the same prepared "
                              f"dataset")
        return
    new_root = str(Path(data).resolve())
    if old_root and new_root != str(old_root) and (Path(old_root) / "info.json").exists():
        old, new = _dataset_identity(Path(old_root)), _dataset_identity(Path(new_root))
        if old != new:
            raise RunDirError(f"resuming {run_dir}: --data {data} is not the dataset the run trained on "
                              f"({old_root}); drop --data to use the run's own")
    cfg.data.root = new_root


def _dataset_identity(root: Path) -> tuple:
    try:
        info = json.loads((root / "info.json").read_text())
    except (OSError, ValueError):
        return (str(root),)
    return info.get("dataset"), info.get("shape"), json.dumps(info.get("recipe"), sort_keys=True)


def _plain(value: Any) -> Any:
    from omegaconf import DictConfig, ListConfig, OmegaConf

    return OmegaConf.to_container(value, resolve=True) if isinstance(value, (DictConfig, ListConfig)) else value


def _show(value: Any) -> str:
    return "unset" if value is None else json.dumps(_plain(value))


def as_interrupted(err: KeyboardInterrupt, run_dir: str | os.PathLike) -> KeyboardInterrupt:
    """A Ctrl-C as :class:`~skelssl.engine.trainer.TrainingInterrupted` naming the run directory to resume.

    The Trainer raises one with its checkpoint; a Ctrl-C elsewhere (data
    preparation, under DDP, a second Ctrl-C) points at the last checkpoint, if any.
    """
    from skelssl.engine.trainer import TrainingInterrupted

    if isinstance(err, TrainingInterrupted):
        if Path(err.run_dir).resolve() != Path(run_dir).resolve():  # a stage's own directory (pseudo-labels)
            err.run_dir = Path(run_dir)
        return err
    last = next((p for p in (Path(run_dir) / "checkpoints" / "last.safetensors",
                             Path(run_dir) / "stage1" / "checkpoints" / "last.safetensors") if p.exists()), None)
    return TrainingInterrupted(run_dir, last, -1, 0, -1)


def check_resume_matches(out_dir: str | os.PathLike, cfg: Any) -> None:
    """Resuming an evaluation: ``cfg`` (rebuilt from the same command) must be the config it started with.

    Differences in keys outside :data:`SAFE_ON_RESUME` are refused, naming
    them; an evaluation directory without a checkpoint has nothing to resume.
    """
    from omegaconf import OmegaConf

    from skelssl.protocols.encoders import read_config_file

    path = Path(out_dir)
    if not has_checkpoint(path):
        raise RunDirError(f"{path}: no checkpoint to resume from; run the evaluation without --resume "
                          f"(--overwrite to replace what is there)")
    saved = _flatten(OmegaConf.to_container(read_config_file(path / "config.yaml", what="evaluation"),
                                            resolve=True))
    now = _flatten(OmegaConf.to_container(cfg, resolve=True))
    changed = [f"{k} ({_show(saved.get(k))} -> {_show(now.get(k))})" for k in sorted(saved.keys() | now.keys())
               if saved.get(k) != now.get(k) and not k.startswith(SAFE_ON_RESUME) and k not in SAFE_ON_RESUME]
    if changed:
        raise RunDirError(f"resuming {path} would change {', '.join(changed)}; give the options it was started "
                          f"with, or start over with --overwrite")


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(tree, dict) or not tree:
        return {prefix[:-1]: tree} if prefix else {}
    out: dict[str, Any] = {}
    for k, v in tree.items():
        out.update(_flatten(v, f"{prefix}{k}."))
    return out
