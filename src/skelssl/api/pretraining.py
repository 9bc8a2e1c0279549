"""Self-supervised pretraining as a library call: ``skelssl.pretrain(config) -> run directory``.

Run directory::

    config.yaml        the resolved config
    metrics.jsonl      step and epoch metrics (rank 0)
    tb/                TensorBoard events (rank 0)
    checkpoints/       last.*, epoch_XXXX.* (newest train.checkpoint.keep_last), best.*

Under ``torchrun`` every process calls it; ``data.batch_size`` is the global
batch, split evenly over the processes. ``skelssl pretrain`` is this function
behind an argument parser.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = ["pretrain", "prepared_data_root", "save_dataset_info", "DATASET_INFO_FILE"]

# What the run was pretrained on (layout, channels, frames, dataset, recipe): evaluation on other
# data (transfer) rebuilds the method for it and maps the other layout's joints onto it.
DATASET_INFO_FILE = "dataset_info.json"


def pretrain(
    config: str | Path,
    *,
    data: str | Path | None = None,
    run_dir: str | Path | None = None,
    overrides: Sequence[str] = (),
    seed: int | None = None,
    deterministic: bool = False,
    resume: bool | str | Path = False,
    quiet: bool = False,
) -> Path:
    """Pretrain the method of ``config`` (shipped name or YAML path) and return the run directory.

    Args:
        data: prepared dataset directory (sets ``data.root``); the synthetic
            dataset is generated beside the run when neither this nor the
            config gives one.
        run_dir: where to write (default ``runs/<config>-<timestamp>``; with
            ``resume`` a path, the run holding that checkpoint).
        overrides: dotted ``KEY=VALUE`` config overrides (``+KEY=VALUE`` adds, ``~KEY`` deletes).
        seed, deterministic: set ``train.seed`` / ``train.deterministic``.
        resume: ``True`` continues ``run_dir``'s last checkpoint; a path continues that checkpoint or run.
    """
    import torch.distributed as dist

    from skelssl.engine.distributed import cleanup_distributed, init_distributed

    overrides = list(overrides)
    if seed is not None:
        overrides.append(f"train.seed={seed}")
    if deterministic:
        overrides.append("train.deterministic=true")
    # Leave a process group someone else set up (a script calling this more than once) to its owner.
    owned = not (dist.is_available() and dist.is_initialized())
    distributed = init_distributed()
    try:
        return _pretrain(config, data, run_dir, overrides, resume, quiet)
    finally:
        if distributed and owned:
            cleanup_distributed()


def _pretrain(config: str | Path, data: str | Path | None, run_dir: str | Path | None, overrides: list[str],
              resume: bool | str | Path, quiet: bool) -> Path:
    from skelssl.console import console
    from skelssl.data.canonical import open_prepared
    from skelssl.data.dataset import dataset_from_config
    from skelssl.engine.callbacks import KNNMonitor
    from skelssl.engine.checkpoint import resolve_checkpoint
    from skelssl.engine.config import load_config, save_config
    from skelssl.engine.distributed import barrier, broadcast_string, is_main_process, local_batch_size
    from skelssl.engine.seed import seed_everything
    from skelssl.engine.trainer import Trainer
    from skelssl.methods.base import DatasetInfo, build_method

    cfg = load_config(config, overrides)
    if "method" not in cfg:
        raise ValueError(f"config {config!r} has no 'method' section")
    if data:
        cfg.data.root = str(Path(data).resolve())
    if isinstance(resume, Path):
        resume = str(resume)
    run_dir = _run_dir(config, run_dir, resume, broadcast_string)
    resume_from: bool | str = resume
    if isinstance(resume, str):
        resume_from = str(resolve_checkpoint(resume))

    root = prepared_data_root(cfg, run_dir, barrier, is_main_process())
    prepared = open_prepared(root)
    dataset = dataset_from_config(prepared, cfg.data, train=True, protocol=cfg.data.protocol, part=cfg.data.part,
                                  seed=int(cfg.train.seed))
    batch_size = local_batch_size(cfg.data.batch_size)

    seed_everything(int(cfg.train.seed))  # the same initial weights on every rank
    info = DatasetInfo.from_prepared(prepared)
    method = build_method(cfg.method, info)
    method.setup(dataset)
    callbacks = []
    knn = cfg.train.knn_monitor
    if knn.every:
        test = dataset_from_config(prepared, cfg.data, train=False, protocol=cfg.data.protocol, part=knn.part)
        callbacks.append(KNNMonitor(_knn_eval(dataset, test, prepared.layout.name, knn), every=knn.every))
    if is_main_process():
        if resume:
            _warn_config_changes(cfg, run_dir, resume_from)
        save_config(cfg, run_dir)
        save_dataset_info(run_dir, info, prepared)
    trainer = Trainer(
        method, cfg.train, run_dir, dataset,
        batch_size=batch_size, num_workers=cfg.data.num_workers,
        callbacks=callbacks, config=cfg, quiet=quiet,
    )
    result = trainer.fit(resume=resume_from)
    if is_main_process():
        shown = ", ".join(f"{k} {v:.4g}" for k, v in result["metrics"].items())
        console.print(f"pretrained {cfg.method.name} for {result['epoch']} epoch(s), {result['step']} steps"
                      f"{': ' + shown if shown else ''}", markup=False, highlight=False)
        console.print(f"run directory: {run_dir}", markup=False, highlight=False)
    return run_dir


def save_dataset_info(run_dir: Path, info: Any, prepared: Any) -> None:
    """``<run>/dataset_info.json``: the :class:`~skelssl.methods.base.DatasetInfo` the method was built for,
    the dataset's name, recipe and location."""
    from dataclasses import asdict

    from skelssl.data.canonical import atomic_write_text

    record = {**asdict(info), "dataset": prepared.info.get("dataset"), "recipe": prepared.info.get("recipe"),
              "root": str(Path(prepared.root).resolve()), "layout_spec": prepared.layout.to_dict()}
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    atomic_write_text(Path(run_dir) / DATASET_INFO_FILE, json.dumps(record, indent=1) + "\n")


def _run_dir(config: str | Path, run_dir: str | Path | None, resume: bool | str,
             broadcast: Callable[[str | None], str]) -> Path:
    if run_dir:
        return Path(run_dir)
    if isinstance(resume, str):
        from skelssl.engine.checkpoint import resolve_checkpoint

        ckpt = resolve_checkpoint(resume)
        return ckpt.parent.parent if ckpt.parent.name == "checkpoints" else ckpt.parent
    if resume:
        raise ValueError("--resume without a PATH needs --run-dir (the run to continue)")
    stem = Path(str(config)).stem
    # Every rank must agree on the timestamp, so rank 0 picks it.
    return Path(broadcast(f"runs/{stem}-{datetime.now():%Y%m%d-%H%M%S}"))


def prepared_data_root(cfg: Any, run_dir: Path, barrier: Callable[[], None], main: bool) -> Path:
    """``data.root``, or the synthetic dataset of the config prepared beside ``run_dir`` (once)."""
    if cfg.data.root:
        return Path(cfg.data.root)
    if cfg.data.dataset != "synthetic":
        raise ValueError(f"data.root is not set; prepare {cfg.data.dataset} first "
                         f"(skelssl prepare {cfg.data.dataset} --raw RAW --out DIR) and pass --data DIR")
    from omegaconf import OmegaConf

    options = OmegaConf.to_container(cfg.data.reader_options, resolve=True) or {}
    recipe_options = OmegaConf.to_container(cfg.data.recipe_options, resolve=True) or {}
    recipe = cfg.data.recipe
    name = "synthetic"
    if options or recipe or recipe_options:
        key = [options, recipe, recipe_options] if recipe_options else [options, recipe]
        digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:8]
        name = f"synthetic-{digest}"
    root = run_dir.resolve().parent / "data" / name
    if main and not (root / "info.json").exists():
        from skelssl.data.prepare import prepare_dataset

        prepare_dataset("synthetic", root, recipe=recipe, reader_options=options, recipe_options=recipe_options,
                        progress=False)
    barrier()
    return root


def _knn_eval(train: Any, test: Any, layout: str, knn: Any) -> Callable[[Any], dict]:
    from skelssl.protocols.features import module_device
    from skelssl.protocols.knn import knn_accuracy

    def evaluate(model: Any) -> dict:
        out = {}
        for view, encoder in model.eval_encoders().items():
            r = knn_accuracy(encoder, train, test, k=int(knn.k), temperature=float(knn.temperature),
                             batch_size=int(knn.batch_size), device=module_device(encoder), view=view, layout=layout)
            out[f"{view}/top1"], out[f"{view}/top5"] = r["top1"], r["top5"]
        return out

    return evaluate


def _warn_config_changes(cfg: Any, run_dir: Path, resume: bool | str) -> None:
    from omegaconf import OmegaConf

    from skelssl.console import console
    from skelssl.engine.checkpoint import load_checkpoint, resolve_checkpoint

    try:
        _, meta = load_checkpoint(resolve_checkpoint(resume if isinstance(resume, str) else run_dir))
    except FileNotFoundError:
        return  # fit() reports the missing checkpoint
    old, new = _flatten(meta.get("config", {})), _flatten(OmegaConf.to_container(cfg, resolve=True))
    changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k) and k != "data.root")
    if changed:
        console.print("note: resuming with a config that differs from the checkpoint's in: " + ", ".join(changed),
                      markup=False, highlight=False)


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(tree, dict):
        return {prefix[:-1]: tree}
    out: dict[str, Any] = {}
    for k, v in tree.items():
        out.update(_flatten(v, f"{prefix}{k}."))
    return out
