"""``skelssl evaluate``: KNN, linear, fine-tune, semi-supervised and t-SNE evaluation of a pretraining run.

Output, per protocol (and view, for methods with several encoders)::

    <run>/eval/<protocol>[_random|_scratch][_<view>]/
        results.json  scores.npy  test_indices.npy  test_labels.npy
        config.yaml  metrics.jsonl  tb/  checkpoints/       (linear, finetune, semi)
        tsne.png                                           (tsne)

Semi-supervised runs are named ``semi_<mode>_<subset>``, e.g.
``semi_finetune_frac0.01_seed0``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from skelssl.cli.common import console

PROTOCOLS = ("linear", "knn", "finetune", "semi", "tsne")
# Protocols that train the encoder: their random-weight variant is "from scratch", not a frozen floor.
_TRAINS_ENCODER = ("finetune",)


def add_parser(sub) -> None:
    from skelssl.cli.common import IntermixedParser

    p = sub.add_parser(
        "evaluate",
        help="evaluate a pretraining run: linear, knn, finetune, semi, tsne",
        description="Evaluate the encoder(s) of a pretraining run (its checkpoint, via the method's "
        "eval_encoders()) with a protocol and write results.json + test scores under <run>/eval/. "
        "Configs: eval/<protocol>_<dataset>.yaml when shipped, else eval/<protocol>.yaml; "
        "KEY=VALUE overrides as for pretrain (e.g. train.epochs=20 protocol.k=50).",
    )
    p.__class__ = IntermixedParser
    p.add_argument("protocol", choices=PROTOCOLS)
    p.add_argument("--run", help="pretraining run directory (config.yaml + checkpoints/)")
    p.add_argument("--view", help="evaluate this view's encoder only (default: every encoder of the method)")
    p.add_argument("--data", help="prepared dataset (default: the run's data)")
    p.add_argument("--config", help="eval config name or YAML (default: eval/<protocol>[_<dataset>])")
    p.add_argument("--checkpoint", help="checkpoint to load (default: <run>/checkpoints/last)")
    p.add_argument("--random-init", action="store_true",
                   help="random, untrained encoder weights: the floor (linear, knn, tsne)")
    p.add_argument("--from-scratch", action="store_true",
                   help="fine-tune from random weights: the supervised baseline (finetune, semi)")
    p.add_argument("--method-config",
                   help="with --random-init/--from-scratch and no --run: pretrain config that defines the method")
    p.add_argument("--out", help="output directory (default: <run>/eval/<name>)")
    p.add_argument("--mode", choices=("finetune", "linear"), default=None,
                   help="semi: fine-tune (default) or linear probe on the labelled subset")
    amount = p.add_mutually_exclusive_group()
    amount.add_argument("--fraction", type=float, help="semi: labelled share of each class, e.g. 0.01")
    amount.add_argument("--per-class", type=int, help="semi: labelled samples per class")
    amount.add_argument("--split-file", help="semi: published index file of the labelled samples")
    p.add_argument("--split-seed", type=int, help="semi: seed of the labelled draw")
    p.add_argument("--resume", action="store_true", help="continue an interrupted linear/finetune/semi run")
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    p.add_argument("--seed", type=int, help="sets train.seed (linear/finetune/semi) and protocol.seed (tsne)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides")
    p.set_defaults(handler=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    from omegaconf import OmegaConf

    from skelssl.data.canonical import open_prepared
    from skelssl.data.dataset import dataset_from_config
    from skelssl.engine.config import config_to_dict
    from skelssl.protocols.encoders import pretrained_encoders, read_run_config
    from skelssl.protocols.features import joint_input
    from skelssl.protocols.random_init import random_init_encoders
    from skelssl.protocols.results import EvalContext

    random_init = bool(args.random_init or args.from_scratch)
    if args.from_scratch and args.protocol not in ("finetune", "semi"):
        raise ValueError("--from-scratch is for finetune and semi; the frozen floor is --random-init")
    if args.random_init and args.protocol == "finetune":
        raise ValueError("fine-tuning from random weights is --from-scratch")
    if args.run is None and not (random_init and args.method_config):
        raise ValueError("give --run RUN_DIR (or --random-init/--from-scratch with --method-config and --data)")
    if args.run is None and args.out is None:
        raise ValueError("without --run, say where results go with --out")
    if args.protocol != "semi" and (args.mode or args.fraction or args.per_class or args.split_file
                                    or args.split_seed is not None):
        raise ValueError("--mode/--fraction/--per-class/--split-file/--split-seed are for the semi protocol")

    run_dir = Path(args.run) if args.run else None
    if run_dir is not None:
        run_cfg = read_run_config(run_dir)
    else:
        from skelssl.engine.config import load_config

        run_cfg = load_config(args.method_config)

    prepared = open_prepared(_data_root(args, run_cfg, run_dir))
    dataset_name = str(prepared.info.get("dataset") or run_cfg.data.dataset)
    cfg = _load_eval_config(args, dataset_name)
    split_protocol = cfg.data.protocol or run_cfg.data.get("protocol") or next(iter(prepared.protocols), None)
    if split_protocol not in prepared.protocols:
        known = ", ".join(prepared.protocols) or "none"
        raise ValueError(f"{prepared.root}: no split protocol {split_protocol!r} (known: {known}); set data.protocol")
    cfg.data.protocol = split_protocol
    cfg.data.root = str(prepared.root)

    seed = int(cfg.train.seed)
    if random_init:
        source = random_init_encoders(run_cfg.method, prepared, seed=seed)
    else:
        checkpoint = args.checkpoint or run_dir
        source = pretrained_encoders(run_cfg, prepared, checkpoint)
    views = list(source.encoders)
    if args.view is not None:
        if args.view not in source.encoders:
            raise ValueError(f"{source.method_name} has no {args.view!r} encoder; it has {', '.join(views)}")
        views = [args.view]
    if args.out and len(views) > 1:
        raise ValueError(f"--out names one directory but {len(views)} views would be evaluated; add --view")

    train_ds = dataset_from_config(prepared, cfg.data, train=True, protocol=split_protocol, part="train", seed=seed)
    test_ds = dataset_from_config(prepared, cfg.data, train=False, protocol=split_protocol, part="test")
    tag = _protocol_tag(args, cfg, random_init)
    num_classes = prepared.num_classes
    class_names = list(prepared.info.get("class_names") or []) or None
    rows = []
    for view in views:
        name = tag if len(source.encoders) == 1 else f"{tag}_{view}"
        out_dir = Path(args.out) if args.out else Path(run_dir or ".") / "eval" / name
        out_dir.mkdir(parents=True, exist_ok=True)
        context = EvalContext(
            protocol=args.protocol,
            method=source.method_name,
            view=view,
            dataset=dataset_name,
            data_root=str(prepared.root),
            split_protocol=split_protocol,
            checkpoint=source.checkpoint,
            random_init=random_init,
            seed=seed,
            class_names=class_names,
            config=config_to_dict(cfg),
            extra={"method_config": OmegaConf.to_container(run_cfg.method, resolve=True),
                   "run_dir": str(run_dir) if run_dir else None, "pretrain": source.meta},
        )
        # Datasets yield joint coordinates; encoders that do not convert to their view themselves get wrapped.
        encoder = joint_input(source.encoders[view], view, prepared.layout)
        results = _run_protocol(args, cfg, encoder, prepared, train_ds, test_ds, out_dir, num_classes, context)
        rows.append((view, results, out_dir))
    _print_summary(args.protocol, rows)
    return 0


def _data_root(args: argparse.Namespace, run_cfg: Any, run_dir: Path | None) -> Path:
    if args.data:
        return Path(args.data)
    if run_cfg.data.get("root"):
        return Path(run_cfg.data.root)
    if run_dir is None:
        raise ValueError("say which prepared dataset to evaluate on with --data")
    # The run's default data location (the synthetic dataset prepared next to the run).
    from skelssl.cli.pretrain import prepared_data_root as pretrain_data_root

    return pretrain_data_root(run_cfg, run_dir, lambda: None, True)


def _load_eval_config(args: argparse.Namespace, dataset: str) -> Any:
    from skelssl.engine.config import list_configs, load_config

    overrides = list(args.overrides)
    if args.seed is not None:
        overrides.append(f"{'protocol.seed' if args.protocol == 'tsne' else 'train.seed'}={args.seed}")
    if args.protocol == "semi":
        if args.fraction is not None:
            overrides += [f"protocol.fraction={args.fraction}", "protocol.per_class=null", "protocol.split_file=null"]
        elif args.per_class is not None:
            overrides += [f"protocol.per_class={args.per_class}", "protocol.fraction=null", "protocol.split_file=null"]
        elif args.split_file is not None:
            overrides += [f"protocol.split_file={Path(args.split_file).resolve()}", "protocol.fraction=null",
                          "protocol.per_class=null"]
        if args.split_seed is not None:
            overrides.append(f"protocol.split_seed={args.split_seed}")
    if args.config:
        name = args.config
    else:
        stem = "semi_linear" if args.protocol == "semi" and args.mode == "linear" else args.protocol
        shipped = set(list_configs("eval"))
        name = f"eval/{stem}_{dataset}" if f"{stem}_{dataset}" in shipped else f"eval/{stem}"
    cfg = load_config(name, overrides)
    if "protocol" not in cfg:
        raise ValueError(f"config {name!r} has no 'protocol' section")
    return cfg


def _protocol_tag(args: argparse.Namespace, cfg: Any, random_init: bool) -> str:
    from skelssl.protocols.semi import semi_tag

    tag = args.protocol
    if args.protocol == "semi":
        p = cfg.protocol
        subset = semi_tag(p.get("fraction"), p.get("per_class"), p.get("split_file"), int(p.get("split_seed", 0)))
        tag = f"semi_{p.get('mode', 'finetune')}_{subset}"
    if random_init:
        semi_finetune = args.protocol == "semi" and cfg.protocol.get("mode", "finetune") == "finetune"
        trains_encoder = args.protocol in _TRAINS_ENCODER or semi_finetune
        tag += "_scratch" if trains_encoder else "_random"
    return tag


def _run_protocol(args: argparse.Namespace, cfg: Any, encoder: Any, prepared: Any, train_ds: Any, test_ds: Any,
                  out_dir: Path, num_classes: int, context: Any) -> dict:
    from skelssl.engine.config import save_config

    common = dict(num_classes=num_classes, context=context)
    layout = prepared.layout
    if args.protocol == "knn":
        from skelssl.protocols.knn import run_knn

        return run_knn(encoder, train_ds, test_ds, cfg, out_dir, device=args.device, **common)
    if args.protocol == "tsne":
        from skelssl.protocols.tsne import run_tsne

        return run_tsne(encoder, test_ds, cfg, out_dir, context=context, device=args.device)
    save_config(cfg, out_dir)
    trained = dict(layout=layout, resume=args.resume, device=args.device, quiet=args.quiet, **common)
    if args.protocol == "linear":
        from skelssl.protocols.linear import run_linear

        return run_linear(encoder, train_ds, test_ds, cfg, out_dir, **trained)
    if args.protocol == "finetune":
        from skelssl.protocols.finetune import run_finetune

        return run_finetune(encoder, train_ds, test_ds, cfg, out_dir, **trained)
    from skelssl.protocols.semi import run_semi

    return run_semi(encoder, prepared, test_ds, cfg, out_dir, **trained)


def _print_summary(protocol: str, rows: list[tuple[str, dict, Path]]) -> None:
    from rich.table import Table

    table = Table(title=f"skelssl evaluate {protocol}")
    for col in ("view", "top-1 %", "top-5 %", "test samples", "results"):
        table.add_column(col, justify="right" if "%" in col or "samples" in col else "left")
    for view, r, out in rows:
        top1 = f"{r['top1']:.2f}" if "top1" in r else "-"
        top5 = f"{r['top5']:.2f}" if "top5" in r else "-"
        shown = out / ("tsne.png" if protocol == "tsne" else "results.json")
        table.add_row(view, top1, top5, str(r.get("num_test", r.get("num_points", ""))), str(shown))
    console.print(table)
