"""Whether a finished semi run on a BatchNorm backbone loses test accuracy to its running statistics.

    python benchmarks/diagnostics/semi_batchnorm.py RUN [RUN ...] [--out FILE]

ASSL's step also passes masked clips (30 % of frames set to 0) and, for the
feature bank, the un-augmented clips through the encoder in training mode,
so BatchNorm's running statistics average over three kinds of batch, while
supervised-only sees only rotated training clips. For each run (a
``skelssl semi`` run directory, last checkpoint) this prints one JSON line:
test top-1 as trained, then with every BatchNorm layer's statistics
re-estimated (cumulative average, three passes over the training split, no
weight touched) on the clean training clips and on the clips under the run's
training augmentation. If polluted statistics cost ASSL accuracy, the
``augmented`` re-estimate recovers it and leaves supervised-only where it was.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from skelssl.api.semi_supervised import _chunks, _clip_frames, _predict
from skelssl.data.canonical import open_prepared
from skelssl.methods.base import DatasetInfo, build_method
from skelssl.protocols.encoders import load_method_weights, read_run_config


def measure(run: Path, passes: int = 3) -> dict:
    cfg = read_run_config(run)
    prepared = open_prepared(cfg.data.root)
    method = build_method(cfg.method, DatasetInfo.from_prepared(prepared))
    load_method_weights(method, run)
    protocol, clip = str(cfg.data.protocol), _clip_frames(cfg, prepared)
    train, test = prepared.split(protocol, "train"), prepared.split(protocol, "test")
    eval_seed = int(cfg.semi.get("eval_seed", 0))

    def top1() -> float:
        predicted = _predict(method, prepared, test, eval_seed, clip).argmax(1).numpy()
        return round(float((predicted == prepared.labels[test]).mean() * 100), 2)

    out = {"run": str(run), "method": cfg.method.name, "seed": int(cfg.train.seed), "as_trained": top1()}
    norms = [m for m in method.encoder.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return {**out, "note": "no BatchNorm in the encoder"}
    torch.manual_seed(0)  # the augmentation's draws
    for clips in ("clean", "augmented"):
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None  # cumulative average over every batch below
        method.train()
        with torch.no_grad():
            for p in range(passes):
                order = np.random.default_rng(p).permutation(train)
                for x, _ in _chunks(prepared, order, clip, size=64):
                    method.encoder(method.augment(x) if clips == "augmented" and method.augment else x)
        out[f"reestimated_{clips}"] = top1()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(1)
    lines = []
    for run in args.runs:
        lines.append(measure(run))
        print(json.dumps(lines[-1]), flush=True)
    if args.out:
        args.out.write_text(json.dumps(lines, indent=1) + "\n")


if __name__ == "__main__":
    main()
