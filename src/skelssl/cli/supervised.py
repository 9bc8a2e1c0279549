"""``skelssl supervised``: train an encoder from scratch on every label and test it (the supervised ceiling).

    skelssl supervised stgcn_nucla --data prepared/nucla --run-dir runs/sup_stgcn
    skelssl supervised agcn_nucla --data prepared/nucla model.view=bone train.epochs=30

Configs live in ``configs/supervised/`` (one per backbone x dataset): the
model (``model.encoder``, ``model.view``), the training augmentation
(``protocol.augment``), the clip sampling (``data.clip_frames``,
``data.train_clip``) and the schedule. The run directory holds
``config.yaml``, ``metrics.jsonl``, ``checkpoints/`` and ``results.json``.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from skelssl.cli.common import IntermixedParser, console


def add_parser(sub) -> None:
    p = sub.add_parser(
        "supervised",
        help="supervised training from scratch + test (ST-GCN, 2s-AGCN, BiGRU, ...)",
        description="Train a freshly initialised encoder and a linear classifier on every label of the training "
        "split, test it and write results.json in the run directory. Overrides are dotted KEY=VALUE pairs, "
        "e.g. train.epochs=30 model.encoder.name=stgcn.",
    )
    p.__class__ = IntermixedParser
    p.add_argument("config", help="supervised config (e.g. stgcn_nucla, agcn_nucla, bigru_nucla) or a YAML path")
    p.add_argument("--data", "--dataset", dest="data", required=True, help="prepared dataset directory")
    p.add_argument("--seed", type=int, help="sets train.seed")
    p.add_argument("--run-dir", help="run directory (default: runs/supervised-<config>-<timestamp>)")
    p.add_argument("--resume", action="store_true", help="continue the run directory's last checkpoint")
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides")
    p.set_defaults(handler=run_supervised_cli)


def run_supervised_cli(args: argparse.Namespace) -> int:
    from skelssl.engine.config import load_config, save_config
    from skelssl.protocols.supervised import run_supervised

    overrides = [f"data.root={Path(args.data).resolve()}"]
    if args.seed is not None:
        overrides.append(f"train.seed={args.seed}")
    name = args.config if Path(args.config).suffix in (".yaml", ".yml") or "/" in args.config \
        else f"supervised/{args.config}"
    cfg = load_config(name, overrides + list(args.overrides))
    if "model" not in cfg or "encoder" not in cfg.model:
        raise ValueError(f"config {args.config!r} has no model.encoder section")
    if args.resume and not args.run_dir:
        raise ValueError("--resume needs --run-dir (the run to continue)")
    run_dir = Path(args.run_dir or f"runs/supervised-{Path(args.config).stem}-{datetime.now():%Y%m%d-%H%M%S}")
    save_config(cfg, run_dir)
    results = run_supervised(cfg, run_dir, resume=args.resume, device=args.device, quiet=args.quiet)
    console.print(f"supervised {cfg.model.encoder.name} ({results['view']}): {results['num_train']} training samples, "
                  f"{results['epochs']} epoch(s), train accuracy {results['train_accuracy']:.2f} %, "
                  f"test top-1 {results['top1']:.2f} %, top-5 {results['top5']:.2f} %", markup=False, highlight=False)
    console.print(f"run directory: {run_dir}", markup=False, highlight=False)
    return 0
