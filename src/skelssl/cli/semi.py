"""``skelssl semi``: train and test a semi-supervised method on a labeled subset of a prepared dataset.

    skelssl semi assl --data prepared/nucla --labels-per-class 15 --seed 0 --run-dir runs/assl_15_s0
    skelssl semi vat_entmin --data prepared/nucla --label-fraction 0.1 train.epochs=60

The command line of :func:`skelssl.api.semi_supervised.semi`. The labeled
subset comes from the data layer's seeded, class-balanced sampler
(seed ``--split-seed``, default ``--seed``), so every method run with the same
seed sees the same labels. The run directory holds ``config.yaml``,
``metrics.jsonl`` (with the per-epoch ``nei_quality``), ``checkpoints/`` and
``results.json`` with the test accuracy.
"""

from __future__ import annotations

import argparse

from skelssl.cli.common import IntermixedParser, add_run_dir_args, console

METHODS = ("assl", "supervised", "s4l", "vat", "vat_entmin", "pseudo_label")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "semi",
        help="semi-supervised training + test (ASSL, supervised-only, S4L, VAT, VAT+EntMin, pseudo-labels)",
        description="Train a semi-supervised method on a seeded labeled subset of the training split, test it, "
        "and write results.json in the run directory. Overrides are dotted KEY=VALUE pairs, e.g. "
        "train.epochs=30 method.adversarial=false.",
    )
    p.__class__ = IntermixedParser
    p.add_argument("method", nargs="?", help=f"method config ({', '.join(METHODS)}) or a YAML path "
                   "(optional with --resume)")
    p.add_argument("--data", "--dataset", dest="data", help="prepared dataset directory (with --resume: the run's)")
    amount = p.add_mutually_exclusive_group()
    amount.add_argument("--labels-per-class", type=int, help="labeled samples per class")
    amount.add_argument("--label-fraction", type=float, help="labeled share of each class, e.g. 0.05")
    amount.add_argument("--split-file", help="published index file of the labeled samples")
    p.add_argument("--split-seed", type=int, help="seed of the labeled draw (default: --seed)")
    p.add_argument("--seed", type=int, help="sets train.seed")
    p.add_argument("--run-dir", help="run directory (default: runs/semi-<method>-<timestamp>)")
    add_run_dir_args(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides")
    p.set_defaults(handler=run_semi_cli)


def run_semi_cli(args: argparse.Namespace) -> int:
    from skelssl.api.semi_supervised import semi

    method, overrides = args.method, list(args.overrides)
    if method is not None and "=" in method and args.resume:
        method, overrides = None, [method, *overrides]  # `semi --resume --run-dir R train.epochs=9`
    if not args.resume and (method is None or args.data is None):
        raise ValueError("give the method and --data DIR (or --resume --run-dir RUN)")
    results = semi(method, data=args.data, labels_per_class=args.labels_per_class,
                   label_fraction=args.label_fraction, split_file=args.split_file, split_seed=args.split_seed,
                   seed=args.seed, run_dir=args.run_dir, resume=args.resume, overwrite=args.overwrite,
                   quiet=args.quiet, overrides=overrides)
    print_semi_results(results)
    return 0


def print_semi_results(results: dict) -> None:
    console.print(f"{results['method']}: {results['extra']['labeled_samples']} labeled samples, "
                  f"{results['epochs']} epoch(s), test top-1 {results['top1']:.2f} %, top-5 {results['top5']:.2f} %",
                  markup=False, highlight=False)
    console.print(f"run directory: {results['run_dir']}", markup=False, highlight=False)
