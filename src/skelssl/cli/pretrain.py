"""``skelssl pretrain``: self-supervised pretraining of a method on a prepared dataset.

Run directory::

    config.yaml        the resolved config
    metrics.jsonl      step and epoch metrics (rank 0)
    tb/                TensorBoard events (rank 0)
    checkpoints/       last.*, epoch_XXXX.* (newest train.checkpoint.keep_last), best.*

Multi-process: ``torchrun --nproc_per_node N -m skelssl pretrain ...``;
``data.batch_size`` is the global batch, split evenly over the processes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from skelssl.cli.common import IntermixedParser, console


def add_parser(sub) -> None:
    p = sub.add_parser(
        "pretrain",
        help="self-supervised pretraining of a method (config name or YAML, KEY=VALUE overrides)",
        description="Pretrain a method on a prepared dataset and write a run directory (config.yaml, "
        "metrics.jsonl, tb/, checkpoints/). Overrides are dotted KEY=VALUE pairs, e.g. train.epochs=5; "
        "+KEY=VALUE adds a key, ~KEY deletes one.",
    )
    p.__class__ = IntermixedParser
    p.add_argument("config", help="shipped config name (e.g. skeletonclr, skeletonclr_ntu60) or a YAML path")
    p.add_argument("--data", help="prepared dataset directory (sets data.root)")
    p.add_argument("--run-dir", help="run directory (default: runs/<config>-<timestamp>; with --resume PATH, "
                   "the run holding that checkpoint)")
    p.add_argument("--resume", nargs="?", const=True, default=False, metavar="PATH",
                   help="continue from the run dir's last checkpoint, or from PATH (checkpoint file or run dir)")
    p.add_argument("--seed", type=int, help="sets train.seed")
    p.add_argument("--deterministic", action="store_true", help="deterministic kernels (sets train.deterministic)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides")
    p.set_defaults(handler=run_pretrain)


def run_pretrain(args: argparse.Namespace) -> int:
    import torch.distributed as dist

    from skelssl.engine.distributed import cleanup_distributed, init_distributed

    overrides = list(args.overrides)
    resume = args.resume
    if isinstance(resume, str) and "=" in resume and not Path(resume).exists():
        # `--resume train.epochs=9`: argparse took the first override as the optional PATH.
        overrides.insert(0, resume)
        resume = True
    if args.seed is not None:
        overrides.append(f"train.seed={args.seed}")
    if args.deterministic:
        overrides.append("train.deterministic=true")
    # Leave a process group someone else set up (a script calling main() more than once) to its owner.
    owned = not (dist.is_available() and dist.is_initialized())
    distributed = init_distributed()
    try:
        return _pretrain(args, overrides, resume)
    finally:
        if distributed and owned:
            cleanup_distributed()


def _pretrain(args: argparse.Namespace, overrides: list[str], resume: bool | str) -> int:
    from skelssl.data.canonical import open_prepared
    from skelssl.data.dataset import dataset_from_config
    from skelssl.engine.callbacks import KNNMonitor
    from skelssl.engine.checkpoint import resolve_checkpoint
    from skelssl.engine.config import load_config, save_config
    from skelssl.engine.distributed import barrier, broadcast_string, is_main_process, local_batch_size
    from skelssl.engine.seed import seed_everything
    from skelssl.engine.trainer import Trainer
    from skelssl.protocols.encoders import build_method

    cfg = load_config(args.config, overrides)
    if "method" not in cfg:
        raise ValueError(f"config {args.config!r} has no 'method' section")
    if args.data:
        cfg.data.root = str(Path(args.data).resolve())
    run_dir = _run_dir(args, resume, broadcast_string)
    resume_from: bool | str = resume
    if isinstance(resume, str):
        resume_from = str(resolve_checkpoint(resume))

    root = prepared_data_root(cfg, run_dir, barrier, is_main_process())
    prepared = open_prepared(root)
    dataset = dataset_from_config(prepared, cfg.data, train=True, protocol=cfg.data.protocol, part=cfg.data.part,
                                  seed=int(cfg.train.seed))
    batch_size = local_batch_size(cfg.data.batch_size)

    seed_everything(int(cfg.train.seed))  # the same initial weights on every rank
    method = build_method(cfg.method, prepared)
    callbacks = []
    knn = cfg.train.knn_monitor
    if knn.every:
        test = dataset_from_config(prepared, cfg.data, train=False, protocol=cfg.data.protocol, part=knn.part)
        callbacks.append(KNNMonitor(_knn_eval(dataset, test, prepared.layout.name, knn), every=knn.every))
    if is_main_process():
        if resume:
            _warn_config_changes(cfg, run_dir, resume_from)
        save_config(cfg, run_dir)
    trainer = Trainer(
        method, cfg.train, run_dir, dataset,
        batch_size=batch_size, num_workers=cfg.data.num_workers,
        callbacks=callbacks, config=cfg, quiet=args.quiet,
    )
    result = trainer.fit(resume=resume_from)
    if is_main_process():
        shown = ", ".join(f"{k} {v:.4g}" for k, v in result["metrics"].items())
        console.print(f"pretrained {cfg.method.name} for {result['epoch']} epoch(s), {result['step']} steps"
                      f"{': ' + shown if shown else ''}", markup=False, highlight=False)
        console.print(f"run directory: {run_dir}", markup=False, highlight=False)
    return 0


def _run_dir(args: argparse.Namespace, resume: bool | str, broadcast: Callable[[str | None], str]) -> Path:
    if args.run_dir:
        return Path(args.run_dir)
    if isinstance(resume, str):
        from skelssl.engine.checkpoint import resolve_checkpoint

        ckpt = resolve_checkpoint(resume)
        return ckpt.parent.parent if ckpt.parent.name == "checkpoints" else ckpt.parent
    if resume:
        raise ValueError("--resume without a PATH needs --run-dir (the run to continue)")
    stem = Path(str(args.config)).stem
    # Every rank must agree on the timestamp, so rank 0 picks it.
    return Path(broadcast(f"runs/{stem}-{datetime.now():%Y%m%d-%H%M%S}"))


def prepared_data_root(cfg: Any, run_dir: Path, barrier: Callable[[], None], main: bool) -> Path:
    if cfg.data.root:
        return Path(cfg.data.root)
    if cfg.data.dataset != "synthetic":
        raise ValueError(f"data.root is not set; prepare {cfg.data.dataset} first "
                         f"(skelssl prepare {cfg.data.dataset} --raw RAW --out DIR) and pass --data DIR")
    from omegaconf import OmegaConf

    options = OmegaConf.to_container(cfg.data.reader_options, resolve=True) or {}
    recipe = cfg.data.recipe
    name = "synthetic"
    if options or recipe:
        digest = hashlib.sha1(json.dumps([options, recipe], sort_keys=True).encode()).hexdigest()[:8]
        name = f"synthetic-{digest}"
    root = run_dir.resolve().parent / "data" / name
    if main and not (root / "info.json").exists():
        from skelssl.data.prepare import prepare_dataset

        prepare_dataset("synthetic", root, recipe=recipe, reader_options=options, progress=False)
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
