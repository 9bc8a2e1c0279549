"""Throughput of the batched augmentation pipelines vs a per-sample NumPy reference.

The reference is written the way the SkeletonCLR/CrosSCLR/AimCLR feeders work:
one ``(C, T, V, M)`` sample at a time, Python ``random`` for the parameters,
NumPy for the maths (and a per-sample torch ``conv2d`` for the Gaussian blur,
as AimCLR does). Both run in this process on the same input, interleaved round
by round, so background load hits both alike; the speed-up is the median of the
per-round ratios.

    python benchmarks/bench_augment.py            # prints one JSON object
    python benchmarks/bench_augment.py --save     # also writes benchmarks/results/bench_augment_cpu.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from skelssl.augment import build_pipeline
from skelssl.data.layouts import get_layout

RESULTS = Path(__file__).resolve().parent / "results" / "bench_augment_cpu.json"
TARGETS = {"skeletonclr": 36_000.0, "strong": 6_000.0}


# --- per-sample reference, in the style of the research feeders ---------------------


def ref_shear(data: np.ndarray, r: float = 0.5) -> np.ndarray:
    s = [random.uniform(-r, r) for _ in range(6)]
    mat = np.array([[1.0, s[0], s[1]], [s[2], 1.0, s[3]], [s[4], s[5], 1.0]])
    return np.dot(data.transpose(1, 2, 3, 0), mat.T).transpose(3, 0, 1, 2)


def ref_temporal_crop(data: np.ndarray, ratio: int = 6) -> np.ndarray:
    t = data.shape[1]
    pad = t // ratio
    start = np.random.randint(0, 2 * pad + 1)
    head = data[:, :pad][:, ::-1]
    tail = data[:, t - pad :][:, ::-1]
    return np.concatenate((head, data, tail), axis=1)[:, start : start + t]


def ref_spatial_flip(data: np.ndarray, perm: np.ndarray, p: float = 0.5) -> np.ndarray:
    return data[:, :, perm] if random.random() < p else data


def ref_rotate(data: np.ndarray) -> np.ndarray:
    main = random.randint(0, 2)
    out = data.transpose(1, 2, 3, 0)
    for axis in range(3):
        deg = random.uniform(0, 30) if axis == main else random.uniform(0, 1)
        a = math.radians(-deg)
        c, s = math.cos(a), math.sin(a)
        if axis == 0:
            mat = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
        elif axis == 1:
            mat = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
        else:
            mat = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
        out = np.matmul(out, mat.T)
    return out.transpose(3, 0, 1, 2)


def ref_time_flip(data: np.ndarray, p: float = 0.5) -> np.ndarray:
    return data[:, ::-1] if random.random() < p else data


def ref_noise(data: np.ndarray, std: float = 0.01, p: float = 0.5) -> np.ndarray:
    return data + np.random.normal(0.0, std, size=data.shape) if random.random() < p else data


def ref_blur(data: np.ndarray, kernel: int = 15, sigma: tuple[float, float] = (0.1, 2.0), p: float = 0.5) -> np.ndarray:
    sig = random.uniform(*sigma)
    taps = np.arange(-(kernel // 2), kernel // 2 + 1)
    w = torch.from_numpy(np.exp(-(taps**2) / (2.0 * sig**2))).double().view(1, 1, 1, kernel).repeat(3, 1, 1, 1)
    if np.random.random_sample() >= p:
        return data
    x = torch.from_numpy(np.ascontiguousarray(data)).double().permute(3, 0, 2, 1)  # M, C, V, T
    y = F.conv2d(x, w, padding=(0, kernel // 2), groups=3)
    return y.permute(1, 3, 2, 0).numpy()


def ref_axis_mask(data: np.ndarray, p: float = 0.5) -> np.ndarray:
    if random.random() >= p:
        return data
    out = data.copy()
    out[random.randint(0, 2)] = 0.0
    return out


def ref_skeletonclr(data: np.ndarray) -> np.ndarray:
    return ref_shear(ref_temporal_crop(data))


def make_ref_strong(perm: np.ndarray):
    def strong(data: np.ndarray) -> np.ndarray:
        data = ref_shear(ref_temporal_crop(data))
        data = ref_spatial_flip(data, perm)
        data = ref_rotate(data)
        data = ref_time_flip(data)
        data = ref_noise(data)
        data = ref_blur(data)
        return ref_axis_mask(data)

    return strong


# --- timing ------------------------------------------------------------------------------


def time_batched(pipe, x: torch.Tensor, gen: torch.Generator, batches: int) -> tuple[float, float]:
    """Seconds per batch: wall clock and process CPU time (all threads)."""
    w0, c0 = time.perf_counter(), time.process_time()
    for _ in range(batches):
        pipe(x, gen)
    return (time.perf_counter() - w0) / batches, (time.process_time() - c0) / batches


def time_reference(fn, samples: np.ndarray) -> tuple[float, float]:
    """Seconds per sample: wall clock and process CPU time."""
    w0, c0 = time.perf_counter(), time.process_time()
    out = [fn(s) for s in samples]
    np.stack(out)  # the loader's collate step
    return (time.perf_counter() - w0) / len(samples), (time.process_time() - c0) / len(samples)


def bench(name: str, ref_fn, x: torch.Tensor, rounds: int, batches: int, ref_samples: int) -> dict:
    pipe = build_pipeline(name, layout="ntu25")
    gen = torch.Generator().manual_seed(0)
    samples = x[:ref_samples].numpy()
    n = x.shape[0]
    for _ in range(2):  # warm-up: allocator, first-call dispatch
        pipe(x, gen)
        time_reference(ref_fn, samples[:4])
    ours, ref, ratio, ours_cpu, ref_cpu = [], [], [], [], []
    for _ in range(rounds):
        wall, cpu = time_batched(pipe, x, gen, batches)
        ours.append(n / wall)
        ours_cpu.append(n / cpu)
        wall, cpu = time_reference(ref_fn, samples)
        ref.append(1.0 / wall)
        ref_cpu.append(1.0 / cpu)
        ratio.append(ours[-1] / ref[-1])
    med = statistics.median(ours)
    return {
        "batched_samples_per_s": round(med),
        "batched_best_samples_per_s": round(max(ours)),
        "batched_ms_per_batch": round(1e3 * n / med, 3),
        "reference_samples_per_s": round(statistics.median(ref)),
        "reference_best_samples_per_s": round(max(ref)),
        "speedup": round(statistics.median(ratio), 1),
        "speedup_best_vs_best": round(max(ours) / max(ref), 1),
        # CPU time is less sensitive to other tenants than wall clock on a shared machine.
        "batched_samples_per_cpu_s": round(statistics.median(ours_cpu)),
        "reference_samples_per_cpu_s": round(statistics.median(ref_cpu)),
        "speedup_cpu_time": round(statistics.median(ours_cpu) / statistics.median(ref_cpu), 1),
        "target_samples_per_s": TARGETS[name],
        "meets_target": med >= TARGETS[name],
        "transforms": [type(t).__name__ for t in pipe],
    }


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--frames", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=7, help="interleaved measurement rounds (median reported)")
    ap.add_argument("--batches", type=int, default=20, help="batched pipeline calls per round")
    ap.add_argument("--ref-samples", type=int, default=128, help="samples through the per-sample reference per round")
    ap.add_argument(
        "--threads",
        default="1,0",
        help="comma-separated torch intra-op thread counts to measure; 0 = torch's default (one run each)",
    )
    ap.add_argument("--save", action="store_true", help=f"write {RESULTS.relative_to(RESULTS.parents[2])}")
    args = ap.parse_args(argv)

    default_threads = torch.get_num_threads()
    thread_counts = [int(t) or default_threads for t in args.threads.split(",")]
    random.seed(0)
    np.random.seed(0)
    x = torch.randn(args.batch, 3, args.frames, 25, 2, generator=torch.Generator().manual_seed(1))
    perm = get_layout("ntu25").mirror_permutation
    result = {
        "benchmark": "augment",
        "device": "cpu",
        "input_shape": list(x.shape),
        "dtype": str(x.dtype).replace("torch.", ""),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "load_average_before": [round(v, 2) for v in os.getloadavg()],
        "method": (
            f"median of {args.rounds} interleaved rounds; wall clock unless *_cpu_*; "
            "speedup = median per-round ratio"
        ),
        "runs": [],
    }
    for threads in dict.fromkeys(thread_counts):
        torch.set_num_threads(threads)
        result["runs"].append(
            {
                "torch_threads": threads,
                "pipelines": {
                    "skeletonclr": bench(
                        "skeletonclr", ref_skeletonclr, x, args.rounds, args.batches, args.ref_samples
                    ),
                    "strong": bench(
                        "strong", make_ref_strong(perm), x, args.rounds, max(1, args.batches // 4), args.ref_samples
                    ),
                },
            }
        )
    torch.set_num_threads(default_threads)
    # Best thread setting per pipeline: what a loader would pick on this machine.
    summary = {}
    for name in TARGETS:
        best = max(result["runs"], key=lambda r: r["pipelines"][name]["batched_samples_per_s"])
        row = best["pipelines"][name]
        summary[name] = {
            "torch_threads": best["torch_threads"],
            "batched_samples_per_s": row["batched_samples_per_s"],
            "reference_samples_per_s": row["reference_samples_per_s"],
            "speedup": row["speedup"],
            "speedup_cpu_time": row["speedup_cpu_time"],
            "target_samples_per_s": row["target_samples_per_s"],
            "meets_target": row["meets_target"],
        }
    result["summary"] = summary
    result["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    print(json.dumps(result, indent=2))
    if args.save:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
