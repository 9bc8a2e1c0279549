"""How spread out a momentum run's embeddings are: the collapse check behind the README's AimCLR/ActCLR notes.

    python benchmarks/diagnostics/memory_cone.py RUN [RUN ...] [--tau-k 0.04]

For each run's last checkpoint, prints one JSON line:

* ``memory_cone``: the mean cosine similarity between distinct entries of the
  run's memory (MoCo queue or ActCLR bank; ``MemoryQueue.cone``, which the
  methods also log during training). Near 0: spread over the sphere;
  1: every embedding the same (collapse).
* ``key_to_memory_mean`` / ``key_to_memory_std``: cosine similarities of fresh
  keys (one training batch, the run's own augmentation, key encoder) to the
  memory; a small spread means every logit is nearly the same.
* ``target_entropy_share``: the entropy of ActCLR's eq.-9 target
  ``softmax(sim(z_k, M) / tau_k)`` as a share of ``ln |M|``; 1 means a uniform
  target, which teaches nothing.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from skelssl.data.canonical import open_prepared
from skelssl.data.dataset import SkeletonDataset
from skelssl.methods.base import build_method
from skelssl.protocols.encoders import load_method_weights, read_run_config


@torch.no_grad()
def measure(run: Path, tau_k: float, batch_size: int = 64) -> dict:
    cfg = read_run_config(run)
    prepared = open_prepared(cfg.data.root)
    method = build_method(cfg.method, prepared)
    load_method_weights(method, run / "checkpoints" / "last.safetensors")
    method.train()  # BatchNorm on batch statistics, as in training
    queue = method.bank if hasattr(method, "bank") else method.queue
    memory = queue.snapshot()
    data = SkeletonDataset(prepared, protocol=cfg.data.protocol, part="train", sampling="random")
    x = next(iter(DataLoader(data, batch_size=batch_size, shuffle=True)))[0]
    _, x_k = method.augment_pair(x)
    keys = F.normalize(method.key(method.to_view(x_k, method.view)).float(), dim=1)
    sim = keys @ memory.t()
    target = (sim / tau_k).softmax(dim=1)
    entropy = -(target * target.clamp_min(1e-12).log()).sum(dim=1).mean().item()
    return {"run": str(run), "memory_cone": round(queue.cone().item(), 3),
            "key_to_memory_mean": round(sim.mean().item(), 3), "key_to_memory_std": round(sim.std(dim=1).mean().item(), 3),
            "tau_k": tau_k, "target_entropy_share": round(entropy / math.log(len(memory)), 3)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--tau-k", type=float, default=0.04)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    for run in args.runs:
        torch.manual_seed(args.seed)
        print(json.dumps(measure(run, args.tau_k)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
