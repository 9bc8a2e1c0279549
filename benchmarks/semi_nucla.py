"""ASSL and the semi-supervised baselines on N-UCLA (cross-view): the paper's Table 1 grid and ablation rows.

    python benchmarks/semi_nucla.py --work runs/semi_nucla --labels 15 --seeds 0 1 2 \
        --rows supervised s4l vat_entmin assl sup_inp_adv sup_nei sup_nei_adv sup_inp_nei --jobs 2

Every run is one ``skelssl semi`` command (printed and stored with its
result). The grid is resumable: a finished run (``results.json``) is skipped,
an interrupted one continues from its last checkpoint. Runs go ``--jobs`` at a
time, each on one CPU thread (recurrent layers at small batch run far slower
when processes fight over threads). Writes one record per run to
``benchmarks/results/semi_nucla.json`` and the Markdown table, with the
paper's numbers beside ours, to ``benchmarks/results/semi_nucla.md``.
Extra arguments after ``--`` are config overrides given to every run
(e.g. ``-- method.encoder.hidden_size=128``).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# Row name -> (shipped config, overrides, label in the table).
ROWS: dict[str, tuple[str, list[str], str]] = {
    "supervised": ("supervised", [], "Supervised-only"),
    "pseudo_label": ("pseudo_label", [], "Pseudo-labels"),
    "vat": ("vat", [], "VAT"),
    "vat_entmin": ("vat_entmin", [], "VAT + EntMin"),
    "s4l": ("s4l", [], "S4L (inpainting) = Sup.+Inp."),
    "sup_inp_adv": ("assl", ["method.neighbourhood=false"], "Sup.+Inp.+Adv."),
    "sup_nei": ("assl", ["method.inpaint=false", "method.adversarial=false"], "Sup.+Nei."),
    "sup_nei_adv": ("assl", ["method.inpaint=false"], "Sup.+Nei.+Adv."),
    "sup_inp_nei": ("assl", ["method.adversarial=false"], "Sup.+Inp.+Nei."),
    "assl": ("assl", [], "ASSL"),
}
# Si et al., ECCV 2020, Table 1 and Table 3 (N-UCLA, cross-view, top-1 %), by labels per class.
PAPER: dict[str, dict[int, float]] = {
    "supervised": {5: 34.1, 15: 37.9, 30: 48.9, 40: 58.8},
    "pseudo_label": {5: 35.6, 15: 48.9, 30: 60.6, 40: 65.7},
    "vat": {5: 44.8, 15: 63.8, 30: 73.7, 40: 73.9},
    "vat_entmin": {5: 46.8, 15: 66.2, 30: 75.4, 40: 75.6},
    "s4l": {5: 35.3, 15: 46.6, 30: 54.5, 40: 60.6},
    "sup_inp_adv": {15: 52.4},
    "sup_nei": {15: 60.0},
    "sup_nei_adv": {15: 68.5},
    "sup_inp_nei": {15: 66.4},
    "assl": {5: 52.6, 15: 74.8, 30: 78.0, 40: 78.4},
}
# Rough relative cost per epoch, to start the longest runs first.
COST = {"assl": 4, "sup_inp_adv": 3, "sup_inp_nei": 4, "s4l": 3, "vat_entmin": 3, "vat": 3, "sup_nei": 2,
        "sup_nei_adv": 2, "pseudo_label": 2, "supervised": 1}


def schedule_override(epochs: int) -> str:
    """The paper's halvings (epochs 30, 60, 90 of 120) at the same fractions of a shorter run."""
    marks = [round(epochs * f / 120, 2) for f in (30, 60, 90)]
    return "train.schedule.milestones=[" + ",".join(f"{m:g}" for m in marks) + "]"


def command(args: argparse.Namespace, row: str, labels: int, seed: int) -> tuple[list[str], Path]:
    config, overrides, _ = ROWS[row]
    run_dir = Path(args.work) / f"{row}_{labels}pc_seed{seed}"
    cmd = ["skelssl", "semi", config, "--data", str(args.data), "--labels-per-class", str(labels),
           "--seed", str(seed), "--run-dir", str(run_dir), "--quiet", f"train.epochs={args.epochs}",
           *([schedule_override(args.epochs)] if args.scale_schedule else []), *overrides, *args.overrides]
    if (run_dir / "checkpoints").is_dir() and any((run_dir / "checkpoints").glob("last*")):
        cmd.insert(3, "--resume")
    return cmd, run_dir


def run_one(args: argparse.Namespace, row: str, labels: int, seed: int) -> None:
    cmd, run_dir = command(args, row, labels, seed)
    if (run_dir / "results.json").exists():
        return
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    run_dir.mkdir(parents=True, exist_ok=True)
    start = time.time()
    print("+", shlex.join(cmd), flush=True)
    with open(run_dir / "stdout.log", "a") as log:
        proc = subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode:
        print(f"! {row} {labels}pc seed {seed} failed ({proc.returncode}); see {run_dir / 'stdout.log'}", flush=True)
        return
    (run_dir / "wall_seconds.txt").write_text(f"{time.time() - start:.1f}\n")
    print(f"= {row} {labels}pc seed {seed} done in {time.time() - start:.0f} s", flush=True)


def _epoch_records(run_dir: Path) -> list[dict]:
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return []
    return [r for r in map(json.loads, path.read_text().splitlines()) if r.get("kind") == "epoch"]


def replace_runs(earlier: list[dict], records: list[dict], variant: str | None = None) -> list[dict]:
    """``earlier`` (of ``variant`` only, when given) less the runs ``records`` re-ran, then ``records``.

    A run is its method, labels per class and seed; every other record stays (other seeds, label counts,
    work directories, variants).
    """
    def run(r: dict) -> tuple:
        return r.get("method"), r.get("labels_per_class"), r.get("seed")

    ran = {run(r) for r in records}
    return [r for r in earlier if (variant is not None and r.get("variant") != variant) or run(r) not in ran] + records


def collect(work: Path, rows: list[str] | None = None, labels_per_class: list[int] | None = None,
            seeds: list[int] | None = None) -> list[dict]:
    """Records of the finished runs in ``work``; ``rows``, ``labels_per_class``, ``seeds`` keep only those
    (None: all). A work directory can hold runs of an earlier protocol, which a merge must not pick up."""
    records = []
    for path in sorted(work.glob("*_*pc_seed*/results.json")):
        row, labels, seed = path.parent.name.rsplit("_", 2)  # <row>_<N>pc_seed<S>
        n = int(labels[:-2])
        if ((rows is not None and row not in rows) or (seeds is not None and int(seed[4:]) not in seeds)
                or (labels_per_class is not None and n not in labels_per_class)):
            continue
        r = json.loads(path.read_text())
        wall = path.parent / "wall_seconds.txt"
        checkpoint = path.parent / "checkpoints" / "last.json"
        epochs = _epoch_records(path.parent)
        cfg = r["config"]
        records.append({
            "method": row, "config": cfg["method"]["name"], "dataset": r["dataset"], "view": "joint",
            "protocol": "semi", "encoder": "scratch", "label": ROWS[row][2], "paper": PAPER[row].get(n),
            "labels_per_class": n, "seed": r["seed"], "top1": round(r["top1"], 2),
            "top5": round(r["top5"], 2), "epochs": r["epochs"],
            "backbone": cfg["method"]["encoder"], "recipe": (r.get("extra") or {}).get("recipe"),
            "nei_quality": next((e["nei_quality"] for e in reversed(epochs) if "nei_quality" in e), None),
            # [epoch, test top-1] logged by semi.monitor_every: a diagnostic; "top1" is the final epoch's.
            "test_curve": [[e["epoch"] + 1, round(e["test/top1"], 2)] for e in epochs if "test/top1" in e],
            "wall_seconds": float(wall.read_text()) if wall.exists() else None,
            # The code the run trained with (ends in -dirty for uncommitted changes since that field existed).
            "git_commit": json.loads(checkpoint.read_text()).get("git_commit") if checkpoint.exists() else None,
            "command": r["command"], "results": str(path),
        })
    return records


def table(records: list[dict]) -> str:
    labels = sorted({r["labels_per_class"] for r in records})
    head = "| method | " + " | ".join(f"{n}/class ours | {n}/class paper" for n in labels) + " |"
    rows = [head, "|---|" + "---|---|" * len(labels)]
    for row in ROWS:
        cells = []
        for n in labels:
            accs = [r["top1"] for r in records if r["method"] == row and r["labels_per_class"] == n]
            if not accs:
                cells += ["", f"{PAPER[row].get(n, '')}"]
                continue
            sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
            cells += [f"{statistics.mean(accs):.1f} ± {sd:.1f} (n={len(accs)})", f"{PAPER[row].get(n, '')}"]
        if any(cells[0::2]):
            rows.append(f"| {ROWS[row][2]} | " + " | ".join(cells) + " |")
    epochs = sorted({r["epochs"] for r in records})
    text = "\n".join(rows) + f"\n\nEpochs per run: {', '.join(map(str, epochs))}; mean ± sample std over seeds.\n"
    return text + paired(records)


def paired(records: list[dict], reference: str = "assl") -> str:
    """ASSL minus each other row on the seeds both ran (same labeled draw, same initialisation)."""
    lines = []
    for n in sorted({r["labels_per_class"] for r in records}):
        ours = {r["seed"]: r["top1"] for r in records if r["method"] == reference and r["labels_per_class"] == n}
        for row in ROWS:
            other = {r["seed"]: r["top1"] for r in records if r["method"] == row and r["labels_per_class"] == n}
            seeds = sorted(set(ours) & set(other))
            if row == reference or not seeds:
                continue
            diffs = [ours[s] - other[s] for s in seeds]
            wins = sum(d > 0 for d in diffs)
            lines.append(f"| {n} | {ROWS[row][2]} | {statistics.mean(diffs):+.1f} | "
                         + " / ".join(f"{d:+.1f}" for d in diffs) + f" | {wins}/{len(seeds)} |")
    if not lines:
        return ""
    head = ["", f"Paired by seed, {ROWS[reference][2]} minus each row (points of top-1):", "",
            "| labels/class | row | mean difference | per seed | seeds won |", "|---|---|---|---|---|"]
    return "\n".join(head + lines) + "\n"


def main() -> int:
    argv = sys.argv[1:]
    overrides = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", default="runs/semi_nucla")
    p.add_argument("--data", help="prepared N-UCLA (default: <work>/prepared, prepared on first use)")
    p.add_argument("--raw", default=os.environ.get("NUCLA_RAW", str(ROOT.parent.parent / "shared/data/nw-ucla")))
    # Without --collect-only these default to 15 labels per class, seeds 0 1 2 and every row; with it,
    # they choose the runs collected (default: every run in --work).
    p.add_argument("--labels", type=int, nargs="+")
    p.add_argument("--seeds", type=int, nargs="+")
    p.add_argument("--rows", nargs="+", choices=list(ROWS))
    p.add_argument("--epochs", type=int, default=120)
    p.add_argument("--scale-schedule", action="store_true",
                   help="halve the rate at 1/4, 1/2 and 3/4 of --epochs, as the paper does at 30/60/90 of 120")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--threads", type=int, default=1, help="CPU threads per run")
    p.add_argument("--collect-only", action="store_true")
    p.add_argument("--out", default=str(ROOT / "results" / "semi_nucla"))
    p.add_argument("--merge", action="store_true",
                   help="add this work directory's records to --out's (a re-run seed replaces its old record) "
                        "instead of rewriting --out with them alone")
    p.add_argument("--variant", help="tag the records with this name and the overrides, and merge them into --out "
                                     "(replacing that variant's earlier records of the same runs: method, labels "
                                     "per class, seed) instead of rewriting it, e.g. "
                                     "--variant 'K = 5' --out benchmarks/results/semi_nucla_variants")
    args = p.parse_args(argv)
    args.overrides = overrides
    work = Path(args.work)
    if not args.collect_only:
        args.labels, args.seeds = args.labels or [15], args.seeds or [0, 1, 2]
        args.rows = args.rows or list(ROWS)
        args.data = Path(args.data or work / "prepared")
        if not (args.data / "info.json").exists():
            # N-UCLA's default recipe (agc_lstm), which the semi/<method>_nucla configs expect.
            subprocess.run(["skelssl", "prepare", "nucla", "--raw", args.raw, "--out", str(args.data), "--no-progress"],
                           check=True)
        # Seed by seed, so that a grid cut short still has whole seeds; the longest runs first within one.
        tasks = [(row, n, s) for s in args.seeds for n in args.labels for row in args.rows]
        tasks.sort(key=lambda t: (args.seeds.index(t[2]), -COST[t[0]]))
        with ThreadPoolExecutor(args.jobs) as pool:
            list(pool.map(lambda t: run_one(args, *t), tasks))
    records = collect(work, args.rows, args.labels, args.seeds)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.variant:
        missing = sorted({o for r in records for o in overrides if o not in shlex.split(r["command"])})
        if missing or not overrides:
            raise SystemExit(f"--variant {args.variant!r}: give the overrides its runs used after '--' "
                             f"({'none given' if not overrides else f'not in their commands: {missing}'})")
        records = [dict(r, variant=args.variant, overrides=overrides) for r in records]
        path = out.with_suffix(".json")
        # Only the runs collected now replace the variant's records: its other seeds and label counts
        # (e.g. a 5-labels-per-class column collected from another work directory) stay.
        earlier = json.loads(path.read_text()) if path.exists() else []
        path.write_text(json.dumps(replace_runs(earlier, records, args.variant), indent=1) + "\n")
        print(table(records))
        return 0
    if args.merge and out.with_suffix(".json").exists():
        # Rows of one grid run in several work directories (e.g. a later session's
        # baselines): keep --out's records except those this work directory re-ran.
        records = replace_runs(json.loads(out.with_suffix(".json").read_text()), records)
    out.with_suffix(".json").write_text(json.dumps(records, indent=1) + "\n")
    md = table(records)
    out.with_suffix(".md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
