"""``skelssl split``: draw and export a labelled subset for semi-supervised protocols."""

from __future__ import annotations

import argparse

import numpy as np

from skelssl.cli.common import console


def add_parser(sub) -> None:
    p = sub.add_parser(
        "split",
        help="draw a seeded, class-balanced labelled subset of a training split",
        description="Sample a fraction or a count per class (at least one per class) from a "
        "protocol's training split and write it as an index file that can be published and reused.",
    )
    p.add_argument("path", help="prepared dataset directory")
    p.add_argument("--protocol", required=True, help="protocol whose training split is sampled, e.g. xview")
    amount = p.add_mutually_exclusive_group(required=True)
    amount.add_argument("--fraction", type=float, help="share of each class, e.g. 0.01, 0.1")
    amount.add_argument("--per-class", type=int, help="labelled samples per class")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="index file to write (default: <path>/splits/semi/<name>.txt)")
    p.set_defaults(handler=run_split)


def run_split(args: argparse.Namespace) -> int:
    from skelssl.data.canonical import open_prepared
    from skelssl.data.splits import make_labeled_split

    ds = open_prepared(args.path)
    path, idx = make_labeled_split(ds, args.protocol, fraction=args.fraction, per_class=args.per_class,
                                   seed=args.seed, out=args.out)
    counts = np.bincount(ds.labels[idx], minlength=ds.num_classes)
    console.print(f"{len(idx)} labelled samples ({counts.min()}-{counts.max()} per class) -> {path}", markup=False)
    return 0
