"""View/distance SimCLR (Gao, Yang, Du, NeurIPS 2020 pre-registration workshop): the §4.3 experiment grid.

    python benchmarks/gao_grid.py --data PREPARED_NUCLA [--work runs/gao_grid] [--rows all ab ...] \\
        [--epochs 100] [--seed 0] [--protocols knn linear linear_std] [-- KEY=VALUE ...]

Rows (each a pretraining run of ``--config``, default ``simclr_nucla``):

======================  ==========================================================
``all``                 α, β, γ and the distance random (``simclr_view_distance``)
``ab`` / ``ag`` / ``bg``  two angles random, the third fixed at 0°, no translation
``distance``            the distance random, the view fixed (no rotation)
``stgcn_w0.125`` ...    the ``all`` augmentation with encoders of other width (ST-GCN)
``resnet10_w16`` ...    ... or the 2-D CNN (ResNet) of depth 10/18 and width 16/32
======================  ==========================================================

Every row is evaluated with each ``--protocols`` entry (``knn``; ``linear``, the
paper's linear probe on raw features; ``linear_std``, the same probe on
standardised features) and so is the same encoder with random frozen weights,
the baseline a probe must beat. Resumable: finished steps are skipped,
interrupted pretraining resumes. Writes one record per number to
``--results`` (default ``benchmarks/results/gao_grid.json``) and a Markdown
table beside it. Arguments after ``--`` are overrides for every pretraining
run (e.g. ``-- data.batch_size=32``); ``--eval-overrides`` go to every
evaluation (e.g. ``train.epochs=5``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ssl_grid import Grid, Step, common_arguments, split_overrides, write

ROOT = Path(__file__).resolve().parent
ALL = ["method.augment=simclr_view_distance"]
ROWS: dict[str, tuple[str, list[str]]] = {
    "all": ("α, β, γ, d random", ALL),
    "ab": ("(α, β) random, γ fixed", ["method.augment=simclr_view_ab"]),
    "ag": ("(α, γ) random, β fixed", ["method.augment=simclr_view_ag"]),
    "bg": ("(β, γ) random, α fixed", ["method.augment=simclr_view_bg"]),
    "distance": ("distance only, view fixed", ["method.augment=simclr_distance"]),
    "stgcn_w0.125": ("ST-GCN, 1/8 width (all random)", ALL + ["method.encoder={name: stgcn, width: 0.125}"]),
    "stgcn_w0.5": ("ST-GCN, 1/2 width (all random)", ALL + ["method.encoder={name: stgcn, width: 0.5}"]),
    "stgcn_w1": ("ST-GCN, full width (all random)", ALL + ["method.encoder={name: stgcn}"]),
    "resnet10_w16": ("ResNet-10, width 16 (all random)", ALL + ["method.encoder={name: resnet, depth: 10, width: 16}"]),
    "resnet10_w32": ("ResNet-10, width 32 (all random)", ALL + ["method.encoder={name: resnet, depth: 10, width: 32}"]),
    "resnet18_w16": ("ResNet-18, width 16 (all random)", ALL + ["method.encoder={name: resnet, depth: 18, width: 16}"]),
    "resnet18_w32": ("ResNet-18, width 32 (all random)", ALL + ["method.encoder={name: resnet, depth: 18, width: 32}"]),
}
# The standardised probe: an affine-free BatchNorm on the features and lr 0.1 (see benchmarks/nucla_ssl.sh).
PROBES: dict[str, tuple[str, list[str]]] = {
    "knn": ("knn", []),
    "linear": ("linear", []),
    "linear_std": ("linear", ["protocol.feature_norm=batchnorm", "train.optimizer.lr=0.1"]),
}


def steps(grid: Grid, row: str, run: Path, args: argparse.Namespace) -> None:
    for name in args.protocols:
        protocol, probe = PROBES[name]
        for encoder in ("pretrained", "random"):
            out = run / "eval" / (name if encoder == "pretrained" else f"{name}_random")
            cmd = ["evaluate", protocol, "--run", str(run), "--out", str(out), "--quiet",
                   *(["--random-init"] if encoder == "random" else []), *probe, *args.eval_overrides]
            grid.evaluate(Step(row, ROWS[row][0], run, name, encoder, cmd, out, args.epochs, args.seed,
                               {"config": args.config, "grid_overrides": ROWS[row][1]}))


def table(records: list[dict]) -> str:
    protocols = [p for p in PROBES if any(r["protocol"] == p for r in records)]
    head = "| row | " + " | ".join(f"{p} pretrained | {p} random | Δ" for p in protocols) + " |"
    lines = [head, "|---|" + "---|---|---|" * len(protocols)]
    for row, (label, _) in ROWS.items():
        cells = []
        for p in protocols:
            got = {r["encoder"]: r["top1"] for r in records if r["variant"] == row and r["protocol"] == p}
            pre, rnd = got.get("pretrained"), got.get("random")
            delta = f"{pre - rnd:+.1f}" if pre is not None and rnd is not None else ""
            cells += [f"{pre:.1f}" if pre is not None else "", f"{rnd:.1f}" if rnd is not None else "", delta]
        if any(cells):
            lines.append(f"| {row}: {label} | " + " | ".join(cells) + " |")
    epochs = sorted({r["epochs"] for r in records if r["encoder"] == "pretrained"})
    datasets = sorted({str(r["dataset"]) for r in records})
    return ("\n".join(lines) + f"\n\nTop-1 %, {', '.join(datasets)}; pretraining epochs {epochs}; Δ = pretrained − "
            "random frozen encoder under the same protocol. The workshop paper reports no numbers to compare with.\n")


def main() -> int:
    argv, overrides = split_overrides(sys.argv[1:])
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common_arguments(p, "runs/gao_grid", "simclr_nucla", 100, ROOT / "results" / "gao_grid.json")
    p.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    p.add_argument("--protocols", nargs="+", default=list(PROBES), choices=list(PROBES))
    args = p.parse_args(argv)
    grid = Grid(Path(args.work), args.threads, args.dry_run)
    for row in args.rows:
        run = grid.pretrain(f"{row}_seed{args.seed}", args.config, Path(args.data), args.epochs, args.seed,
                            ROWS[row][1] + overrides)
        if run is not None:
            steps(grid, row, run, args)
    if not args.dry_run:
        records = grid.records()
        write(records, Path(args.results), table(records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
