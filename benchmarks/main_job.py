"""The main job as a user runs it: `skelssl run` with no arguments, timed, its numbers recorded.

    python benchmarks/main_job.py [--threads 2] [--seeds 0 1 2]
    python benchmarks/main_job.py --existing RUN [RUN ...]   # record finished runs (each has job.json)

Runs ``skelssl run --out <work>/seed<S> --seed S`` (with ``OMP_NUM_THREADS``
set) for each seed and writes one record per number to
``benchmarks/results/main_job.json``: KNN and the standardised linear probe,
each for the pretrained encoder and the random frozen encoder (the floor),
with the wall time of the whole job (data generation, pretraining, four
evaluations, t-SNE and plots) and the thread count, on which the numbers
depend (floating-point sums in another order).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "main_job.json"
LABELS = {"knn": "KNN (k = 20, τ = 0.1)", "linear": "linear (50 epochs on standardised features, lr 0.1)"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("runs/main_job"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--existing", type=Path, nargs="*", help="finished main-job run directories to record")
    args = ap.parse_args()
    if args.existing:
        records = [r for run in args.existing for r in collect(run)]
    else:
        records = []
        for seed in args.seeds:
            out = args.work / f"seed{seed}"
            if out.exists():
                shutil.rmtree(out)  # a fresh run each time: the wall time includes generating the data
            data = args.work / "data"
            if data.exists():
                shutil.rmtree(data)
            cmd = ["skelssl", "run", "--out", str(out), "--seed", str(seed)]
            env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "skelssl", *cmd[1:]], check=True, env=env)
            wall = time.perf_counter() - start
            job = {"seed": seed, "threads": args.threads, "wall_seconds": round(wall, 1),
                   "command": f"OMP_NUM_THREADS={args.threads} " + shlex.join(cmd), "machine_load": "as found"}
            (out / "job.json").write_text(json.dumps(job, indent=1) + "\n")
            records += collect(out)
            print(f"[main job] seed {seed}: {wall:.0f} s", flush=True)
    RESULTS.write_text(json.dumps(records, indent=1) + "\n")


def collect(out: Path) -> list[dict]:
    """One record per number of a finished ``skelssl run`` directory; ``job.json`` says how it was run."""
    job = json.loads((out / "job.json").read_text())
    epochs = int(yaml.safe_load((out / "config.yaml").read_text())["train"]["epochs"])
    records = []
    for name in ("knn", "knn_random", "linear", "linear_random"):
        r = json.loads((out / "eval" / name / "results.json").read_text())
        protocol = name.removesuffix("_random")
        records.append({
            "dataset": "synthetic", "method": r["method"], "view": r["view"], "protocol": protocol,
            "protocol_label": LABELS[protocol], "encoder": "random" if r["random_init"] else "pretrained",
            "top1": round(float(r["top1"]), 2), "epochs": epochs, "seed": job["seed"], "threads": job["threads"],
            "wall_seconds": job["wall_seconds"], "machine_load": job.get("machine_load"), "note": job.get("note"),
            "cpu": platform.processor() or platform.machine(), "command": job["command"],
        })
    return records


if __name__ == "__main__":
    main()
