"""ActCLR's ablation rows (Tables 7, 8 and 9 of Lin et al., CVPR 2023) on N-UCLA, with one command.

    python benchmarks/actclr_ablation.py --data PREPARED_NUCLA [--work runs/actclr_ablation] \\
        [--tables 8 9] [--epochs 300] [--view joint] [--stage1 aimclr|scratch] [--threads N] \\
        [--eval-overrides KEY=VALUE ...] [--dry-run] [-- KEY=VALUE ...]

Each row pretrains its preset (``actclr_nucla_<row>.yaml``; ``full`` is
``actclr_nucla``) on the same schedule, every row from the same stage 1: one
AimCLR run of the view (``--stage1 aimclr``, the release's way; pretrained once
and shared) or random weights with the in-run InfoNCE stage (``scratch``). Every
row is evaluated with KNN and the papers' linear probe, and the baseline — the
same encoder with random frozen weights — is always run with both.

* Table 8: ``t8_wo_t`` (no MATS transformations), ``t8_wo_adain_tnon``,
  ``t8_wo_tnon``, ``full``;
* Table 9: ``t9_no_safp``, ``full`` (offline SAFP), ``t9_online_safp``, ``t9_both_safp``;
* Table 7: noise 0.01 / 0.05 / 0.1 and Skeleton Mix on the non-actionlet region
  (``t7_noise001_non``, ``full``, ``t7_noise01_non``, ``full``) against the full area
  (``t7_noise001_full``, ``t7_noise005_full``, ``t7_noise01_full``, ``t7_mix_full``).

Resumable; one record per number in ``--results`` (default
``benchmarks/results/actclr_ablation.json``) and the Markdown tables beside it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ssl_grid import Grid, Step, split_overrides, write

ROOT = Path(__file__).resolve().parent
ROWS = {
    "full": "full version (actclr_nucla)",
    "t8_wo_t": "w/o T", "t8_wo_adain_tnon": "w/o (AdaIN + T_non)", "t8_wo_tnon": "w/o T_non",
    "t9_no_safp": "w/o SAFP", "t9_online_safp": "online w/ SAFP", "t9_both_safp": "online + offline w/ SAFP",
    "t7_noise001_non": "noise 0.01, non-actionlet", "t7_noise001_full": "noise 0.01, full area",
    "t7_noise005_full": "noise 0.05, full area", "t7_noise01_non": "noise 0.1, non-actionlet",
    "t7_noise01_full": "noise 0.1, full area", "t7_mix_full": "Skeleton Mix, full area",
}
TABLES = {"8": ["t8_wo_t", "t8_wo_adain_tnon", "t8_wo_tnon", "full"],
          "9": ["t9_no_safp", "full", "t9_online_safp", "t9_both_safp"],
          "7": ["t7_noise001_non", "t7_noise001_full", "full", "t7_noise005_full", "t7_noise01_non",
                "t7_noise01_full", "t7_mix_full"]}
# The paper's NTU-60 xview joint-stream KNN / linear (context only: another dataset).
PAPER = {"t8_wo_t": "67.50 / 79.98", "t8_wo_adain_tnon": "69.75 / 81.80", "t8_wo_tnon": "73.63 / 83.27",
         "full": "78.04 / 86.79", "t9_no_safp": "76.38 / 85.69", "t9_online_safp": "76.02 / 85.25",
         "t9_both_safp": "76.71 / 85.92", "t7_noise001_non": "77.63 / 86.46", "t7_noise001_full": "76.51 / 85.91",
         "t7_noise005_full": "75.28 / 84.20", "t7_noise01_non": "77.31 / 86.12", "t7_noise01_full": "74.19 / 83.69",
         "t7_mix_full": "73.24 / 83.05"}
PROTOCOLS = ("knn", "linear")


def config_of(row: str) -> str:
    return "actclr_nucla" if row == "full" else f"actclr_nucla_{row}"


def table(records: list[dict], tables: list[str]) -> str:
    out = []
    for t in tables:
        out += [f"Table {t}", "", "| row | KNN | linear | paper, NTU-60 xview joint (KNN / linear) |",
                "|---|---|---|---|"]
        for row in ["random"] + TABLES[t]:
            cells = []
            for p in PROTOCOLS:
                got = [r["top1"] for r in records if r["variant"] == row and r["protocol"] == p]
                cells.append(f"{got[0]:.1f}" if got else "")
            label = "random frozen encoder (baseline)" if row == "random" else ROWS[row]
            out.append(f"| {label} | " + " | ".join(cells) + f" | {PAPER.get(row, '')} |")
        out.append("")
    epochs = sorted({r["epochs"] for r in records if r["encoder"] == "pretrained"})
    return "\n".join(out) + f"\nTop-1 %, N-UCLA cross-view; pretraining epochs {epochs}.\n"


def main() -> int:
    argv, overrides = split_overrides(sys.argv[1:])
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="prepared N-UCLA (cross-view protocol)")
    p.add_argument("--work", default="runs/actclr_ablation")
    p.add_argument("--tables", nargs="+", default=["8", "9"], choices=list(TABLES))
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--view", default="joint", choices=["joint", "motion", "bone"])
    p.add_argument("--stage1", choices=["aimclr", "scratch"], default="aimclr")
    p.add_argument("--threads", type=int)
    p.add_argument("--eval-overrides", nargs="*", default=[], metavar="KEY=VALUE")
    p.add_argument("--results", default=str(ROOT / "results" / "actclr_ablation.json"))
    p.add_argument("--dry-run", action="store_true")
    args = p.parse_args(argv)
    grid = Grid(Path(args.work), args.threads, args.dry_run)
    milestones = [f"train.schedule.milestones=[{max(1, round(args.epochs * 5 / 6))}]"]
    common = milestones + [f"method.view={args.view}"]
    if args.stage1 == "aimclr":
        stage1 = grid.pretrain(f"aimclr_{args.view}", "aimclr_nucla", Path(args.data), args.epochs, args.seed,
                               common + [f"method.mining_epoch={args.epochs // 2}"] + overrides)
        if stage1 is None:
            return 1
        start = [f"method.stage1={stage1}", "method.stage1_epochs=0"]
    else:
        start = [f"method.stage1_epochs={args.epochs // 2}"]
    rows = list(dict.fromkeys(r for t in args.tables for r in TABLES[t]))
    rows.sort(key=lambda r: r != "full")
    baseline_done = False
    for row in rows:
        run = grid.pretrain(f"{row}_{args.view}", config_of(row), Path(args.data), args.epochs, args.seed,
                            common + start + overrides)
        if run is None:
            continue
        for encoder in ("pretrained", "random") if not baseline_done else ("pretrained",):
            for protocol in PROTOCOLS:
                name = protocol + ("_random" if encoder == "random" else "")
                out = run / "eval" / name
                cmd = ["evaluate", protocol, "--run", str(run), "--out", str(out), "--quiet",
                       *(["--random-init"] if encoder == "random" else []), *args.eval_overrides]
                grid.evaluate(Step(row if encoder == "pretrained" else "random", ROWS[row], run, protocol, encoder,
                                   cmd, out, args.epochs, args.seed, {"config": config_of(row), "stage1": args.stage1}))
        baseline_done = True
    if not args.dry_run:
        records = grid.records()
        write(records, Path(args.results), table(records, args.tables))
    return 0


if __name__ == "__main__":
    sys.exit(main())
