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
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Collection

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, TensorDataset
from torch.utils.flop_counter import FlopCounterMode

from skelssl.data.graph import partition_adjacency
from skelssl.methods import create_method
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
    def __init__(self, c_in: int, c_out: int, k: int, stride: int, residual: bool, dropout: float = 0.0) -> None:
        super().__init__()
        self.gcn = RefGraphConv(c_in, c_out, k)
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, (9, 1), (stride, 1), (4, 0)),
            nn.BatchNorm2d(c_out),
            nn.Dropout(dropout, inplace=True),
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
    """CrosSCLR's quarter-width ST-GCN, written like the original code (``dropout`` 0.5 in its pretraining)."""

    def __init__(self, c_in: int = 3, layout: str = "ntu25", dropout: float = 0.0) -> None:
        super().__init__()
        a = torch.from_numpy(partition_adjacency(layout, "spatial"))
        self.register_buffer("A", a)
        k, v, _ = a.shape
        self.data_bn = nn.BatchNorm1d(c_in * v)
        plan = (16, 16, 16, 16, 32, 32, 32, 64, 64, 256)
        strides = (1, 1, 1, 1, 2, 1, 1, 2, 1, 1)
        blocks, prev = [], c_in
        for i, (c, s) in enumerate(zip(plan, strides)):
            blocks.append(RefBlock(prev, c, k, s, residual=i > 0, dropout=dropout if i > 0 else 0.0))
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


# --------------------------------------------------------------------------- NTU-shaped data

TWO_BODY_SHARE = 0.2  # NTU RGB+D 60/120: most actions have one performer, the mutual ones two


def ntu_shaped(n: int, seed: int = 0) -> Tensor:
    """``(n, 3, 50, 25, 2)`` smooth random motion; exactly ``round(0.2 n)`` samples fill the second slot."""
    g = torch.Generator().manual_seed(seed)
    pose = 0.3 * torch.randn(n, 3, 1, 25, 2, generator=g)
    x = pose + 0.02 * torch.randn(n, 3, SHAPE[1], 25, 2, generator=g).cumsum(dim=2)
    one_body = torch.randperm(n, generator=g)[round(TWO_BODY_SHARE * n):]
    x[one_body, ..., 1] = 0
    return x


class ReferenceFeeder(Dataset):
    """CrosSCLR's pretraining feeder: per sample, numpy shear then temporal crop, two views.

    ``shear`` and ``temporal_crop`` are the release's ``feeder/tools.py``
    functions (Python ``random`` / ``np.random`` per sample), run in DataLoader workers.
    """

    def __init__(self, data: np.ndarray, shear_amplitude: float = 0.5, padding_ratio: int = 6) -> None:
        self.data, self.amp, self.padding_ratio = data, shear_amplitude, padding_ratio

    def __len__(self) -> int:
        return len(self.data)

    def shear(self, x: np.ndarray) -> np.ndarray:
        a = self.amp
        m = np.array([[1, random.uniform(-a, a), random.uniform(-a, a)],
                      [random.uniform(-a, a), 1, random.uniform(-a, a)],
                      [random.uniform(-a, a), random.uniform(-a, a), 1]])
        return np.dot(x.copy().transpose([1, 2, 3, 0]), m.transpose()).transpose(3, 0, 1, 2)

    def temporal_crop(self, x: np.ndarray) -> np.ndarray:
        t = x.shape[1]
        pad = t // self.padding_ratio
        start = np.random.randint(0, pad * 2 + 1)
        x = np.concatenate((x[:, :pad][:, ::-1], x, x[:, -pad:][:, ::-1]), axis=1)
        return x[:, start:start + t]

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        x = np.array(self.data[i])
        views = [self.temporal_crop(self.shear(x)) for _ in range(2)]
        return views[0].astype(np.float32), views[1].astype(np.float32)


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
    out["encoder_forward_gflops"] = round(count_flops(forward_fn(ours, x)) / best["bn_folding"] / 1e9, 1)
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


def gemm_gflops(device, sync, n: int = 2048, reps: int = 3) -> float:
    """The machine's fp32 GEMM rate: best of ``reps`` ``(n × n) @ (n × n)`` products."""
    a, b = torch.randn(2, n, n, device=device)
    best = interleaved_best({"mm": lambda: a @ b}, reps, 1, sync)["mm"]
    return round(2 * n**3 / best / 1e9, 1)


def count_flops(fn: Callable[[], object]) -> int:
    """FLOPs of the matmuls and convolutions ``fn`` runs (forward and backward), by torch's counter."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def bench_person_sparse(args, device, sync) -> dict:
    """Our encoder on NTU-shaped data (20 % two-body samples): empty slots skipped vs encoded."""
    torch.manual_seed(0)
    x = ntu_shaped(BATCH).to(device)
    sparse = create_encoder("stgcn_quarter", layout="ntu25").to(device).eval()
    dense = copy.deepcopy(sparse)
    dense.person_sparse = False
    best = interleaved_best({"dense": forward_fn(dense, x), "sparse": forward_fn(sparse, x)}, args.fwd_reps, 1, sync)
    return {"person_sparse_two_body_share": TWO_BODY_SHARE,
            "person_sparse_forward_samples_per_s": rate(best["sparse"]),
            "person_dense_forward_samples_per_s": rate(best["dense"]),
            "person_sparse_speedup": round(best["dense"] / best["sparse"], 2)}


def epoch_worker(args) -> dict:
    """Child process: one SkeletonCLR pretraining epoch on NTU-shaped data, ours or the reference pipeline.

    Reference: :class:`ReferenceFeeder` (per-sample numpy augmentation) in
    DataLoader workers feeding :class:`MoCo` around :class:`RefSTGCN`, as the
    CrosSCLR release. Ours: the shipped ``skeletonclr`` method (batched torch
    augmentation inside the step, person-sparse ST-GCN-¼ with the config's
    dropout 0.5). One untimed step first (model warm-up; ours counts its
    FLOPs), then a whole epoch, worker start-up included. The peak RSS is this
    process's own.
    """
    torch.manual_seed(0)
    random.seed(0)
    np.random.seed(0)
    data = ntu_shaped(args.epoch_samples)
    batch = args.epoch_batch
    out: dict = {}
    if args.epoch_worker == "reference":
        model = MoCo(RefSTGCN(dropout=0.5)).train()
        opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1, momentum=0.9,
                              weight_decay=1e-4)
        loader = lambda: DataLoader(ReferenceFeeder(data.numpy()), batch_size=batch, shuffle=True,
                                    drop_last=True, num_workers=args.epoch_loader_workers)

        def step(views) -> None:
            model.step(views[0], views[1], opt)
    else:
        method = create_method("skeletonclr", encoder={"name": "stgcn_quarter", "dropout": 0.5}, layout="ntu25",
                               in_channels=3, num_frames=SHAPE[1]).train()
        opt = torch.optim.SGD([p for p in method.parameters() if p.requires_grad], lr=0.1, momentum=0.9,
                              weight_decay=1e-4)
        loader = lambda: DataLoader(TensorDataset(data), batch_size=batch, shuffle=True, drop_last=True)

        bf16 = args.epoch_worker == "ours_bf16"

        def step(views) -> None:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):  # what train.amp=true does on CPU
                loss = method.training_step(views, 0)["loss"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            method.after_optimizer_step()

    first = next(iter(loader()))
    if args.epoch_worker == "reference":
        step(first)
    else:
        out["step_flops"] = count_flops(lambda: step(first))
    steps = 0
    t0 = time.perf_counter()
    for views in loader():
        step(views)
        steps += 1
    epoch_s = time.perf_counter() - t0
    out.update(epoch_s=round(epoch_s, 2), steps=steps, samples_per_s=rate(epoch_s, steps * batch),
               peak_rss_mib=peak_rss_mib())
    return out


def bench_epoch(args) -> dict:
    """Our epoch (fp32, and bf16 autocast where the CPU has bf16 kernels) and the reference pipeline's,
    each in its own process, one after the other on all cores."""
    names = ["reference", "ours"] + (["ours_bf16"] if cpu_bf16_path() else [])
    runs = {}
    for name in names:
        cmd = [sys.executable, __file__, "--epoch-worker", name, "--threads", str(torch.get_num_threads()),
               "--epoch-samples", str(args.epoch_samples), "--epoch-batch", str(args.epoch_batch),
               "--epoch-loader-workers", str(args.epoch_loader_workers)]
        cmd += ["--no-tune-allocator"] if args.no_tune_allocator else []
        runs[name] = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    ref = runs["reference"]
    out: dict = {"epoch": {"samples": args.epoch_samples, "batch": args.epoch_batch,
                           "two_body_share": TWO_BODY_SHARE, "reference_loader_workers": args.epoch_loader_workers,
                           **runs},
                 "reference_epoch_samples_per_s": ref["samples_per_s"],
                 "reference_peak_rss_mib": ref["peak_rss_mib"]}
    for name, suffix in (("ours", ""), ("ours_bf16", "_bf16")):
        if name not in runs:
            out["epoch_bf16"] = "skipped: this CPU has no bf16 kernels"
            continue
        ours = runs[name]
        step_s = ours["epoch_s"] / ours["steps"]
        out.update({f"epoch_samples_per_s{suffix}": ours["samples_per_s"],
                    f"epoch_speedup_vs_reference{suffix}": round(ref["epoch_s"] / ours["epoch_s"], 2),
                    f"peak_rss_mib{suffix}": ours["peak_rss_mib"],
                    f"peak_rss_ratio_vs_reference{suffix}": round(ours["peak_rss_mib"] / ref["peak_rss_mib"], 2),
                    # Over the whole epoch (augmentation and data included): what the step achieves in practice.
                    f"encoder_step_gflops{suffix}": round(ours["step_flops"] / step_s / 1e9, 1)})
    return out


def cpu_bf16_path() -> str | None:
    """Which bf16 matmul kernels this CPU gives oneDNN, or None where it has none (e.g. AMD Zen 3)."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        flags = set()
    if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return None
    if "amx_bf16" in flags:
        return "oneDNN AMX-BF16"
    if "avx512_bf16" in flags:
        return "oneDNN AVX512-BF16"
    return "oneDNN bf16 emulated on AVX-512"  # supported but without native bf16 dot products: slow


def assl_semi_step(device: torch.device) -> tuple[nn.Module, dict[str, Tensor]]:
    """The shipped ``semi/assl_nucla`` method (3-layer BiGRU at hidden 512, inpainting decoder, heads, view
    rotation) with a bank of N-UCLA's 1,020 training clips, and one batch of the config's size: as many
    labeled as unlabeled clips of its clip length."""
    from skelssl.engine.config import load_config
    from skelssl.methods.base import DatasetInfo, build_method

    cfg = load_config("semi/assl_nucla")
    half, frames, rows = int(cfg.data.batch_size), int(cfg.data.clip_frames), 1020
    torch.manual_seed(0)
    info = DatasetInfo(layout="kinect20", num_frames=frames, num_person=1, num_classes=10, num_samples=rows)
    method = build_method(cfg.method, info).to(device)
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 10, (rows,), generator=g)
    method.set_labels(np.arange(150), labels[:150].numpy(), labels.numpy())
    method.bank.update(torch.arange(rows, device=device),
                       torch.randn(rows, method.bank.features.shape[1], generator=g).to(device))
    clips = torch.randn(2 * half, 3, frames, 20, 1, generator=g).to(device)
    batch = {"x_l": clips[:half], "y_l": labels[:half].to(device), "i_l": torch.arange(half, device=device),
             "x_u": clips[half:], "y_u": labels[150:150 + half].to(device),
             "i_u": torch.arange(150, 150 + half, device=device)}
    return method.train(), batch


def bench_bigru(args, device, sync) -> dict:
    """ASSL's semi-supervised training step (forward + backward), today's form against what issue 15 added.

    ``today``: float32, the masked clips encoded in a pass of their own (the step before issue 15, replayed
    with ``one_encoder_pass = False``); ``fp32``: one encoder pass for labeled, unlabeled and masked clips;
    ``low``: the same under bf16 autocast (``train.amp=true``). Samples = labeled + unlabeled clips.
    """
    method, batch = assl_semi_step(device)
    half = len(batch["x_l"])

    def step(dtype: torch.dtype | None, one_pass: bool) -> Callable[[], None]:
        def run() -> None:
            method.one_encoder_pass = one_pass
            with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
                out = method(batch, 5)
            out["loss"].backward()
            method.zero_grad(set_to_none=True)
        return run

    half_dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    path = "cuda fp16" if device.type == "cuda" else cpu_bf16_path()
    fns = {"today": step(None, False), "fp32": step(None, True)}
    if path is not None:
        fns["low"] = step(half_dtype, True)
    best = interleaved_best(fns, 2 if args.quick else args.fwd_reps, 1, sync)
    chosen = "low" if path is not None and best["low"] < best["fp32"] else "fp32"
    n = 2 * half
    return {"bigru_step_batch": f"{half} labeled + {half} unlabeled clips {tuple(batch['x_l'].shape[1:])}",
            "bigru_step_today_samples_per_s": rate(best["today"], n),
            "bigru_step_fp32_samples_per_s": rate(best["fp32"], n),
            "bigru_step_lowp_samples_per_s": rate(best["low"], n) if "low" in best else None,
            "bigru_step_lowp_path": path or "none: this CPU has no bf16 kernels (skipped)",
            "bigru_step_samples_per_s": rate(best[chosen], n),
            "bigru_step_speedup_vs_today": round(best["today"] / best[chosen], 2)}


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
            "peak_rss_mib": peak_rss_mib()}


def peak_rss_mib() -> float:
    """This process's peak resident memory, MiB.

    Linux's ``VmHWM`` belongs to the process image, so a child started by
    ``subprocess`` reports its own peak; ``ru_maxrss`` is kept across
    ``execve`` and would report the parent's peak when that is larger.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


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
    p.add_argument("--epoch-samples", type=int, default=None, help="samples in the timed epoch")
    p.add_argument("--epoch-batch", type=int, default=None, help="batch of the timed epoch")
    p.add_argument("--epoch-loader-workers", type=int, default=2, help="reference pipeline's DataLoader workers")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--epoch-worker", choices=["ours", "ours_bf16", "reference"], default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    quick = args.quick
    args.fwd_reps, args.train_reps, args.aug_reps, args.alloc_rounds = (2, 2, 3, 2) if quick else (5, 3, 10, 3)
    # --quick: two batches of 64 (the reference pipeline's epoch is the slowest part of the run).
    args.epoch_batch = args.epoch_batch or (64 if quick else BATCH)
    args.epoch_samples = args.epoch_samples or args.epoch_batch * (2 if quick else 5)

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
    if args.epoch_worker:
        print(json.dumps(epoch_worker(args)))
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
    result["gemm_gflops"] = gemm_gflops(device, sync)
    result.update(bench_forward(args, device, sync))
    result.update(bench_person_sparse(args, device, sync))
    if not quick:  # in --quick the whole epoch below times the MoCo step
        result.update(bench_train(args, device, sync))
    result.update(bench_augment(args, device, sync))
    result.update(bench_bigru(args, device, sync))
    if args.ablate_allocator and device.type == "cpu":
        result["ablation_allocator"] = allocator_ablation(args)
    if device.type == "cpu":
        result.update(bench_epoch(args))
    result["benchmark_process_peak_rss_mib"] = peak_rss_mib()
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
