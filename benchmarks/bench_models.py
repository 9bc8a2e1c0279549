"""Model benchmark: ST-GCN-¼ forward, a full MoCo step and the augmentation pipelines.

    python benchmarks/bench_models.py --quick            # one JSON object on stdout, < 2 min on 2 cores
    python benchmarks/bench_models.py --save             # full run, writes results/bench_models_cpu.json
    python benchmarks/bench_models.py --device cuda --save   # results/bench_models_cuda.json

Every speed-up is measured, not assumed: a readable reference ST-GCN written the
way the original code is (NCHW, 1×1 conv then ``einsum('nkctv,kvw->nctw')``)
runs in the same process, interleaved with ours (best of N each), so machine
noise hits both alike. ``ablation`` walks from the reference to the shipped
model one change at a time; ``--ablate-allocator`` compares the CPU allocator
setting in alternating child processes (it is process-wide); ``--compile``
adds ``torch.compile`` of the forward.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Collection

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from skelssl.data.graph import partition_adjacency
from skelssl.models import ProjectionMLP, configure_cpu_runtime, create_encoder
from skelssl.models.gcn import set_fast_paths

RESULTS = Path(__file__).resolve().parent / "results"
BATCH, SHAPE = 128, (3, 50, 25, 2)


# --------------------------------------------------------------------------- reference ST-GCN


class RefGraphConv(nn.Module):
    """ST-GCN's ConvTemporalGraphical: 1×1 conv to K·C_out channels, then einsum with A."""

    def __init__(self, c_in: int, c_out: int, k: int) -> None:
        super().__init__()
        self.k = k
        self.conv = nn.Conv2d(c_in, c_out * k, 1)

    def forward(self, x: Tensor, a: Tensor) -> Tensor:
        x = self.conv(x)
        n, kc, t, v = x.shape
        x = x.view(n, self.k, kc // self.k, t, v)
        return torch.einsum("nkctv,kvw->nctw", x, a).contiguous()


class RefBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, k: int, stride: int, residual: bool) -> None:
        super().__init__()
        self.gcn = RefGraphConv(c_in, c_out, k)
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, (9, 1), (stride, 1), (4, 0)),
            nn.BatchNorm2d(c_out),
        )
        if not residual:
            self.res: Callable[[Tensor], Tensor | int] = lambda x: 0
        elif c_in == c_out and stride == 1:
            self.res = lambda x: x
        else:
            self.res = nn.Sequential(nn.Conv2d(c_in, c_out, 1, (stride, 1)), nn.BatchNorm2d(c_out))

    def forward(self, x: Tensor, a: Tensor) -> Tensor:
        return F.relu(self.tcn(self.gcn(x, a)) + self.res(x))


class RefSTGCN(nn.Module):
    """CrosSCLR's quarter-width ST-GCN, written like the original code."""

    def __init__(self, c_in: int = 3, layout: str = "ntu25") -> None:
        super().__init__()
        a = torch.from_numpy(partition_adjacency(layout, "spatial"))
        self.register_buffer("A", a)
        k, v, _ = a.shape
        self.data_bn = nn.BatchNorm1d(c_in * v)
        plan = (16, 16, 16, 16, 32, 32, 32, 64, 64, 256)
        strides = (1, 1, 1, 1, 2, 1, 1, 2, 1, 1)
        blocks, prev = [], c_in
        for i, (c, s) in enumerate(zip(plan, strides)):
            blocks.append(RefBlock(prev, c, k, s, residual=i > 0))
            prev = c
        self.blocks = nn.ModuleList(blocks)
        self.importance = nn.ParameterList([nn.Parameter(torch.ones_like(a)) for _ in blocks])
        self.feature_dim = plan[-1]

    def forward(self, x: Tensor) -> Tensor:
        n, c, t, v, m = x.shape
        x = x.permute(0, 4, 3, 1, 2).contiguous().view(n * m, v * c, t)
        x = self.data_bn(x).view(n, m, v, c, t).permute(0, 1, 3, 4, 2).contiguous().view(n * m, c, t, v)
        for block, imp in zip(self.blocks, self.importance):
            x = block(x, self.A * imp)
        return F.avg_pool2d(x, x.shape[2:]).view(n, m, -1).mean(dim=1)


# --------------------------------------------------------------------------- MoCo step


class MoCo(nn.Module):
    """Query encoder + EMA key encoder, 128-d projector, InfoNCE against a 32768-key queue."""

    def __init__(self, encoder: nn.Module, dim: int = 128, queue: int = 32768, m: float = 0.999, t: float = 0.07):
        super().__init__()
        self.m, self.t = m, t
        self.q = nn.Sequential(encoder, ProjectionMLP(encoder.feature_dim, dim))
        self.k = copy.deepcopy(self.q).requires_grad_(False)
        self.register_buffer("queue", F.normalize(torch.randn(dim, queue), dim=0))
        self.ptr = 0

    def step(self, xq: Tensor, xk: Tensor, opt: torch.optim.Optimizer) -> float:
        q = F.normalize(self.q(xq), dim=1)
        with torch.no_grad():
            torch._foreach_lerp_(list(self.k.parameters()), list(self.q.parameters()), 1 - self.m)
            k = F.normalize(self.k(xk), dim=1)
        logits = torch.cat(((q * k).sum(1, keepdim=True), q @ self.queue), dim=1) / self.t
        loss = F.cross_entropy(logits, torch.zeros(len(q), dtype=torch.long, device=q.device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            n = k.shape[0]
            self.queue[:, self.ptr : self.ptr + n] = k.T
            self.ptr = (self.ptr + n) % self.queue.shape[1]
        return loss.item()


def moco_runner(encoder: nn.Module, device: torch.device) -> Callable[[Tensor, Tensor], float]:
    model = MoCo(encoder).to(device).train()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1, momentum=0.9,
                          weight_decay=1e-4)
    return lambda xq, xk: model.step(xq, xk, opt)


# --------------------------------------------------------------------------- timing


def interleaved_best(fns: dict[str, Callable[[], object]], reps: int, warmup: int, sync: Callable[[], None],
                     only_warm: Collection[str] = ()) -> dict[str, float]:
    """Best wall time (s) per callable, running them round-robin so load spikes hit all of them.

    Names in ``only_warm`` are timed in the first round only.
    """
    for f in fns.values():
        for _ in range(warmup):
            f()
        sync()
    best = {k: float("inf") for k in fns}
    for r in range(reps):
        for k, f in fns.items():
            if k in only_warm and r > 0:
                continue
            sync()
            t0 = time.perf_counter()
            f()
            sync()
            best[k] = min(best[k], time.perf_counter() - t0)
    return best


def rate(seconds: float, n: int = BATCH) -> float:
    return round(n / seconds, 2)


def forward_fn(model: nn.Module, x: Tensor) -> Callable[[], object]:
    def run() -> Tensor:
        with torch.no_grad():
            return model(x)

    return run


# --------------------------------------------------------------------------- sections


def bench_forward(args, device, sync) -> dict:
    torch.manual_seed(0)
    x = torch.randn(BATCH, *SHAPE, device=device)
    ref = RefSTGCN().to(device).eval()
    ours = create_encoder("stgcn_quarter", layout="ntu25").to(device).eval()
    fns = {"reference": forward_fn(ref, x)}
    if not args.quick:  # the intermediate steps of the ablation ladder
        plain = set_fast_paths(copy.deepcopy(ours), fold_bn=False, dense=False)
        fns["matmul_graph_conv"] = forward_fn(plain, x)
        fns["dense_first_block"] = forward_fn(set_fast_paths(copy.deepcopy(ours), fold_bn=False), x)
    fns["bn_folding"] = forward_fn(ours, x)
    if args.compile:
        t0 = time.perf_counter()
        compiled = torch.compile(ours)
        forward_fn(compiled, x)()
        compile_s = time.perf_counter() - t0
        fns["torch_compile"] = forward_fn(compiled, x)
    best = interleaved_best(fns, args.fwd_reps, 1, sync)
    out = {"ablation_forward_samples_per_s": {k: rate(v) for k, v in best.items()}}
    out["encoder_forward_samples_per_s"] = rate(best["bn_folding"])
    out["reference_forward_samples_per_s"] = rate(best["reference"])
    out["forward_speedup_vs_reference"] = round(best["reference"] / best["bn_folding"], 2)
    if args.compile:
        out["torch_compile_s"] = round(compile_s, 1)
    return out


def bench_train(args, device, sync) -> dict:
    torch.manual_seed(0)
    xq, xk = torch.randn(2, BATCH, *SHAPE, device=device)
    steps = {"reference": moco_runner(RefSTGCN(), device),
             "ours": moco_runner(create_encoder("stgcn_quarter", layout="ntu25"), device)}
    fns = {k: (lambda s=s: s(xq, xk)) for k, s in steps.items()}
    # The reference step is the slowest thing here; in --quick it is timed once after warm-up.
    best = interleaved_best(fns, args.train_reps, 1, sync, only_warm={"reference"} if args.quick else ())
    return {"train_step_samples_per_s": rate(best["ours"]),
            "reference_train_step_samples_per_s": rate(best["reference"]),
            "train_speedup_vs_reference": round(best["reference"] / best["ours"], 2)}


def bench_augment(args, device, sync) -> dict:
    try:
        from skelssl.augment import build_pipeline
    except ImportError as e:  # written in parallel; report instead of failing the benchmark
        return {"augment_samples_per_s": None, "augment_strong_samples_per_s": None, "augment_error": str(e)}
    x = torch.randn(BATCH, *SHAPE, device=device)
    out: dict = {}
    for key, name in (("augment_samples_per_s", "skeletonclr"), ("augment_strong_samples_per_s", "strong")):
        try:
            pipe = build_pipeline(name, layout="ntu25")
            gen = torch.Generator(device=device).manual_seed(0)
            best = interleaved_best({name: lambda: pipe(x, gen)}, args.aug_reps, 1, sync)
            out[key] = rate(best[name])
        except Exception as e:  # noqa: BLE001 — a broken pipeline must not hide the model numbers
            out[key] = None
            out[f"{key}_error"] = f"{type(e).__name__}: {e}"
    return out


def allocator_ablation(args) -> dict:
    """The allocator setting is process-wide, so alternate child processes with it off/on."""
    best: dict[str, dict[str, float]] = {"default_allocator": {}, "keep_freed_memory": {}}
    for _ in range(args.alloc_rounds):
        for label, flag in (("default_allocator", "--no-tune-allocator"), ("keep_freed_memory", "")):
            cmd = [sys.executable, __file__, "--worker", "--threads", str(torch.get_num_threads())]
            cmd += [flag] if flag else []
            res = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            for k, v in res.items():  # best throughput; the RSS is the same every run
                best[label][k] = max(best[label].get(k, 0.0), v)
    return best


def worker(args, device, sync) -> dict:
    """Child of --ablate-allocator: our forward and train step only."""
    torch.manual_seed(0)
    x = torch.randn(BATCH, *SHAPE)
    enc = create_encoder("stgcn_quarter", layout="ntu25").eval()
    step = moco_runner(create_encoder("stgcn_quarter", layout="ntu25"), device)
    best = interleaved_best({"fwd": forward_fn(enc, x), "train": lambda: step(x, x)}, 2, 1, sync)
    return {"encoder_forward_samples_per_s": rate(best["fwd"]), "train_step_samples_per_s": rate(best["train"]),
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer repetitions (< 2 min on 2 cores)")
    p.add_argument("--save", action="store_true", help="write benchmarks/results/bench_models_<device>.json")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--threads", type=int, default=None, help="intra-op threads (default: PyTorch's)")
    p.add_argument("--no-tune-allocator", action="store_true", help="leave glibc's allocator as it is")
    p.add_argument("--compile", action="store_true", help="also time torch.compile of the forward")
    p.add_argument("--ablate-allocator", action="store_true", help="A/B the allocator in child processes")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    quick = args.quick
    args.fwd_reps, args.train_reps, args.aug_reps, args.alloc_rounds = (2, 2, 3, 2) if quick else (5, 3, 10, 3)

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: no CUDA device available")
    runtime = configure_cpu_runtime(args.threads, keep_freed_memory=not args.no_tune_allocator)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    if args.worker:
        print(json.dumps(worker(args, device, sync)))
        return

    t0 = time.perf_counter()
    result: dict = {
        "device": device.type,
        "device_name": torch.cuda.get_device_name() if device.type == "cuda" else cpu_name(),
        "torch": torch.__version__,
        "threads": runtime["threads"],
        "allocator_keeps_freed_memory": runtime["keep_freed_memory"],
        "batch": BATCH,
        "input_shape": [BATCH, *SHAPE],
        "quick": quick,
    }
    result.update(bench_forward(args, device, sync))
    result.update(bench_train(args, device, sync))
    result.update(bench_augment(args, device, sync))
    if args.ablate_allocator and device.type == "cpu":
        result["ablation_allocator"] = allocator_ablation(args)
    result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    if device.type == "cuda":
        result["peak_cuda_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    text = json.dumps(result, indent=None if quick else 2)
    print(text)
    if args.save:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"bench_models_{device.type}.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
