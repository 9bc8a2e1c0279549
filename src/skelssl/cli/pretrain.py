"""``skelssl pretrain``: self-supervised pretraining of a method on a prepared dataset.

The command line of :func:`skelssl.api.pretraining.pretrain` (the run directory
is described there). Multi-process: ``torchrun --nproc_per_node N -m skelssl
pretrain ...``; ``data.batch_size`` is the global batch, split evenly over the
processes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from skelssl.cli.common import IntermixedParser, add_run_dir_args


def add_parser(sub) -> None:
    p = sub.add_parser(
        "pretrain",
        help="self-supervised pretraining of a method (config name or YAML, KEY=VALUE overrides)",
        description="Pretrain a method on a prepared dataset and write a run directory (config.yaml, "
        "metrics.jsonl, tb/, checkpoints/). Overrides are dotted KEY=VALUE pairs, e.g. train.epochs=5; "
        "+KEY=VALUE adds a key, ~KEY deletes one. Shipped configs: `skelssl list configs` "
        "(e.g. skeletonclr_nucla, simclr_nucla, crossclr_nucla, mcc_nucla; skeletonclr for any dataset).",
    )
    p.__class__ = IntermixedParser
    p.add_argument("config", nargs="?", help="shipped config name (e.g. skeletonclr_nucla, skeletonclr) or a YAML "
                   "path; optional with --resume (the run's own config is used)")
    p.add_argument("--data", help="prepared dataset directory (sets data.root)")
    p.add_argument("--run-dir", help="run directory (default: runs/<config>-<timestamp>; with --resume PATH, "
                   "the run holding that checkpoint)")
    p.add_argument("--resume", nargs="?", const=True, default=False, metavar="PATH",
                   help="continue the run dir's last checkpoint with the run's own config and data, or from PATH "
                   "(checkpoint file or run dir); only safe overrides (train.epochs ...) may change")
    add_run_dir_args(p, resume=False)
    p.add_argument("--seed", type=int, help="sets train.seed")
    p.add_argument("--deterministic", action="store_true", help="deterministic kernels (sets train.deterministic)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides")
    p.set_defaults(handler=run_pretrain)


def run_pretrain(args: argparse.Namespace) -> int:
    from skelssl.api.pretraining import pretrain

    overrides = list(args.overrides)
    resume = args.resume
    if isinstance(resume, str) and "=" in resume and not Path(resume).exists():
        # `--resume train.epochs=9`: argparse took the first override as the optional PATH.
        overrides.insert(0, resume)
        resume = True
    config = args.config
    if config is not None and "=" in config and not Path(config).exists() and resume:
        # `--resume --run-dir R train.epochs=9`: the first override landed on CONFIG.
        overrides.insert(0, config)
        config = None
    pretrain(config, data=args.data, run_dir=args.run_dir, overrides=overrides, seed=args.seed,
             deterministic=args.deterministic, resume=resume, overwrite=args.overwrite, quiet=args.quiet)
    return 0
