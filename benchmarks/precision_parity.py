"""Parity of the fast paths on the built-in two-person synthetic data: SkeletonCLR pretraining, then KNN.

    python benchmarks/precision_parity.py [--out DIR]   # writes results/parity_synthetic.json

Three settings of a short SkeletonCLR run on the built-in synthetic data (15 % two-person
samples; the settings are spelled out in ``BASE`` so that a change to the shipped
``skeletonclr_synthetic`` preset does not change this check), each with seeds 0 and 1:
``reference`` (every body slot encoded, fp32: ``method.encoder.person_sparse=false``),
``person_sparse`` (the default) and ``bf16`` (person-sparse with
``train.amp=true``: bf16 autocast on CPU). Each records its per-step loss
curve and the KNN accuracy of its encoder. bf16 is skipped on a CPU without
bf16 kernels. The spread between the two seeds of one setting is the noise to
judge the settings' differences by.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"
# ST-GCN at 1/8 width with a 64-d last block, 256 negatives, 3 epochs of batch 64 on the cross-subject split.
BASE = ["data.dataset=synthetic", "data.protocol=xsub", "data.part=train", "data.batch_size=64",
        "method.encoder={name: stgcn, width: 0.125, feature_dim: 64, dropout: 0.0}", "method.queue_size=256",
        "method.momentum=0.99", "train.epochs=3", "train.schedule.milestones=[2]", "train.log_every=5"]
SETTINGS = {
    "reference": ["method.encoder.person_sparse=false"],
    "person_sparse": [],
    "bf16": ["train.amp=true"],
}


def has_bf16() -> bool:
    flags = set(Path("/proc/cpuinfo").read_text().split()) if Path("/proc/cpuinfo").exists() else set()
    return torch.ops.mkldnn._is_mkldnn_bf16_supported() and bool(flags & {"amx_bf16", "avx512_bf16"})


SEEDS = (0, 1)


def command(name: str, seed: int) -> str:
    quoted = [f"'{o}'" if " " in o or "[" in o else o for o in BASE + SETTINGS[name]]
    return " ".join(["skelssl pretrain skeletonclr --seed", str(seed), *quoted, "&& skelssl evaluate knn --run <run>"])


def run(name: str, root: Path, seed: int) -> dict:
    run_dir = root / f"{name}_seed{seed}"
    skelssl = [sys.executable, "-m", "skelssl"]
    subprocess.run(skelssl + ["pretrain", "skeletonclr", "--run-dir", str(run_dir), "--quiet",
                              "--overwrite", "--seed", str(seed), *BASE, *SETTINGS[name]], check=True,
                   capture_output=True, text=True)
    subprocess.run(skelssl + ["evaluate", "knn", "--run", str(run_dir), "--quiet", "--overwrite"], check=True,
                   capture_output=True, text=True)
    return collect(run_dir, name, seed)


def collect(run_dir: Path, name: str, seed: int) -> dict:
    """One accuracy record (the fields ``tests/test_results_records.py`` requires) with the loss curve."""
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    epochs = [r for r in records if r.get("kind") == "epoch"]
    (knn,) = [json.loads(p.read_text()) for p in sorted(run_dir.glob("eval/knn*/results.json"))]
    return {"dataset": "synthetic", "method": "skeletonclr", "view": "joint", "protocol": "knn",
            "encoder": "pretrained", "top1": knn["top1"], "epochs": len(epochs), "seed": seed,
            "command": command(name, seed), "setting": name, "overrides": SETTINGS[name],
            "epoch_loss": [round(r["loss"], 4) for r in epochs],
            "step_loss": [round(r["loss"], 4) for r in records if r.get("kind") == "step"],
            "torch": torch.__version__, "threads": torch.get_num_threads()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=None, help="run directories (default: a temporary one)")
    args = p.parse_args()
    root = args.out or Path(tempfile.mkdtemp(prefix="parity_"))
    records = []
    for name in SETTINGS:
        if name == "bf16" and not has_bf16():
            print("bf16: skipped, this CPU has no bf16 kernels")
            continue
        records += [run(name, root, seed) for seed in SEEDS]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "parity_synthetic.json").write_text(json.dumps(records, indent=1) + "\n")
    print(json.dumps({name: [r["top1"] for r in records if r["setting"] == name] for name in SETTINGS}))


if __name__ == "__main__":
    main()
