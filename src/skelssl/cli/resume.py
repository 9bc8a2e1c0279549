"""``skelssl resume RUN``: continue an interrupted run from its own config, data and last checkpoint.

Works for the run directories of ``skelssl pretrain``, ``skelssl semi`` and
``skelssl supervised`` (what wrote it is read from its ``config.yaml``).
Overrides may change only what does not make it a different run, e.g.
``train.epochs=400`` to train longer (:data:`skelssl.api.rundir.SAFE_ON_RESUME`).
"""

from __future__ import annotations

import argparse

from skelssl.cli.common import IntermixedParser


def add_parser(sub) -> None:
    p = sub.add_parser(
        "resume",
        help="continue an interrupted pretrain / semi / supervised run from its last checkpoint",
        description="Continue a run from its last checkpoint with the config and data stored in the run directory. "
        "Overrides may only change what keeps it the same run: train.epochs (train longer), train.max_steps, "
        "logging and checkpoint settings, data.num_workers; --data may point at the same prepared dataset moved "
        "elsewhere.",
    )
    p.__class__ = IntermixedParser
    p.add_argument("run", help="run directory (holds config.yaml and checkpoints/)")
    p.add_argument("--data", help="the run's prepared dataset, if it has moved")
    p.add_argument("--device", help="supervised runs: cpu, cuda, cuda:1 ...")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="safe config overrides, e.g. train.epochs=400")
    p.set_defaults(handler=run_resume)


def run_resume(args: argparse.Namespace) -> int:
    from skelssl.api.rundir import RunDirError, run_kind

    kind = run_kind(args.run)
    if kind == "pretrain":
        from skelssl.api.pretraining import pretrain

        pretrain(None, run_dir=args.run, resume=True, data=args.data, overrides=args.overrides, quiet=args.quiet)
        return 0
    if kind == "semi":
        from skelssl.api.semi_supervised import semi
        from skelssl.cli.semi import print_semi_results

        print_semi_results(semi(None, run_dir=args.run, resume=True, data=args.data, overrides=args.overrides,
                                quiet=args.quiet))
        return 0
    if kind == "supervised":
        from skelssl.api.supervised import supervised
        from skelssl.cli.supervised import print_supervised_results

        print_supervised_results(supervised(None, run_dir=args.run, resume=True, data=args.data,
                                            overrides=args.overrides, device=args.device, quiet=args.quiet))
        return 0
    raise RunDirError(f"{args.run} is an evaluation directory; continue it with `skelssl evaluate PROTOCOL --run "
                      f"PRETRAIN_RUN --resume` (the protocol and options it was started with)")
