"""``skelssl prepare``: raw files -> canonical training arrays."""

from __future__ import annotations

import argparse

from skelssl.cli.common import add_option_args, console, parse_options, summary_table
from skelssl.data.readers import list_readers
from skelssl.data.recipes import list_recipes


def add_parser(sub) -> None:
    p = sub.add_parser(
        "prepare",
        help="read a raw dataset, apply a preprocessing recipe, write the canonical format",
        description="Read raw skeleton files, apply a named preprocessing recipe and write "
        "data.npy (N, C, T, V, M) + meta.csv + splits/ to --out. Resumes an interrupted run.",
    )
    p.add_argument("dataset", choices=list_readers(), help="dataset reader")
    p.add_argument("--raw", help="directory holding the raw files (not needed for 'synthetic')")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--recipe", choices=list_recipes(), help="preprocessing recipe (default: the dataset's)")
    p.add_argument("--on-error", choices=("raise", "skip"), default="raise",
                   help="stop at the first unreadable sample (default) or skip and count it")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: all cores)")
    p.add_argument("--chunk-size", type=int, default=64, help="items per work unit / resume checkpoint")
    p.add_argument("--no-resume", action="store_true", help="ignore chunks left by an interrupted run")
    p.add_argument("--overwrite", action="store_true", help="replace an already prepared dataset")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_option_args(p)
    p.set_defaults(handler=run_prepare)


def run_prepare(args: argparse.Namespace) -> int:
    from skelssl.data.prepare import AllSkippedError, prepare_dataset

    try:
        summary = prepare_dataset(
            args.dataset,
            args.out,
            raw_dir=args.raw,
            recipe=args.recipe,
            on_error=args.on_error,
            workers=args.workers,
            chunk_size=args.chunk_size,
            resume=not args.no_resume,
            overwrite=args.overwrite,
            reader_options=parse_options(args.reader_option),
            recipe_options=parse_options(args.recipe_option),
            progress=not args.no_progress,
        )
    except AllSkippedError as err:
        # The reasons are the point: show them before the one-line error.
        _print_summary(err.summary, args.out)
        raise
    _print_summary(summary, args.out)
    return 0


def _print_summary(summary, out: str) -> None:
    console.print(summary_table(summary))
    for skip in summary.skipped[:20]:
        # soft_wrap: a long path stays on one line, whole and greppable.
        console.print(f"  skipped ({skip['reason']}): {skip['message']}", markup=False, highlight=False,
                      soft_wrap=True)
    if len(summary.skipped) > 20:
        console.print(f"  ... {len(summary.skipped) - 20} more in {out}/summary.json", markup=False)
