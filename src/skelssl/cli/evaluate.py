"""``skelssl evaluate``: KNN, linear, fine-tune, semi-supervised and t-SNE evaluation of a pretraining run.

The command line of :func:`skelssl.api.evaluation.evaluate` (output layout described there).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from skelssl.api.evaluation import PROTOCOLS
from skelssl.cli.common import console


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
    p.add_argument("--data", help="prepared dataset (default: the run's data); another dataset is a transfer "
                   "evaluation (results in eval/<protocol>_on_<dataset>; joints mapped when its layout differs)")
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
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted linear/finetune/semi evaluation (give the options it started with)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an earlier evaluation in the output directory (default: refuse)")
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    p.add_argument("--seed", type=int, help="sets train.seed (linear/finetune/semi) and protocol.seed (tsne)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides")
    p.set_defaults(handler=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    from skelssl.api.evaluation import evaluate

    results = evaluate(
        args.run, args.protocol, data=args.data, view=args.view, config=args.config, checkpoint=args.checkpoint,
        random_init=args.random_init, from_scratch=args.from_scratch, method_config=args.method_config,
        out=args.out, mode=args.mode, fraction=args.fraction, per_class=args.per_class, split_file=args.split_file,
        split_seed=args.split_seed, resume=args.resume, overwrite=args.overwrite, device=args.device,
        seed=args.seed, quiet=args.quiet,
        overrides=args.overrides,
    )
    _print_summary(args.protocol, [(view, r, Path(r["out_dir"])) for view, r in results.items()])
    return 0


def _print_summary(protocol: str, rows: list[tuple[str, dict, Path]]) -> None:
    from rich.table import Table

    if protocol == "tsne":
        # A map, not a score: say where it is.
        for view, r, out in rows:
            console.print(f"t-SNE map of {r.get('num_points', '?')} test samples ({view}): {out / 'tsne.png'}",
                          markup=False, highlight=False, soft_wrap=True)
        return
    table = Table(title=f"skelssl evaluate {protocol}")
    for col in ("view", "encoder", "top-1 %", "top-5 %", "test samples"):
        table.add_column(col, justify="right" if "%" in col or "samples" in col else "left")
    for view, r, _ in rows:
        encoder = ("from scratch" if protocol in ("finetune", "semi") else "random (floor)") if r.get("random_init") \
            else "pretrained"
        table.add_row(view, encoder, f"{r['top1']:.2f}", f"{r['top5']:.2f}", str(r.get("num_test", "")))
    console.print(table)
    for view, _, out in rows:  # whole paths, never cut to fit the table
        console.print(f"results{f' ({view})' if len(rows) > 1 else ''}: {out / 'results.json'}", markup=False,
                      highlight=False, soft_wrap=True)
