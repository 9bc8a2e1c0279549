"""MCC (Su, Lin, Wu, ICCV 2021): the ablation rows of Tables 1-3 and the comparison pretexts of Table 4.

    python benchmarks/mcc_ablation.py --data PREPARED_NUCLA [--work runs/mcc_ablation] \\
        [--tables 1 2 3] [--encoder stgcn] [--epochs 80] [--protocols finetune semi5 semi10] \\
        [--transfer-data OTHER_PREPARED] [-- KEY=VALUE ...]

Rows (each a pretraining run of ``--config``, default ``mcc_nucla``, with the row's switches):

* Table 1, the losses: ``triplet``, ``nce``, ``itep`` alone, ``triplet_nce``, and ``full`` (MCC);
* Table 2, the motion pairs (triplet only): ``jitter`` (S-changed / M-jittered), ``view``
  (S-changed / V-transformed), ``no_positive`` (− / M-shuffled), and ``triplet`` (S-changed / M-shuffled);
* Table 3, continuity (L_Itep only): ``reconstruction`` (rate 1) and ``itep`` (rate 2 interpolation);
* Table 4: ``clip_order``, ``cubic_puzzle``, ``pace_prediction`` on the same backbone.

Evaluation as the paper's: the whole pretrained network fine-tuned (``finetune``,
config ``eval/finetune_<dataset>``), semi-supervised fine-tuning on 5 % / 10 % of
the labels (``semi5``, ``semi10``), and, with ``--transfer-data``, fine-tuning on
another prepared dataset (``transfer``). The baseline of every protocol, the same
network trained from scratch, is always run. Resumable; one record per number in
``--results`` (default ``benchmarks/results/mcc_ablation.json``) and a Markdown
table beside it. Arguments after ``--`` are overrides for every pretraining run;
``--eval-overrides`` go to every evaluation (e.g. ``train.epochs=5``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

from ssl_grid import Grid, Step, common_arguments, split_overrides, write

ROOT = Path(__file__).resolve().parent
TRIPLET = ["method.lambda_nce=0", "method.lambda_interp=0"]
ITEP = ["method.lambda_triplet=0", "method.lambda_nce=0"]
# Row -> (label, config (None: --config), overrides).
ROWS: dict[str, tuple[str, str | None, list[str]]] = {
    "full": ("L_triplet + L_NCE + L_Itep (MCC)", None, []),
    "triplet": ("L_triplet only = S-changed / M-shuffled", None, TRIPLET),
    "nce": ("L_NCE only", None, ["method.lambda_triplet=0", "method.lambda_interp=0"]),
    "itep": ("L_Itep only = rate-2 interpolation", None, ITEP),
    "triplet_nce": ("L_triplet + L_NCE", None, ["method.lambda_interp=0"]),
    "jitter": ("S-changed / M-jittered", None, TRIPLET + ["method.negative=jitter"]),
    "view": ("S-changed / V-transformed", None, TRIPLET + ["method.negative=view"]),
    "no_positive": ("− / M-shuffled", None, TRIPLET + ["method.positive=false"]),
    "reconstruction": ("direct reconstruction", None, ITEP + ["method.interpolation_rate=1"]),
    "clip_order": ("clip-order prediction", "clip_order", []),
    "cubic_puzzle": ("space-time cubic puzzles", "cubic_puzzle", []),
    "pace_prediction": ("pace prediction", "pace_prediction", []),
}
TABLES = {"1": ["triplet", "nce", "itep", "triplet_nce", "full"], "2": ["jitter", "view", "no_positive", "triplet"],
          "3": ["reconstruction", "itep"], "4": ["clip_order", "cubic_puzzle", "pace_prediction", "full"]}
# Su et al., ST-GCN on NTU60 (X-sub / X-view, fine-tuned top-1 %): context only, another dataset.
PAPER = {"scratch": "81.5 / 88.3", "triplet": "82.3 / 89.2", "nce": "81.8 / 88.7", "itep": "82.5 / 89.4",
         "triplet_nce": "82.6 / 89.5", "full": "83.0 / 89.7", "jitter": "81.9 / 88.6", "view": "81.7 / 88.7",
         "no_positive": "81.8 / 88.6", "reconstruction": "82.0 / 88.8", "clip_order": "82.1 / 88.6",
         "cubic_puzzle": "81.8 / 89.0", "pace_prediction": "81.5 / 88.8"}
PROTOCOLS = {"finetune": ["finetune"], "semi5": ["semi", "--fraction", "0.05"],
             "semi10": ["semi", "--fraction", "0.1"], "transfer": ["finetune"]}


def evaluations(grid: Grid, row: str, label: str, run: Path, args: argparse.Namespace, baseline: bool) -> None:
    # The method's row and its baseline also run with each --eval-seeds (other classifier
    # initialisation and batch order; the same pretrained weights) to size the protocol's noise.
    seeds = [None, *args.eval_seeds] if baseline else [None]
    for name, seed in ((n, s) for n in args.protocols for s in seeds):
        suffix = "" if seed is None else f"_seed{seed}"
        for encoder in (("pretrained", "scratch") if baseline else ("pretrained",)):
            if encoder == "scratch":
                out = Path(args.work) / f"scratch_{args.encoder}" / (name + suffix)
            else:
                out = run / "eval" / (name + suffix)
            cmd = ["evaluate", *PROTOCOLS[name], "--run", str(run), "--out", str(out), "--quiet",
                   *(["--data", str(args.transfer_data)] if name == "transfer" else []),
                   *(["--from-scratch"] if encoder == "scratch" else []),
                   *([] if seed is None else ["--seed", str(seed)]), *args.eval_overrides]
            step_row = "scratch" if encoder == "scratch" else row
            step_label = "trained from scratch (baseline)" if encoder == "scratch" else label
            grid.evaluate(Step(step_row, step_label, run, name, encoder, cmd, out, args.epochs, args.seed,
                               {"backbone": args.encoder, "config": ROWS[row][1] or args.config,
                                "grid_overrides": ROWS[row][2]}))


def table(records: list[dict], tables: list[str]) -> str:
    protocols = [p for p in PROTOCOLS if any(r["protocol"] == p for r in records)]
    out = []
    for t in tables:
        rows = ["scratch"] + TABLES[t] if t == "1" else TABLES[t]
        out += [f"Table {t}", "", "| row | " + " | ".join(protocols) + " | paper, NTU60 X-sub / X-view |",
                "|---|" + "---|" * (len(protocols) + 1)]
        for row in rows:
            cells = []
            for p in protocols:
                got = [r["top1"] for r in records if r["variant"] == row and r["protocol"] == p]
                if len(got) > 1:  # evaluation seeds: mean ± sample std (n)
                    cells.append(f"{statistics.mean(got):.1f} ± {statistics.stdev(got):.1f} (n={len(got)})")
                else:
                    cells.append(f"{got[0]:.1f}" if got else "")
            label = "trained from scratch (baseline)" if row == "scratch" else ROWS[row][0]
            out.append(f"| {row}: {label} | " + " | ".join(cells) + f" | {PAPER.get(row, '')} |")
        out.append("")
    epochs = sorted({r["epochs"] for r in records if r["encoder"] == "pretrained"})
    datasets = sorted({str(r["dataset"]) for r in records})
    return "\n".join(out) + (f"\nTop-1 %, {', '.join(datasets)}; pretraining epochs {epochs}. The paper's column is "
                             "its NTU60 numbers for the same row (another dataset): context, not a target.\n")


def scaled_milestones(train: Any, epochs: int) -> str:
    """The config's lr steps (mcc.yaml: ST-GCN's 10 and 50 of 80) at the same fractions of a ``epochs`` run."""
    marks = [round(float(m) * epochs / int(train.epochs), 2) for m in train.schedule.milestones]
    return "train.schedule.milestones=[" + ",".join(f"{m:g}" for m in marks) + "]"


def main() -> int:
    argv, overrides = split_overrides(sys.argv[1:])
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common_arguments(p, "runs/mcc_ablation", "mcc_nucla", 80, ROOT / "results" / "mcc_ablation.json")
    p.add_argument("--tables", nargs="+", default=["1", "2", "3"], choices=list(TABLES))
    p.add_argument("--rows", nargs="+", choices=list(ROWS), help="instead of --tables")
    p.add_argument("--encoder", default="stgcn", help="backbone of every row: stgcn, agcn, asgcn ...")
    p.add_argument("--protocols", nargs="+", default=["finetune"], choices=list(PROTOCOLS))
    p.add_argument("--eval-seeds", nargs="*", type=int, default=[],
                   help="more evaluation seeds for the method's row and its baseline (the table shows mean ± std)")
    p.add_argument("--transfer-data", help="prepared dataset to fine-tune on for the transfer protocol")
    args = p.parse_args(argv)
    if "transfer" in args.protocols and not args.transfer_data:
        p.error("the transfer protocol needs --transfer-data")
    from skelssl.engine.config import load_config

    base = load_config(args.config)
    split = base.data.protocol
    rows = args.rows or list(dict.fromkeys(r for t in args.tables for r in TABLES[t]))
    rows.sort(key=lambda r: r != "full")  # the method itself first: its run also defines the baseline
    grid = Grid(Path(args.work), args.threads, args.dry_run)
    baseline_done = False
    for row in rows:
        label, config, row_overrides = ROWS[row]
        common = [f"method.encoder.name={args.encoder}", scaled_milestones(base.train, args.epochs),
                  f"data.protocol={split}"]
        run = grid.pretrain(f"{row}_{args.encoder}_seed{args.seed}", config or args.config, Path(args.data),
                            args.epochs, args.seed, common + row_overrides + overrides)
        if run is None:
            continue
        evaluations(grid, row, label, run, args, baseline=not baseline_done)
        baseline_done = True
    if not args.dry_run:
        records = grid.records()
        write(records, Path(args.results), table(records, args.tables if not args.rows else list(TABLES)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
