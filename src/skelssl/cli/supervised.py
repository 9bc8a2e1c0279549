"""``skelssl supervised``: train an encoder from scratch on every label and test it (the supervised ceiling).

    skelssl supervised stgcn_nucla --data prepared/nucla --run-dir runs/sup_stgcn
    skelssl supervised agcn_nucla --data prepared/nucla model.view=bone train.epochs=30

The command line of :func:`skelssl.api.supervised.supervised`. Configs live in
``configs/supervised/`` (one per backbone x dataset): the model
(``model.encoder``, ``model.view``), the training augmentation
(``protocol.augment``), the clip sampling (``data.clip_frames``,
``data.train_clip``) and the schedule.
"""

from __future__ import annotations

import argparse

from skelssl.cli.common import IntermixedParser, add_run_dir_args, console


def add_parser(sub) -> None:
    p = sub.add_parser(
        "supervised",
        help="supervised training from scratch + test (ST-GCN, 2s-AGCN, BiGRU, ...)",
        description="Train a freshly initialised encoder and a linear classifier on every label of the training "
        "split, test it and write results.json in the run directory. Overrides are dotted KEY=VALUE pairs, "
        "e.g. train.epochs=30 model.encoder.name=stgcn.",
    )
    p.__class__ = IntermixedParser
    p.add_argument("config", nargs="?", help="supervised config (e.g. stgcn_nucla, agcn_nucla, bigru_nucla) or a "
                   "YAML path (optional with --resume)")
    p.add_argument("--data", "--dataset", dest="data", help="prepared dataset directory (with --resume: the run's)")
    p.add_argument("--seed", type=int, help="sets train.seed")
    p.add_argument("--run-dir", help="run directory (default: runs/supervised-<config>-<timestamp>)")
    add_run_dir_args(p)
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides")
    p.set_defaults(handler=run_supervised_cli)


def run_supervised_cli(args: argparse.Namespace) -> int:
    from skelssl.api.supervised import supervised

    config, overrides = args.config, list(args.overrides)
    if config is not None and "=" in config and args.resume:
        config, overrides = None, [config, *overrides]
    if not args.resume and (config is None or args.data is None):
        raise ValueError("give the config and --data DIR (or --resume --run-dir RUN)")
    results = supervised(config, data=args.data, run_dir=args.run_dir, overrides=overrides, seed=args.seed,
                         resume=args.resume, overwrite=args.overwrite, device=args.device, quiet=args.quiet)
    print_supervised_results(results)
    return 0


def print_supervised_results(results: dict) -> None:
    train = results.get("train_accuracy")
    train_text = f"{train:.2f} %" if isinstance(train, (int, float)) else "-"  # none when stopped mid-epoch
    console.print(f"supervised {results['encoder']} ({results['view']}): {results['num_train']} training samples, "
                  f"{results['epochs']} epoch(s), train accuracy {train_text}, "
                  f"test top-1 {results['top1']:.2f} %, top-5 {results['top5']:.2f} %", markup=False, highlight=False)
    console.print(f"run directory: {results['run_dir']}", markup=False, highlight=False)
