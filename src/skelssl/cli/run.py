"""``skelssl run``: the main job.

Today it prepares the built-in synthetic dataset (or any dataset given) and
summarises it; pretraining and evaluation stages join it as they land.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from skelssl.cli.common import add_option_args, console, dataset_table, parse_options, summary_table


def add_parser(sub) -> None:
    p = sub.add_parser(
        "run",
        help="the main job: prepare the built-in synthetic dataset and summarise it",
        description="Run the main job end to end. With no arguments it generates the built-in "
        "synthetic dataset, prepares it with its default recipe and prints a summary.",
    )
    p.add_argument("--dataset", default="synthetic", help="dataset reader (default: synthetic)")
    p.add_argument("--raw", help="raw data directory (not needed for synthetic)")
    p.add_argument("--recipe", help="preprocessing recipe (default: the dataset's)")
    p.add_argument("--out", help="run directory (default: runs/<dataset>-<timestamp>)")
    p.add_argument("--workers", type=int, default=None)
    add_option_args(p)
    p.set_defaults(handler=run_main)


def run_main(args: argparse.Namespace) -> int:
    from skelssl.data.canonical import open_prepared
    from skelssl.data.prepare import prepare_dataset

    out = Path(args.out or f"runs/{args.dataset}-{datetime.now():%Y%m%d-%H%M%S}")
    summary = prepare_dataset(
        args.dataset,
        out / "data",
        raw_dir=args.raw,
        recipe=args.recipe,
        workers=args.workers,
        reader_options=parse_options(args.reader_option),
        recipe_options=parse_options(args.recipe_option),
        overwrite=True,
    )
    console.print(summary_table(summary))
    console.print(dataset_table(open_prepared(out / "data")))
    console.print(f"run directory: {out}", markup=False)
    return 0
