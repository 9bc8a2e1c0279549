"""Why supervised ST-GCN on N-UCLA read 53 %: a ladder of one-change-at-a-time experiments.

Each rung is one CLI command (``skelssl supervised`` or, for the first,
the ``evaluate finetune --from-scratch`` command the problem was reported
with) on N-UCLA cross-view (1020 train / 464 test), ST-GCN-1/4, seed 0,
30 epochs with the learning rate x0.1 at epoch 24 unless the rung says
otherwise. Every rung changes one thing against the rung it names as its
parent, so the differences in top-1 are what each change buys.

    python benchmarks/nucla_ladder.py --raw ../shared/data/nw-ucla --work runs/ladder
    python benchmarks/nucla_ladder.py --work runs/ladder --rungs H I     # some rungs only

Resumable: a rung whose ``results.json`` exists is not run again (an
interrupted one continues from its checkpoint). Writes one record per rung
to ``benchmarks/results/nucla_ladder.json`` and the table
``benchmarks/results/nucla_ladder.md`` (copied into docs/nucla-accuracy.md).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

# Prepared datasets the rungs read: name -> `skelssl prepare nucla` options.
DATASETS = {
    "crossclr": ["--recipe", "crossclr", "--recipe-option", "num_bodies=1"],
    "agc_perframe_raw": ["--recipe", "agc_lstm", "--recipe-option", "centre=per_frame", "--recipe-option",
                         "normalize=none"],
    "agc_firstframe_raw": ["--recipe", "agc_lstm"],
    "agc_minmax": ["--recipe", "agc_lstm", "--recipe-option", "normalize=minmax"],
}

LADDER_SCHEDULE = ["train.epochs=30", "train.schedule.milestones=[24]", "train.schedule.warmup_epochs=0"]
# The settings the report started from: the skeletonclr_nucla method's encoder (dropout 0.5 in the
# blocks), the fine-tune protocol's batch 64, plain SGD, no augmentation, 50 resized frames.
REPORTED = ["model.encoder.dropout=0.5", "data.batch_size=64", "train.optimizer.nesterov=false",
            "protocol.augment=null"]
# The N-UCLA configs expect agc_lstm data; the crossclr rungs say they use other data on purpose.
OTHER_RECIPE = ["data.recipe=null"]

# name: (parent, dataset, overrides, what changes)
RUNGS: dict[str, tuple[str | None, str, list[str], str]] = {
    "A": (None, "crossclr", [], "the reported command: `evaluate finetune --from-scratch --method-config "
          "skeletonclr_nucla`, crossclr recipe (per-frame spine-shoulder centring, shoulders aligned, 50 resized "
          "frames), batch 64, encoder dropout 0.5, no augmentation"),
    "B": ("A", "crossclr", OTHER_RECIPE + REPORTED[:1] + REPORTED[2:] + ["data.batch_size=16"], "batch 16 instead of 64 "
          "(4x the optimiser steps), through `skelssl supervised`"),
    "C": ("B", "crossclr", OTHER_RECIPE + REPORTED[2:] + ["model.encoder.dropout=0.0", "data.batch_size=16"],
          "no dropout in the ST-GCN blocks"),
    "D": ("C", "crossclr", OTHER_RECIPE + ["train.optimizer.nesterov=false", "protocol.augment=skeletonclr",
                                          "data.batch_size=16"],
          "+ SkeletonCLR's shear + temporal crop in training"),
    "E": ("C", "agc_perframe_raw", ["train.optimizer.nesterov=false", "protocol.augment=null",
                                    "data.train_clip=uniform"],
          "agc_lstm loader with per-frame spine centring, no normalisation, 52 evenly spaced frames "
          "(no shoulder alignment, frames picked instead of interpolated)"),
    "F": ("E", "agc_firstframe_raw", ["train.optimizer.nesterov=false", "protocol.augment=null",
                                      "data.train_clip=uniform"],
          "centre on the first frame's spine only: the trajectory is kept"),
    "G": ("F", "agc_minmax", ["train.optimizer.nesterov=false", "protocol.augment=null", "data.train_clip=uniform"],
          "+ per-axis min-max normalisation to [-1, 1] (the reference's)"),
    "H": ("F", "agc_firstframe_raw", ["train.optimizer.nesterov=false", "protocol.augment=null"],
          "52 frames drawn at random from the valid ones in training (evenly at test)"),
    "I": ("H", "agc_firstframe_raw", ["train.optimizer.nesterov=false", "protocol.augment=view_rotation"],
          "+ random rotation about x and y (up to 60 degrees) in training"),
    "J": ("I", "agc_firstframe_raw", [], "Nesterov momentum: the stgcn_nucla config as shipped"),
    "M": ("G", "agc_minmax", ["train.optimizer.nesterov=false", "protocol.augment=agc_lstm"],
          "the complete CTR-GCN loader: min-max data, random clips, rotation + scale, then min-max again"),
    "K": ("J", "agc_firstframe_raw", ["model.encoder.name=stgcn"], "full-width ST-GCN instead of 1/4 width"),
    "L": ("J", "agc_firstframe_raw", ["train.epochs=100", "train.schedule.milestones=[80]",
                                      "train.schedule.warmup_epochs=5"],
          "100 epochs, x0.1 at 80, 5 warm-up epochs"),
    "N": ("F", "agc_firstframe_raw", ["protocol.augment=null", "data.train_clip=uniform", "train.epochs=100",
                                      "train.schedule.milestones=[80]", "train.schedule.warmup_epochs=5"],
          "100 epochs, x0.1 at 80, 5 warm-up epochs, Nesterov; no augmentation, even clips (F's data)"),
}


def skelssl(*args: str) -> list[str]:
    return [sys.executable, "-m", "skelssl", *args]


def prepare(raw: Path, work: Path, name: str) -> Path:
    out = work / "data" / name
    if not (out / "info.json").exists():
        cmd = skelssl("prepare", "nucla", "--raw", str(raw), "--out", str(out), "--no-progress", *DATASETS[name])
        subprocess.run(cmd, check=True)
    return out


def rung_command(name: str, data: Path, run_dir: Path) -> list[str]:
    parent, _, overrides, _ = RUNGS[name]
    if parent is None:
        return skelssl("evaluate", "finetune", "--from-scratch", "--method-config", "skeletonclr_nucla", "--data",
                       str(data), "--out", str(run_dir), "--quiet", *LADDER_SCHEDULE)
    return skelssl("supervised", "stgcn_nucla", "--data", str(data), "--run-dir", str(run_dir), "--quiet",
                   *LADDER_SCHEDULE, *overrides)


def run_rung(name: str, raw: Path, work: Path, threads: int) -> dict:
    parent, dataset, _, change = RUNGS[name]
    data = prepare(raw, work, dataset)
    run_dir = work / "runs" / name
    cmd = rung_command(name, data, run_dir)
    if not (run_dir / "results.json").exists():
        resume = ["--resume"] if (run_dir / "checkpoints" / "last.json").exists() else []
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        print(f"[ladder] rung {name}: {change}", flush=True)
        subprocess.run(cmd + resume, check=True, env=env)
    result = json.loads((run_dir / "results.json").read_text())
    epochs = result.get("epochs")
    return {
        "dataset": "nucla", "method": "supervised", "view": "joint", "protocol": "supervised",
        "encoder": "scratch", "backbone": result.get("extra", {}).get("encoder") or "stgcn_quarter",
        "top1": round(float(result["top1"]), 2), "train_accuracy": result.get("train_accuracy"),
        "epochs": epochs, "seed": result.get("seed"), "rung": name, "parent": parent, "change": change,
        "prepared": dataset, "command": shlex.join(["skelssl", *cmd[3:]]),
    }


def write_table(records: list[dict]) -> str:
    by = {r["rung"]: r for r in records}
    lines = ["| rung | change (against its parent) | parent | top-1 % | train acc. % | bought |",
             "|---|---|---|---|---|---|"]
    for r in records:
        parent = by.get(r["parent"])
        bought = f"{r['top1'] - parent['top1']:+.1f}" if parent else ""
        train = f"{r['train_accuracy']:.1f}" if r.get("train_accuracy") is not None else ""
        lines.append(f"| {r['rung']} | {r['change']} | {r['parent'] or ''} | {r['top1']:.1f} | {train} | {bought} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--raw", type=Path, default=HERE.parent.parent / "shared" / "data" / "nw-ucla")
    ap.add_argument("--work", type=Path, required=True, help="prepared data and run directories go here")
    ap.add_argument("--rungs", nargs="*", default=list(RUNGS), choices=list(RUNGS))
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    out_json = RESULTS / "nucla_ladder.json"
    for name in args.rungs:
        record = run_rung(name, args.raw, args.work, args.threads)
        # Read back just before writing: another ladder process may have added rungs meanwhile.
        records = {r["rung"]: r for r in json.loads(out_json.read_text())} if out_json.exists() else {}
        records[name] = record
        ordered = [records[k] for k in RUNGS if k in records]
        RESULTS.mkdir(exist_ok=True)
        out_json.write_text(json.dumps(ordered, indent=1) + "\n")
        (RESULTS / "nucla_ladder.md").write_text(write_table(ordered))
        print(f"[ladder] {name}: top-1 {records[name]['top1']:.2f}", flush=True)


if __name__ == "__main__":
    main()
