"""How the main job's defaults were chosen: `skelssl run` variants, each against its random-weights floor.

    python benchmarks/main_job_sweep.py [--work runs/main_job_sweep] [--threads 1] [--only NAME ...]
    python benchmarks/main_job_sweep.py --collect-only --work DIR     # record finished variants

Each variant is ``skelssl run --out WORK/NAME --no-tsne --seed S --overwrite`` with the overrides below,
applied over the shipped ``skeletonclr_synthetic.yaml`` *as it was before the sweep* (crossclr recipe,
difficulty 0.5, Gao et al.'s virtual-camera augmentation, 24 epochs); ``BEFORE`` restores that base, so
the sweep reproduces after the defaults changed. One record per number in
``benchmarks/results/main_job_sweep.json`` (KNN and the standardised linear probe, pretrained and floor),
with the variant's name, overrides, wall time and the final contrastive loss.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "main_job_sweep.json"
LABELS = {"knn": "KNN (k = 20, τ = 0.1)", "linear": "linear (50 epochs on standardised features, lr 0.1)"}

# skeletonclr_synthetic.yaml before the sweep (commit e667380).
BEFORE = ["data.recipe=null", "data.reader_options={}", "data.recipe_options={num_bodies: 1, num_frames: 32}",
          "method.augment=simclr_view_distance"]
ROT = ["method.augment=skeletonclr_rotation"]
AGC = ["data.recipe=agc_lstm", "data.recipe_options={num_bodies: 1, num_frames: 120, clip_frames: 32}"]
D08 = ["data.reader_options={difficulty: 0.8}"]
FD64 = ["method.encoder.feature_dim=64"]

# name: (seed, overrides over BEFORE)
VARIANTS: dict[str, tuple[int, list[str]]] = {
    "before": (0, []),
    "t07": (0, ["method.temperature=0.07"]),
    "lr001": (0, ["train.optimizer.lr=0.01"]),
    "rot": (0, ROT),
    "rot_t07": (0, ROT + ["method.temperature=0.07"]),
    "rot_ep36": (0, ROT + ["train.epochs=36", "train.schedule.milestones=[30]"]),
    "rot_fd64": (0, ROT + FD64),
    "fd64_nomile": (0, ROT + FD64 + ["train.schedule.milestones=[]"]),
    "fd64_lr03": (0, ROT + FD64 + ["train.optimizer.lr=0.3"]),
    "fd64_d08": (0, ROT + FD64 + D08),
    "d08_fd32": (0, ROT + D08),
    "d08_s1": (1, ROT + FD64 + D08),
    "d08_nomile_s1": (1, ROT + FD64 + D08 + ["train.schedule.milestones=[]"]),
    "agc_fd32": (0, ROT + AGC),
    "agc_fd32_s1": (1, ROT + AGC),
    "agc_fd32_s2": (2, ROT + AGC),
    "agc_fd64": (0, ROT + AGC + FD64),
    "agc_d08_fd64": (0, ROT + AGC + D08 + FD64),
    "agc_d08_fd32": (0, ROT + AGC + D08),  # = the shipped defaults since the sweep
    "agc_d08_s1": (1, ROT + AGC + D08),
    "agc_d08_s2": (2, ROT + AGC + D08),
}


def command(out: Path, seed: int, overrides: list[str]) -> list[str]:
    return ["skelssl", "run", "--out", str(out), "--no-tsne", "--seed", str(seed), "--overwrite", *BEFORE, *overrides]


def collect(work: Path, name: str) -> list[dict]:
    out = work / name
    seed, overrides = VARIANTS[name]
    epochs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    epochs = [r for r in epochs if r["kind"] == "epoch"]
    job = json.loads((out / "sweep.json").read_text())  # threads and wall time, written by main()
    records = []
    for probe in ("knn", "knn_random", "linear", "linear_random"):
        r = json.loads((out / "eval" / probe / "results.json").read_text())
        protocol = probe.removesuffix("_random")
        records.append({
            "dataset": "synthetic", "method": "skeletonclr", "view": "joint", "protocol": protocol,
            "protocol_label": LABELS[protocol], "encoder": "random" if r["random_init"] else "pretrained",
            "top1": round(float(r["top1"]), 2), "epochs": len(epochs), "seed": seed, "variant": name,
            "overrides": " ".join(overrides), "final_loss": round(float(epochs[-1]["loss"]), 3),
            "threads": job["threads"], "wall_seconds": job["wall_seconds"],
            "machine_load": "shared: one other 1-thread training job on the 2 cores",
            # What ran (the sweep first ran over the pre-sweep config itself, without BEFORE); `reproduce`
            # gives the same resolved config over today's defaults.
            "command": f"OMP_NUM_THREADS={job['threads']} " + r.get("command", ""),
            "reproduce": shlex.join(command(out, seed, overrides)),
        })
    return records


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("runs/main_job_sweep"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--only", nargs="+", choices=sorted(VARIANTS))
    ap.add_argument("--collect-only", action="store_true", help="record the finished variants in --work")
    args = ap.parse_args()
    names = args.only or list(VARIANTS)
    records = []
    for name in names:
        out = args.work / name
        if not args.collect_only:
            seed, overrides = VARIANTS[name]
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "skelssl", *command(out, seed, overrides)[1:]], check=True,
                           env={**os.environ, "OMP_NUM_THREADS": str(args.threads)})
            job = {"threads": args.threads, "wall_seconds": round(time.perf_counter() - start, 1)}
            (out / "sweep.json").write_text(json.dumps(job) + "\n")
        if (out / "eval" / "linear_random" / "results.json").exists():
            records += collect(args.work, name)
            pre = {r["protocol"]: r["top1"] for r in records[-4:] if r["encoder"] == "pretrained"}
            floor = {r["protocol"]: r["top1"] for r in records[-4:] if r["encoder"] == "random"}
            print(f"{name:14s} knn {pre['knn']:.1f} vs {floor['knn']:.1f}  linear {pre['linear']:.1f} vs "
                  f"{floor['linear']:.1f}", flush=True)
    RESULTS.write_text(json.dumps(records, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
