"""``skelssl ensemble``: combine per-stream test scores (joint, motion, bone ...) with weights."""

from __future__ import annotations

import argparse
from pathlib import Path

from skelssl.cli.common import console


def add_parser(sub) -> None:
    p = sub.add_parser(
        "ensemble",
        help="weighted sum of several evaluations' test scores (multi-stream ensemble)",
        description="Combine the saved test scores of several evaluations, e.g. "
        "`skelssl ensemble run_joint run_motion run_bone --weights 1 1 0.6 --protocol linear`. "
        "A source is a run directory (its eval/<protocol> scores), RUN:VIEW (eval/<protocol>_<view>) "
        "or an evaluation directory holding scores.npy. The test sets must be the same samples.",
    )
    p.add_argument("sources", nargs="+", help="run directories, RUN:VIEW, or evaluation directories")
    p.add_argument("--weights", nargs="+", type=float, help="one weight per source (default: all 1)")
    p.add_argument("--protocol", default="linear",
                   help="whose scores to combine: linear (default), finetune, knn, semi_..., linear_random ...")
    p.add_argument("--softmax", action="store_true", help="add class probabilities instead of raw scores")
    p.add_argument("--out", help="also write results.json and the combined scores to this directory")
    p.set_defaults(handler=run_ensemble)


def run_ensemble(args: argparse.Namespace) -> int:
    from rich.table import Table

    from skelssl.protocols.ensemble import ensemble
    from skelssl.protocols.results import EvalContext, write_results

    if args.weights is not None and len(args.weights) != len(args.sources):
        raise ValueError(f"{len(args.weights)} weights for {len(args.sources)} sources")
    result = ensemble(args.sources, args.weights, protocol=args.protocol, softmax=args.softmax)
    table = Table(title=f"ensemble of {len(args.sources)} {args.protocol} evaluations")
    for col in ("stream", "weight", "top-1 %", "top-5 %"):
        table.add_column(col, justify="left" if col == "stream" else "right")
    for s in result["streams"]:
        name = s["path"] + (f" ({s['view']})" if s.get("view") else "")
        table.add_row(name, f"{s['weight']:g}", f"{s['top1']:.2f}", f"{s['top5']:.2f}")
    table.add_row("ensemble", "", f"{result['top1']:.2f}", f"{result['top5']:.2f}", style="bold")
    console.print(table)
    if args.out:
        first = result["streams"][0]
        context = EvalContext(
            protocol="ensemble",
            method="+".join(sorted({str(s["method"]) for s in result["streams"]})),
            view="+".join(str(s["view"]) for s in result["streams"]),
            dataset=result["reference"].get("dataset"),
            data_root=result["reference"].get("data_root"),
            split_protocol=result["reference"].get("split_protocol"),
            class_names=result["reference"].get("class_names"),
            config={"protocol": args.protocol, "softmax": args.softmax,
                    "weights": [s["weight"] for s in result["streams"]], "sources": [str(s) for s in args.sources]},
            extra={"streams": result["streams"], "reference": first["path"]},
        )
        write_results(Path(args.out), context, result["scores"], result["labels"], result["indices"])
        console.print(f"results: {Path(args.out) / 'results.json'}", markup=False, highlight=False)
    return 0
