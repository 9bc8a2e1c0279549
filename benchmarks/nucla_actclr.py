"""N-UCLA cross-view: ActCLR against AimCLR, SkeletonCLR and the random floor, per stream and 3-stream.

    python benchmarks/nucla_actclr.py --data PREPARED_NUCLA [--work runs/nucla_actclr] [--epochs 300] \\
        [--views joint motion bone] [--methods skeletonclr aimclr actclr] [--actclr-stage1 aimclr|scratch] \\
        [--threads N] [--eval-overrides KEY=VALUE ...] [--dry-run] [-- KEY=VALUE ...]

Every method runs on the same schedule (``--epochs``, lr x0.1 at 5/6 of it, the
configs' 250/300): ``skeletonclr_nucla``, ``aimclr_nucla`` (mining from half
way) and ``actclr_nucla`` — by default started from that view's AimCLR run
(``method.stage1=<aimclr run>``, the release's recipe), or with
``--actclr-stage1 scratch`` from random weights with its in-run InfoNCE stage
for the first half. Each encoder is evaluated with KNN, the papers' linear probe
(``linear``: raw features, lr 3.0) and the standardised probe (``linear_std``:
affine-free BatchNorm, lr 0.1); the floor — the same ST-GCN-¼ with random frozen
weights — is always run with the same three probes (once per view: the
architecture is the same for every method). 3-stream ensembles (joint + motion
+ bone, equal weights) of every method and probe follow.

Resumable: a pretraining run that reached ``--epochs`` is skipped, an
interrupted one resumed, a finished evaluation skipped. One record per number
in ``--results`` (default ``benchmarks/results/nucla_actclr.json``: ``dataset,
method, view, protocol, encoder, top1, epochs, seed, command`` ...) and the
Markdown table beside it (``.md``).

Data: prepare N-UCLA once with its default recipe, ``skelssl prepare nucla --raw
../shared/data/nw-ucla --out runs/nucla_prepared`` (``agc_lstm``: the trajectory
is kept; docs/nucla-accuracy.md shows what the older ``crossclr`` recipe cost).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from ssl_grid import Grid, Step, split_overrides, write

ROOT = Path(__file__).resolve().parent
CONFIGS = {"skeletonclr": "skeletonclr_nucla", "aimclr": "aimclr_nucla", "actclr": "actclr_nucla"}
PROBES = {"knn": ["knn"], "linear": ["linear"],
          "linear_std": ["linear", "protocol.feature_norm=batchnorm", "train.optimizer.lr=0.1"]}
# NTU-60 cross-view linear top-1 of the papers (context only: another dataset).
PAPER = {("aimclr", "joint"): 79.7, ("aimclr", "motion"): 70.6, ("aimclr", "bone"): 77.0,
         ("aimclr", "joint+motion+bone"): 83.8, ("actclr", "joint"): 86.7, ("actclr", "motion"): 84.4,
         ("actclr", "bone"): 85.0, ("actclr", "joint+motion+bone"): 88.8}


def schedule(epochs: int) -> list[str]:
    return [f"train.schedule.milestones=[{max(1, round(epochs * 5 / 6))}]"]


def method_overrides(method: str, view: str, epochs: int, stage1: Path | None) -> list[str]:
    out = [f"method.view={view}"]
    if method == "aimclr":
        out.append(f"method.mining_epoch={epochs // 2}")
    if method == "actclr":
        out += [f"method.stage1={stage1}", "method.stage1_epochs=0"] if stage1 else \
            [f"method.stage1_epochs={epochs // 2}"]
    return out


def evaluate(grid: Grid, method: str, view: str, run: Path, encoder: str, args: argparse.Namespace) -> None:
    for probe, spec in PROBES.items():
        name = probe + ("_random" if encoder == "random" else "")
        out = run / "eval" / name
        cmd = ["evaluate", spec[0], "--run", str(run), "--view", view, "--out", str(out), "--quiet",
               *(["--random-init"] if encoder == "random" else []), *spec[1:], *args.eval_overrides]
        variant = {"overrides": args.actclr_overrides, "suffix": args.actclr_suffix} \
            if method == "actclr" and args.actclr_overrides and encoder == "pretrained" else {}
        grid.evaluate(Step(method if encoder == "pretrained" else "random", probe, run, probe, encoder, cmd, out,
                           args.epochs, args.seed, {"actclr_variant": variant} if variant else {}))


def ensembles(grid: Grid, runs: dict[tuple[str, str], Path], args: argparse.Namespace) -> list[dict]:
    records = []
    for method in args.methods:
        sources = [runs.get((method, v)) for v in ("joint", "motion", "bone")]
        if any(s is None for s in sources):
            continue
        # A variant's streams are its own runs, so its ensemble is its own too (not the shipped config's).
        variant = method == "actclr" and bool(args.actclr_overrides)
        tag = f"{method}_{args.actclr_suffix}" if variant else method
        for probe in PROBES:
            out = Path(args.work) / f"ensemble_{tag}_{probe}"
            cmd = ["ensemble", *map(str, sources), "--weights", "1", "1", "1", "--protocol", probe, "--out", str(out)]
            if not (out / "results.json").exists() and all((s / "eval" / probe / "results.json").exists()
                                                         for s in sources):
                grid.skelssl(cmd, out.parent / f"{out.name}.log")
            if (out / "results.json").exists():
                r = json.loads((out / "results.json").read_text())
                records.append({"dataset": r["dataset"], "method": method, "variant": method,
                                "view": "joint+motion+bone", "protocol": probe, "encoder": "pretrained",
                                "top1": round(r["top1"], 2), "top5": round(r["top5"], 2), "epochs": args.epochs,
                                "seed": args.seed, "command": "skelssl " + shlex.join(cmd),
                                **({"actclr_variant": {"overrides": args.actclr_overrides,
                                                       "suffix": args.actclr_suffix}} if variant else {})})
    return records


def table(records: list[dict], methods: list[str]) -> str:
    views = ["joint", "motion", "bone", "joint+motion+bone"]
    rows = ["random"] + methods
    out = ["| method | stream | " + " | ".join(PROBES) + " | paper (NTU-60 xview, linear) |",
           "|---|---|" + "---|" * (len(PROBES) + 1)]
    for row in rows:
        for view in views:
            cells = []
            for probe in PROBES:
                got = [r["top1"] for r in records
                       if r["variant"] == row and r["view"] == view and r["protocol"] == probe]
                cells.append(f"{got[0]:.1f}" if got else "")
            if any(cells):
                variant = next((r["actclr_variant"]["suffix"] for r in records
                                if r["variant"] == row and r.get("actclr_variant")), None)
                label = "random frozen ST-GCN-¼ (floor)" if row == "random" else row
                label += f" ({variant})" if variant else ""
                out.append(f"| {label} | {view} | " + " | ".join(cells) + f" | {PAPER.get((row, view), '')} |")
    epochs = sorted({r["epochs"] for r in records if r["encoder"] == "pretrained"})
    return "\n".join(out) + (f"\n\nTop-1 %, N-UCLA cross-view; pretraining epochs {epochs}. The paper column is "
                             "NTU-60 (another dataset): context, not a target.\n")


def main() -> int:
    argv, overrides = split_overrides(sys.argv[1:])
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="prepared N-UCLA (cross-view protocol)")
    p.add_argument("--work", default="runs/nucla_actclr")
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--views", nargs="+", default=["joint", "motion", "bone"], choices=["joint", "motion", "bone"])
    p.add_argument("--methods", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    p.add_argument("--actclr-stage1", choices=["aimclr", "scratch"], default="aimclr",
                   help="ActCLR starts from the view's AimCLR run (the release) or from random weights")
    p.add_argument("--actclr-overrides", nargs="*", default=[], metavar="KEY=VALUE",
                   help="for the ActCLR runs only: a variant, run as <actclr run>_<--actclr-suffix>")
    p.add_argument("--actclr-suffix", default="variant", help="run-name suffix of an --actclr-overrides variant")
    p.add_argument("--threads", type=int, help="CPU threads per command")
    p.add_argument("--eval-overrides", nargs="*", default=[], metavar="KEY=VALUE")
    p.add_argument("--results", default=str(ROOT / "results" / "nucla_actclr.json"))
    p.add_argument("--dry-run", action="store_true")
    args = p.parse_args(argv)
    if args.actclr_overrides and args.results == p.get_default("results"):
        p.error("an --actclr-overrides variant writes its own --results file (the default holds the shipped config's)")
    if "actclr" in args.methods and args.actclr_stage1 == "aimclr" and "aimclr" not in args.methods:
        p.error("ActCLR's stage 1 is the AimCLR run: keep aimclr in --methods or use --actclr-stage1 scratch")
    grid = Grid(Path(args.work), args.threads, args.dry_run)
    runs: dict[tuple[str, str], Path] = {}
    order = sorted(args.methods, key=["skeletonclr", "aimclr", "actclr"].index)  # AimCLR before ActCLR
    for view in args.views:
        floor_done = False
        for method in order:
            stage1 = runs.get(("aimclr", view)) if method == "actclr" and args.actclr_stage1 == "aimclr" else None
            if method == "actclr" and args.actclr_stage1 == "aimclr" and stage1 is None:
                continue  # its AimCLR run failed
            name = f"{method}_{view}" + ("_scratch" if method == "actclr" and stage1 is None else "")
            extra = []
            if method == "actclr" and args.actclr_overrides:  # a variant: its own run next to the shared stage 1
                name += f"_{args.actclr_suffix}"
                extra = args.actclr_overrides
            run = grid.pretrain(name, CONFIGS[method], Path(args.data), args.epochs, args.seed,
                                schedule(args.epochs) + method_overrides(method, view, args.epochs, stage1) + overrides
                                + extra)
            if run is None:
                continue
            runs[(method, view)] = run
            evaluate(grid, method, view, run, "pretrained", args)
            if not floor_done:
                evaluate(grid, method, view, run, "random", args)
                floor_done = True
    if args.dry_run:
        return 0
    records = grid.records() + ensembles(grid, runs, args)
    write(records, Path(args.results), table(records, order))
    return 0


if __name__ == "__main__":
    sys.exit(main())
