"""``skelssl run``: the main job, end to end.

With no arguments: pretrain SkeletonCLR on the built-in synthetic dataset,
evaluate it (KNN and linear, against the same encoder with random frozen
weights as the floor), plot the training curve and a t-SNE of the test
embeddings, and print a results table. Every stage is a library call
(:func:`skelssl.pretrain`, :func:`skelssl.evaluate`) and prints the equivalent
``skelssl pretrain`` / ``skelssl evaluate`` command, so the run directory looks
exactly like one built by hand.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime
from pathlib import Path

from skelssl.cli.common import console

# The floor is probed like the pretrained encoder, both through a parameter-free
# BatchNorm: a random encoder's raw features barely differ between samples, which
# would put an unnormalised floor at chance. lr 0.1 suits unit-variance inputs
# (the papers' 3.0 diverges on them).
PROBE_OVERRIDES = ["protocol.feature_norm=batchnorm", "train.optimizer.lr=0.1"]


def add_parser(sub) -> None:
    p = sub.add_parser(
        "run",
        help="the main job: pretrain, evaluate and report (default: SkeletonCLR on synthetic data)",
        description="Pretrain a method, evaluate it with KNN and a linear probe against a "
        "random-weights floor, and write a run directory with metrics, plots, checkpoints and "
        "a results table. With no arguments it uses the built-in synthetic dataset and takes a "
        "few minutes on a 2-core CPU.",
    )
    p.add_argument("--method", default="skeletonclr", help="method (a pretrain config <method>_<dataset> must exist)")
    p.add_argument("--dataset", default="synthetic", help="dataset name (default: synthetic, generated on the fly)")
    p.add_argument("--data", help="prepared dataset directory (needed for every dataset but synthetic)")
    p.add_argument("--out", help="run directory (default: runs/<method>-<dataset>-<timestamp>)")
    p.add_argument("--protocols", nargs="+", default=["knn", "linear"], choices=("knn", "linear", "finetune"),
                   help="evaluation protocols (default: knn linear)")
    p.add_argument("--no-floor", action="store_true", help="skip the random-weights floor")
    p.add_argument("--no-tsne", action="store_true", help="skip the t-SNE plot")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="pretraining config overrides")
    p.set_defaults(handler=run_main)


def run_main(args: argparse.Namespace) -> int:
    from skelssl.api import evaluate, pretrain

    started = time.perf_counter()
    run = Path(args.out or f"runs/{args.method}-{args.dataset}-{datetime.now():%Y%m%d-%H%M%S}")
    config = f"{args.method}_{args.dataset}"
    data = ["--data", args.data] if args.data else []
    _show(["pretrain", config, "--run-dir", str(run), "--seed", str(args.seed), "--quiet", *data, *args.overrides])
    pretrain(config, data=args.data, run_dir=run, seed=args.seed, quiet=True, overrides=args.overrides)
    for protocol in args.protocols:
        probe = PROBE_OVERRIDES if protocol == "linear" else []
        floors = [{}] if args.no_floor else [{}, {"from_scratch" if protocol == "finetune" else "random_init": True}]
        for floor in floors:
            flag = [f"--{k.replace('_', '-')}" for k in floor]
            _show(["evaluate", protocol, "--run", str(run), *flag, "--quiet", *probe])
            evaluate(run, protocol, quiet=True, overrides=probe, **floor)
    if not args.no_tsne:
        _show(["evaluate", "tsne", "--run", str(run), "--quiet"])
        evaluate(run, "tsne", quiet=True)
    _plot_curves(run)
    table = results_table(run)
    console.print(table)
    console.print(f"finished in {time.perf_counter() - started:.0f} s; run directory: {run}", markup=False)
    return 0


def _show(argv: list[str]) -> None:
    console.print(f"[bold]$ skelssl {' '.join(argv)}[/bold]", highlight=False)


def _plot_curves(run: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for kind, style in (("step", "-"), ("epoch", "o")):
        points = [(r["step"], r["loss"]) for r in rows if r.get("kind") == kind and "loss" in r]
        if points:
            ax.plot(*zip(*points), style, label=f"{kind} mean" if kind == "epoch" else "logged steps")
    ax.set_xlabel("step")
    ax.set_ylabel("pretraining loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(run / "loss.png", dpi=120)
    plt.close(fig)


def results_table(run: Path):
    from rich.table import Table

    table = Table(title=f"results: {run}")
    for col in ("protocol", "view", "encoder", "top-1 %", "top-5 %"):
        table.add_column(col, justify="right" if "%" in col else "left")
    for path in sorted((run / "eval").glob("*/results.json")):
        r = json.loads(path.read_text())
        if "top1" not in r:
            continue
        encoder = "random (floor)" if r.get("random_init") else "pretrained"
        table.add_row(r.get("protocol", path.parent.name), str(r.get("view") or ""), encoder,
                      f"{r['top1']:.1f}", f"{r.get('top5', float('nan')):.1f}")
    return table
