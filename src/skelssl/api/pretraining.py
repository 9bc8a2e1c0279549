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
    config: str | Path | None = None,
    *,
    data: str | Path | None = None,
    run_dir: str | Path | None = None,
    overrides: Sequence[str] = (),
    seed: int | None = None,
    deterministic: bool = False,
    resume: bool | str | Path = False,
    overwrite: bool = False,
    quiet: bool = False,
) -> Path:
    """Pretrain the method of ``config`` (shipped name or YAML path) and return the run directory.

    Args:
        config: the config to start from; optional with ``resume`` (the run's
            own ``config.yaml`` is used; if given, its method must be the run's).
        data: prepared dataset directory (sets ``data.root``); the synthetic
            dataset is generated beside the run when neither this nor the
            config gives one. On resume: the same dataset in a new place.
        run_dir: where to write (default ``runs/<config>-<timestamp>``; with
            ``resume`` a path, the run holding that checkpoint). A directory
            that holds an earlier run is refused unless ``resume`` or ``overwrite``.
        overrides: dotted ``KEY=VALUE`` config overrides (``+KEY=VALUE`` adds, ``~KEY`` deletes),
            each checked against what reads it before anything is written. On
            resume only the keys in :data:`~skelssl.api.rundir.SAFE_ON_RESUME` may change.
        seed, deterministic: set ``train.seed`` / ``train.deterministic``.
        resume: ``True`` continues ``run_dir``'s last checkpoint; a path continues that checkpoint or run.
        overwrite: delete what ``run_dir`` holds and start over.

    Ctrl-C checkpoints and raises :class:`~skelssl.engine.trainer.TrainingInterrupted`.
    """
    import torch.distributed as dist

    from skelssl.engine.distributed import cleanup_distributed, init_distributed

    overrides = list(overrides)
    if seed is not None:
        overrides.append(f"train.seed={seed}")
    if deterministic:
        overrides.append("train.deterministic=true")
    if resume and overwrite:
        raise ValueError("--resume continues a run and --overwrite deletes it: give one of them")
    if config is None and not resume:
        raise ValueError("say which config to pretrain (e.g. skeletonclr_nucla), or --resume a run")
    # Leave a process group someone else set up (a script calling this more than once) to its owner.
    owned = not (dist.is_available() and dist.is_initialized())
    distributed = init_distributed()
    try:
        return _pretrain(config, data, run_dir, overrides, resume, overwrite, quiet)
    finally:
        if distributed and owned:
            cleanup_distributed()


def _pretrain(config: str | Path | None, data: str | Path | None, run_dir: str | Path | None, overrides: list[str],
              resume: bool | str | Path, overwrite: bool, quiet: bool) -> Path:
    from skelssl.api.rundir import RunDirError, as_interrupted, claim_run_dir
    from skelssl.console import console
    from skelssl.data.canonical import open_prepared
    from skelssl.data.dataset import dataset_from_config
    from skelssl.engine.callbacks import KNNMonitor
    from skelssl.engine.checkpoint import resolve_checkpoint
    from skelssl.engine.config import save_config
    from skelssl.engine.distributed import barrier, broadcast_string, is_main_process, local_batch_size
    from skelssl.engine.seed import seed_everything
    from skelssl.engine.trainer import Trainer
    from skelssl.methods.base import DatasetInfo, build_method

    if isinstance(resume, Path):
        resume = str(resume)
    run_dir = _run_dir(config, run_dir, resume, broadcast_string)
    resume_from: bool | str = resume
    if isinstance(resume, str):
        resume_from = str(resolve_checkpoint(resume))
    if resume:
        cfg = _resumed_config(config, run_dir, overrides, data, resume_from if isinstance(resume_from, str) else None)
    else:
        cfg = _new_config(config, overrides, data)
        # Rank 0 looks (and clears, with overwrite) before any rank writes; every rank gets its verdict.
        refused = ""
        if is_main_process():
            try:
                claim_run_dir(run_dir, overwrite=overwrite)
            except RunDirError as err:
                refused = str(err)
        refused = broadcast_string(refused)
        if refused:
            raise RunDirError(refused)

    try:
        root = prepared_data_root(cfg, run_dir, barrier, is_main_process())
        prepared = open_prepared(root)
        if cfg.data.root and is_main_process():
            _note_ungenerated_recipe_options(cfg, prepared)
        dataset = dataset_from_config(prepared, cfg.data, train=True, protocol=cfg.data.protocol,
                                      part=cfg.data.part, seed=int(cfg.train.seed))
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
            save_config(cfg, run_dir)
            save_dataset_info(run_dir, info, prepared)
        trainer = Trainer(
            method, cfg.train, run_dir, dataset,
            batch_size=batch_size, num_workers=cfg.data.num_workers,
            callbacks=callbacks, config=cfg, quiet=quiet,
        )
        result = trainer.fit(resume=resume_from)
    except KeyboardInterrupt as err:
        raise as_interrupted(err, run_dir) from None
    if is_main_process():
        shown = ", ".join(f"{k} {v:.4g}" for k, v in result["metrics"].items())
        console.print(f"pretrained {cfg.method.name} for {result['epoch']} epoch(s), {result['step']} steps"
                      f"{': ' + shown if shown else ''}", markup=False, highlight=False, soft_wrap=True)
        console.print(f"run directory: {run_dir}", markup=False, highlight=False, soft_wrap=True)
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


def _new_config(config: str | Path | None, overrides: list[str], data: str | Path | None) -> Any:
    from skelssl.api.checks import check_config
    from skelssl.engine.config import load_config

    where: dict[str, str] = {}
    cfg = load_config(str(config), overrides, origins=where)
    if "method" not in cfg:
        raise ValueError(f"config {config!r} has no 'method' section (is it a pretraining config?)")
    if data:
        cfg.data.root = str(Path(data).resolve())
    check_config(cfg, "pretrain", where)
    return cfg


def _resumed_config(config: str | Path | None, run_dir: Path, overrides: list[str], data: str | Path | None,
                    checkpoint: str | None) -> Any:
    from skelssl.api.rundir import RunDirError, resume_config
    from skelssl.engine.config import load_config

    cfg = resume_config(run_dir, overrides, data=data, kind="pretrain", checkpoint=checkpoint,
                        command=f"skelssl pretrain {config or 'CONFIG'}")
    if config is not None:
        named = load_config(str(config)).method.name
        if named != cfg.method.name:
            raise RunDirError(f"{run_dir} pretrains {cfg.method.name}, not {named} ({config}); resume it with "
                              f"`skelssl resume {run_dir}`")
    return cfg


def _run_dir(config: str | Path | None, run_dir: str | Path | None, resume: bool | str,
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
        from skelssl.console import console
        from skelssl.data.prepare import prepare_dataset

        console.print(f"generating the synthetic dataset in {root} (once; later runs beside it reuse it)",
                      markup=False, highlight=False, soft_wrap=True)
        prepare_dataset("synthetic", root, recipe=recipe, reader_options=options, recipe_options=recipe_options,
                        progress=False)
    barrier()
    return root


def _note_ungenerated_recipe_options(cfg: Any, prepared: Any) -> None:
    """``data.recipe_options`` shape data this run generates; given prepared data, say which ones it differs in."""
    from omegaconf import OmegaConf

    wanted = OmegaConf.to_container(cfg.data.recipe_options, resolve=True) or {}
    used = prepared.info.get("recipe") or {}
    differ = {k: v for k, v in wanted.items() if used.get(k) != v}
    if differ:
        from skelssl.console import console

        shown = ", ".join(f"{k}={v} (prepared: {used.get(k)})" for k, v in differ.items())
        console.print(f"note: data.recipe_options apply to generated synthetic data only; {prepared.root} is used "
                      f"as prepared: {shown}", markup=False, highlight=False, soft_wrap=True)


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
