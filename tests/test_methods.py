"""SkeletonCLR / CrosSCLR and their building blocks: InfoNCE, the cross-view loss, the queue, EMA."""

from __future__ import annotations

import inspect
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import skelssl
import skelssl.memory.queue as queue_module
import skelssl.methods.crossclr as crossclr_module
from skelssl.data.views import to_view
from skelssl.losses import (
    CrossViewLoss,
    InfoNCELoss,
    cross_view_logits,
    cross_view_loss,
    info_nce_logits,
    info_nce_loss,
    mine_topk_positives,
    multi_positive_nce,
)
from skelssl.memory import MemoryQueue
from skelssl.methods import CrosSCLR, SkeletonCLR, create_method, list_methods
from skelssl.methods.components import ViewEncoder, momentum_update

LAYOUT = "ntu25"
V = 25


class TinyEncoder(nn.Module):
    """Per-joint MLP over channels and a temporal difference, pooled: cheap but trainable."""

    def __init__(self, in_channels: int = 3, dim: int = 8) -> None:
        super().__init__()
        self.feature_dim = dim
        self.fc = nn.Linear(2 * in_channels, dim)
        self.bn = nn.BatchNorm1d(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.permute(0, 4, 2, 3, 1)  # N, M, T, V, C
        h = torch.cat([h, h - h.roll(1, dims=2)], dim=-1)
        h = torch.relu(self.fc(h)).mean(dim=(1, 2, 3))
        return self.bn(h)


def tiny() -> TinyEncoder:
    return TinyEncoder()


def batch(n: int = 8, t: int = 12, m: int = 2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, t, V, m, generator=g), torch.zeros(n, dtype=torch.long), torch.arange(n)


def unit(*v: float) -> list[float]:
    n = math.sqrt(sum(a * a for a in v))
    return [a / n for a in v]


# ---------------------------------------------------------------------------- InfoNCE


def test_info_nce_matches_the_equation_on_literal_numbers() -> None:
    tau = 0.5
    q = [[1.0, 0.0], [0.6, 0.8]]
    k = [[0.8, 0.6], [0.0, 1.0]]
    memory = [[1.0, 0.0], [0.0, 1.0], [-0.6, 0.8]]
    expected = []
    for qi, ki in zip(q, k):
        pos = math.exp((qi[0] * ki[0] + qi[1] * ki[1]) / tau)
        neg = sum(math.exp((qi[0] * m[0] + qi[1] * m[1]) / tau) for m in memory)
        expected.append(-math.log(pos / (pos + neg)))
    # First sample by hand: q·k = 0.8, q·m = 1, 0, -0.6.
    assert expected[0] == pytest.approx(-math.log(math.exp(1.6) / (math.exp(1.6) + math.exp(2) + 1 + math.exp(-1.2))))

    q_t, k_t, m_t = torch.tensor(q), torch.tensor(k), torch.tensor(memory)
    per_sample = info_nce_loss(q_t, k_t, m_t, tau, reduction="none")
    assert per_sample.tolist() == pytest.approx(expected, rel=1e-6)
    assert info_nce_loss(q_t, k_t, m_t, tau).item() == pytest.approx(sum(expected) / 2, rel=1e-6)
    assert InfoNCELoss(tau)(q_t, k_t, m_t).item() == pytest.approx(sum(expected) / 2, rel=1e-6)
    logits = info_nce_logits(q_t, k_t, m_t, tau)
    assert logits.shape == (2, 4)
    assert logits[1].tolist() == pytest.approx([0.8 / tau, 0.6 / tau, 0.8 / tau, (-0.36 + 0.64) / tau], rel=1e-6)


def test_info_nce_is_fp32_under_autocast() -> None:
    q = F.normalize(torch.randn(4, 8), dim=1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = info_nce_logits(q, q, F.normalize(torch.randn(16, 8), dim=1), 0.07)
    assert logits.dtype == torch.float32


# ---------------------------------------------------------------------------- cross-view loss

TAU = 0.5
Q_U = [unit(1.0, 0.0), unit(0.6, 0.8)]
K_U = [unit(0.8, 0.6), unit(0.0, 1.0)]
MEM_U = [unit(1.0, 0.0), unit(0.0, 1.0), unit(-0.6, 0.8)]
Q_V = [unit(-0.6, 0.8), unit(1.0, 0.2)]
MEM_V = [unit(1.0, 0.1), unit(0.0, 1.0), unit(-0.7, 0.7)]
# View v's top-1 slots: sample 0 is closest to slot 2, sample 1 to slot 0.
EXPECTED_MINED = [2, 0]


def dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b))


def direct_cross_view(context: bool, positive_reduction: str) -> list[float]:
    """Per-sample CrosSCLR loss written out from its definition (see skelssl.losses.infonce)."""
    out = []
    for i in range(len(Q_U)):
        s_u = [dot(Q_U[i], m) for m in MEM_U]
        s_v = [dot(Q_V[i], m) for m in MEM_V]
        mined = max(range(len(s_v)), key=lambda j: s_v[j])
        logits = [dot(Q_U[i], K_U[i])] + s_u
        positives = [0, 1 + mined]
        if context:
            logits += [a * b for a, b in zip(s_u, s_v)]
            positives.append(1 + len(MEM_U) + mined)
        logits = [l / TAU for l in logits]
        denom = sum(math.exp(l) for l in logits)
        if positive_reduction == "mean":
            out.append(-sum(math.log(math.exp(logits[j]) / denom) for j in positives) / len(positives))
        else:
            out.append(-math.log(sum(math.exp(logits[j]) for j in positives) / denom))
    return out


def tensors() -> tuple[torch.Tensor, ...]:
    return tuple(torch.tensor(a) for a in (Q_U, K_U, MEM_U, Q_V, MEM_V))


def test_top1_mining_picks_the_other_views_nearest_slot() -> None:
    q_u, k_u, mem_u, q_v, mem_v = tensors()
    mask = mine_topk_positives(q_v @ mem_v.t(), topk=1)
    assert mask.dtype == torch.bool
    assert mask.nonzero()[:, 1].tolist() == EXPECTED_MINED
    assert mine_topk_positives(q_v @ mem_v.t(), topk=2).sum(dim=1).tolist() == [2, 2]
    with pytest.raises(ValueError):
        mine_topk_positives(q_v @ mem_v.t(), topk=4)


@pytest.mark.parametrize("context", [True, False])
@pytest.mark.parametrize("positive_reduction", ["mean", "sum"])
def test_cross_view_loss_matches_per_sample_definition(context: bool, positive_reduction: str) -> None:
    expected = direct_cross_view(context, positive_reduction)
    got = cross_view_loss(
        *tensors(), temperature=TAU, topk=1, context=context, positive_reduction=positive_reduction, reduction="none"
    )
    assert got.tolist() == pytest.approx(expected, rel=1e-5)
    module = CrossViewLoss(TAU, topk=1, context=context, positive_reduction=positive_reduction)
    assert module(*tensors()).item() == pytest.approx(sum(expected) / 2, rel=1e-5)


def test_cross_view_logits_layout_and_context_weighting() -> None:
    q_u, k_u, mem_u, q_v, mem_v = tensors()
    logits, pos = cross_view_logits(q_u, k_u, mem_u, q_v, mem_v, TAU, topk=1, context=True)
    assert logits.shape == pos.shape == (2, 1 + 2 * 3)
    s_u, s_v = q_u @ mem_u.t(), q_v @ mem_v.t()
    torch.testing.assert_close(logits[:, 0], (q_u * k_u).sum(1) / TAU)
    torch.testing.assert_close(logits[:, 1:4], s_u / TAU)
    torch.testing.assert_close(logits[:, 4:], s_u * s_v / TAU)  # context re-weighted by view v
    for i, j in enumerate(EXPECTED_MINED):
        assert pos[i].nonzero().flatten().tolist() == [0, 1 + j, 4 + j]

    logits_nc, pos_nc = cross_view_logits(q_u, k_u, mem_u, q_v, mem_v, TAU, topk=1, context=False)
    assert logits_nc.shape == (2, 4)
    torch.testing.assert_close(logits_nc, logits[:, :4])
    for i, j in enumerate(EXPECTED_MINED):
        assert pos_nc[i].nonzero().flatten().tolist() == [0, 1 + j]


def test_context_ablation_differs_and_reduces_to_infonce_without_mining() -> None:
    with_ctx = cross_view_loss(*tensors(), temperature=TAU, context=True, reduction="none")
    without = cross_view_loss(*tensors(), temperature=TAU, context=False, reduction="none")
    assert not torch.allclose(with_ctx, without)
    # With only the pair positive, the multi-positive NCE is InfoNCE.
    q_u, k_u, mem_u, _, _ = tensors()
    logits = info_nce_logits(q_u, k_u, mem_u, TAU)
    only_pair = torch.zeros_like(logits, dtype=torch.bool)
    only_pair[:, 0] = True
    for red in ("mean", "sum"):
        torch.testing.assert_close(
            multi_positive_nce(logits, only_pair, red, "none"), info_nce_loss(q_u, k_u, mem_u, TAU, "none")
        )


def test_context_sends_gradient_to_the_other_view_as_the_reference() -> None:
    q_u, k_u, mem_u, q_v, mem_v = tensors()
    for context, expect_grad in ((True, True), (False, False)):
        qv = q_v.clone().requires_grad_(True)
        qu = q_u.clone().requires_grad_(True)
        cross_view_loss(qu, k_u, mem_u, qv, mem_v, TAU, context=context).backward()
        assert qu.grad is not None and qu.grad.abs().sum() > 0
        has = qv.grad is not None and bool(qv.grad.abs().sum() > 0)
        assert has == expect_grad


# ---------------------------------------------------------------------------- queue


def fifo_reference(size: int, initial: torch.Tensor, batches: list[torch.Tensor]) -> tuple[torch.Tensor, int]:
    q, ptr = initial.clone(), 0
    for b in batches:
        for key in b:
            q[ptr] = key
            ptr = (ptr + 1) % size
    return q, ptr


def test_queue_fifo_pointer_wrap_and_overwrite_order() -> None:
    torch.manual_seed(0)
    mem = MemoryQueue(5, 2)
    assert mem.queue.shape == (5, 2)
    torch.testing.assert_close(mem.queue.norm(dim=1), torch.ones(5))
    initial = mem.queue.clone()
    b1 = torch.tensor([[1.0, 0.0], [2.0, 0.0]])
    b2 = torch.tensor([[3.0, 0.0], [4.0, 0.0]])
    b3 = torch.tensor([[5.0, 0.0], [6.0, 0.0], [7.0, 0.0]])  # 5 is not a multiple of the batch: wraps

    mem.enqueue(b1)
    assert mem.ptr.item() == 2
    assert mem.queue[:2, 0].tolist() == [1, 2]
    torch.testing.assert_close(mem.queue[2:], initial[2:])
    mem.enqueue(b2)
    assert mem.ptr.item() == 4
    mem.enqueue(b3)
    assert mem.ptr.item() == 2
    # Slot 4 got 5, then 6 and 7 overwrote the oldest entries (1, 2); 3 and 4 survive.
    assert mem.queue[:, 0].tolist() == [6, 7, 3, 4, 5]
    expected, ptr = fifo_reference(5, initial, [b1, b2, b3])
    torch.testing.assert_close(mem.queue, expected)
    assert mem.ptr.item() == ptr

    big = torch.arange(14, dtype=torch.float32).view(7, 2)  # more keys than slots
    mem.enqueue(big)
    expected, ptr = fifo_reference(5, initial, [b1, b2, b3, big])
    torch.testing.assert_close(mem.queue, expected)
    assert mem.ptr.item() == ptr


def test_queue_gathers_keys_from_all_ranks(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def fake_gather(t: torch.Tensor) -> torch.Tensor:  # two ranks, rank 1 holds t + 10
        calls.append(t.shape)
        return torch.cat([t, t + 10])

    monkeypatch.setattr(queue_module, "concat_all_gather", fake_gather)
    mem = MemoryQueue(6, 2)
    keys = torch.tensor([[1.0, 0.0], [2.0, 0.0]])
    mem.enqueue(keys)
    assert calls == [torch.Size([2, 2])]
    assert mem.queue[:4, 0].tolist() == [1, 2, 11, 12]
    assert mem.ptr.item() == 4

    local = MemoryQueue(6, 2, gather=False)
    local.enqueue(keys)
    assert len(calls) == 1 and local.ptr.item() == 2


def test_queue_single_process_gather_is_identity_and_state_round_trips() -> None:
    mem = MemoryQueue(4, 3)
    mem.enqueue(torch.ones(3, 3))
    state = mem.state_dict()
    assert set(state) == {"queue", "ptr"}
    other = MemoryQueue(4, 3)
    other.load_state_dict(state)
    torch.testing.assert_close(other.queue, mem.queue)
    assert other.ptr.item() == 3


def test_snapshot_survives_enqueue_for_backward() -> None:
    mem = MemoryQueue(4, 2)
    q = torch.randn(3, 2, requires_grad=True)
    snap = mem.snapshot()
    loss = info_nce_loss(F.normalize(q, dim=1), F.normalize(torch.randn(3, 2), dim=1), snap, 0.1)
    mem.enqueue(torch.randn(3, 2))
    loss.backward()  # would fail if the graph had saved the buffer written in place
    assert not torch.equal(snap, mem.queue)


def test_queue_cone_is_the_mean_cosine_between_distinct_entries() -> None:
    # Hand-made unit keys: e1, e1, e2, -e1 -> pairs (12)=1, (13)=0, (14)=-1, (23)=0, (24)=-1, (34)=0: mean -1/6.
    mem = MemoryQueue(4, 2)
    mem.queue.copy_(torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]))
    assert mem.cone().item() == pytest.approx(-1 / 6)
    g = torch.Generator().manual_seed(0)
    mem = MemoryQueue(50, 8)
    mem.queue.copy_(F.normalize(torch.randn(50, 8, generator=g), dim=1))
    sims = mem.queue @ mem.queue.t()
    off = ~torch.eye(50, dtype=torch.bool)
    assert mem.cone().item() == pytest.approx(sims[off].mean().item(), abs=1e-6)
    mem.queue.copy_(F.normalize(torch.ones(50, 8), dim=1))  # collapsed: every key the same
    assert mem.cone().item() == pytest.approx(1.0, abs=1e-6)


# ---------------------------------------------------------------------------- momentum


def test_momentum_update_exact_values() -> None:
    online, target = nn.Linear(2, 2), nn.Linear(2, 2)
    with torch.no_grad():
        online.weight.fill_(1.0)
        online.bias.fill_(-2.0)
        target.weight.fill_(0.0)
        target.bias.fill_(4.0)
    momentum_update(online, target, 0.9)
    torch.testing.assert_close(target.weight, torch.full((2, 2), 0.1))
    torch.testing.assert_close(target.bias, torch.full((2,), 0.9 * 4.0 + 0.1 * -2.0))
    momentum_update(online, target, 0.9)
    torch.testing.assert_close(target.weight, torch.full((2, 2), 0.9 * 0.1 + 0.1))
    torch.testing.assert_close(online.weight, torch.ones(2, 2))


def test_skeletonclr_after_optimizer_step_is_ema_of_parameters_only() -> None:
    m = SkeletonCLR(encoder=tiny, queue_size=16, momentum=0.99, layout=LAYOUT, augment=None)
    assert all(not p.requires_grad for p in m.key.parameters())
    torch.testing.assert_close(m.key.state_dict(), m.query.state_dict())  # starts as a copy
    with torch.no_grad():
        for p in m.query.parameters():
            p.add_(1.0)
    before_k = [p.clone() for p in m.key.parameters()]
    q_params = [p.clone() for p in m.query.parameters()]
    running = m.key.backbone.bn.running_mean.clone()
    m.after_optimizer_step()
    for pk, pk0, pq in zip(m.key.parameters(), before_k, q_params):
        torch.testing.assert_close(pk, 0.99 * pk0 + 0.01 * pq)
    torch.testing.assert_close(m.key.backbone.bn.running_mean, running)


# ---------------------------------------------------------------------------- SkeletonCLR


def test_methods_are_registered_and_built_from_contract_kwargs() -> None:
    assert {"skeletonclr", "crossclr"} <= set(list_methods())
    m = create_method(
        "skeletonclr", encoder=tiny, view="motion", feature_dim=16, queue_size=32, momentum=0.999,
        temperature=0.07, augment="skeletonclr", layout=LAYOUT, in_channels=3, num_frames=12, mlp=True,
    )
    assert isinstance(m, SkeletonCLR)
    assert isinstance(m.query.projector, nn.Sequential) and len(m.query.projector) == 3
    assert m.query.projector[0].in_features == 8 and m.query.projector[-1].out_features == 16
    assert isinstance(SkeletonCLR(encoder=tiny, mlp=False, layout=LAYOUT, queue_size=8).query.projector, nn.Linear)
    with pytest.raises(TypeError):
        create_method("skeletonclr", encoder=tiny, layout=LAYOUT, bogus=1)


@pytest.mark.parametrize("view", ["joint", "motion", "bone"])
def test_skeletonclr_step_shapes_and_queue(view: str) -> None:
    torch.manual_seed(0)
    m = SkeletonCLR(encoder=tiny, view=view, feature_dim=16, queue_size=20, layout=LAYOUT)
    x = batch(6)
    q, k = m.embed(x[0], x[0])
    assert q.shape == k.shape == (6, 16)
    torch.testing.assert_close(q.norm(dim=1), torch.ones(6))
    assert not k.requires_grad
    out = m(x, 0)
    assert {"loss", "acc", "pos_sim"} <= set(out)
    assert out["loss"].dim() == 0 and out["loss"].requires_grad
    assert m.queue.ptr.item() == 6
    assert out["memory_cone"].item() == pytest.approx(m.queue.cone().item())  # logged after the enqueue
    out["loss"].backward()
    assert any(p.grad is not None for p in m.query.parameters())
    assert all(p.grad is None for p in m.key.parameters())


def test_skeletonclr_uses_the_view_of_the_augmented_input() -> None:
    m = SkeletonCLR(encoder=tiny, view="bone", queue_size=8, layout=LAYOUT, augment=None).eval()
    x = batch(4)[0]
    expected = F.normalize(m.query(to_view(x, "bone", LAYOUT)), dim=1)
    torch.testing.assert_close(m.encode_query(x), expected)


def test_skeletonclr_training_reduces_loss_on_fixed_batches() -> None:
    # Four fixed batches in turn, so the 16-key queue holds the previous batch's
    # keys (a single batch would make every query's own older key a negative).
    # No augmentation: the tiny per-joint encoder cannot learn shear invariance,
    # and this test is about gradients, EMA and queue working together.
    torch.manual_seed(0)
    m = SkeletonCLR(
        encoder=tiny, feature_dim=16, queue_size=16, momentum=0.9, temperature=0.2, layout=LAYOUT, augment=None
    )
    opt = torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=0.5, momentum=0.9)
    data = [batch(16, seed=s) for s in range(4)]
    losses = []
    for step in range(48):
        loss = m(data[step % 4], 0)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        m.after_optimizer_step()
        losses.append(loss.item())
    # Step 0 still sees the random initial queue; compare once it holds real keys.
    early, late = sum(losses[1:5]) / 4, sum(losses[-4:]) / 4
    assert late < 0.6 * early, (early, late)


def test_eval_encoders_take_joint_input() -> None:
    m = SkeletonCLR(encoder=tiny, view="motion", queue_size=8, layout=LAYOUT).eval()
    encoders = m.eval_encoders()
    assert list(encoders) == ["motion"]
    enc = encoders["motion"]
    assert isinstance(enc, ViewEncoder) and enc.input_view == "joint" and enc.feature_dim == 8
    x = batch(5)[0]
    feats = enc(x)
    assert feats.shape == (5, 8)
    torch.testing.assert_close(feats, m.query.backbone(to_view(x, "motion", LAYOUT)))
    assert enc.backbone is m.query.backbone  # shared, not copied


def test_skeletonclr_state_dict_round_trip_resumes_identically() -> None:
    torch.manual_seed(0)
    a = SkeletonCLR(encoder=tiny, queue_size=12, layout=LAYOUT)
    a(batch(5), 0)
    b = SkeletonCLR(encoder=tiny, queue_size=12, layout=LAYOUT)
    b.load_state_dict(a.state_dict())
    assert b.queue.ptr.item() == 5
    torch.manual_seed(3)
    la = a(batch(5, seed=2), 0)["loss"]
    torch.manual_seed(3)
    lb = b(batch(5, seed=2), 0)["loss"]
    torch.testing.assert_close(la, lb)
    torch.testing.assert_close(a.queue.queue, b.queue.queue)


def test_encoder_spec_goes_through_the_model_registry() -> None:
    m = SkeletonCLR(
        encoder={"name": "stgcn", "channels": [4, 4, 4, 4, 4, 4, 4, 4, 4, 8]},
        queue_size=8, layout=LAYOUT, feature_dim=4,
    )
    assert m.query.backbone.feature_dim == 8
    out = m(batch(4, t=16), 0)
    assert torch.isfinite(out["loss"])
    assert m.eval().eval_encoders()["joint"](batch(3, t=16)[0]).shape == (3, 8)


# ---------------------------------------------------------------------------- CrosSCLR


def crossclr(views=("joint", "motion", "bone"), **kw) -> CrosSCLR:
    kw = {"encoder": tiny, "feature_dim": 8, "queue_size": 16, "layout": LAYOUT, "cross_epoch": 2, **kw}
    return CrosSCLR(views=views, **kw)


@pytest.mark.parametrize("views", [("joint", "motion"), ("joint", "motion", "bone")])
def test_crossclr_stage_switch_at_cross_epoch(views, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    m = crossclr(views, augment=None)
    calls = []
    real = crossclr_module.cross_view_loss

    def spy(*args, **kwargs):
        calls.append(kwargs["context"])
        return real(*args, **kwargs)

    monkeypatch.setattr(crossclr_module, "cross_view_loss", spy)
    x = batch(6)
    for epoch in (0, 1):
        out = m(x, epoch)
        assert out["cross_stage"].item() == 0.0 and not m.in_cross_stage(epoch)
    assert calls == []
    out = m(x, 2)
    assert out["cross_stage"].item() == 1.0 and m.in_cross_stage(2)
    assert len(calls) == len(views) * (len(views) - 1)  # every ordered pair
    assert {f"loss_{v}" for v in views} <= set(out)


def test_crossclr_losses_equal_their_definitions_in_both_stages() -> None:
    torch.manual_seed(0)
    m = crossclr(("joint", "motion", "bone"), augment=None, topk=1, context=True)
    x = batch(6)
    m(x, 0)  # fill part of the queues with real keys
    for epoch in (1, 2):
        q, k, mem = {}, {}, {}
        for v, b in m.branches.items():
            q[v], k[v] = b.embed(x[0], x[0])
            mem[v] = b.queue.snapshot()
        if epoch < 2:
            expected = sum(info_nce_loss(q[v], k[v], mem[v], 0.07) for v in m.views)
        else:
            expected = sum(
                torch.stack(
                    [cross_view_loss(q[u], k[u], mem[u], q[v], mem[v], 0.07, 1, True) for v in m.views if v != u]
                ).mean()
                for u in m.views
            )
        out = m(x, epoch)
        torch.testing.assert_close(out["loss"], expected)


def test_crossclr_context_flag_reaches_the_loss() -> None:
    torch.manual_seed(0)
    x = batch(6)
    a = crossclr(("joint", "motion"), augment=None, context=True)
    b = crossclr(("joint", "motion"), augment=None, context=False)
    b.load_state_dict(a.state_dict())
    a(x, 0), b(x, 0)
    la, lb = a(x, 2)["loss"], b(x, 2)["loss"]
    assert not torch.allclose(la, lb)


def test_crossclr_queues_stay_aligned_and_all_key_encoders_move() -> None:
    torch.manual_seed(0)
    m = crossclr()
    opt = torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=0.1)
    keys_before = {v: [p.clone() for p in b.key.parameters()] for v, b in m.branches.items()}
    for epoch in (0, 2, 2):
        out = m(batch(5), epoch)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        m.after_optimizer_step()
    assert {b.queue.ptr.item() for b in m.branches.values()} == {15 % 16}
    for v, b in m.branches.items():
        assert any(not torch.equal(p, p0) for p, p0 in zip(b.key.parameters(), keys_before[v]))
    # Independent projectors per view (the reference shares layers by accident).
    projectors = [id(p) for b in m.branches.values() for p in b.query.projector.parameters()]
    assert len(projectors) == len(set(projectors))


def test_crossclr_eval_encoders_one_per_view_from_joint_input() -> None:
    m = crossclr().eval()
    encoders = m.eval_encoders()
    assert list(encoders) == ["joint", "motion", "bone"]
    x = batch(4)[0]
    for view, enc in encoders.items():
        assert enc.input_view == "joint"
        feats = enc(x)
        assert feats.shape == (4, 8)
        torch.testing.assert_close(feats, m.branches[view].query.backbone(to_view(x, view, LAYOUT)))


def test_crossclr_rejects_bad_views() -> None:
    with pytest.raises(ValueError):
        crossclr(("joint",))
    with pytest.raises(ValueError):
        crossclr(("joint", "joint"))
    with pytest.raises(ValueError):
        crossclr(("joint", "depth"))


# ---------------------------------------------------------------------------- configs

CONFIG_DIR = Path(skelssl.__file__).parent / "configs" / "pretrain"
CONFIGS = [
    "skeletonclr", "crossclr", "skeletonclr_nucla", "crossclr_nucla", "skeletonclr_synthetic", "crossclr_synthetic",
]


def load(name: str) -> dict:
    from omegaconf import OmegaConf

    from skelssl.engine.config import load_config

    return OmegaConf.to_container(load_config(name), resolve=True)


@pytest.mark.parametrize("name", CONFIGS)
def test_pretrain_configs_build_their_method(name: str) -> None:
    cfg = load(name)
    assert {"method", "data", "train"} <= set(cfg)
    section = dict(cfg["method"])
    method_name = section.pop("name")
    assert method_name == name.split("_")[0]
    cls = {"skeletonclr": SkeletonCLR, "crossclr": CrosSCLR}[method_name]
    # Every key is a constructor argument (the engine adds layout, in_channels, num_frames).
    inspect.signature(cls).bind(**section, layout=LAYOUT, in_channels=3, num_frames=50)
    section["encoder"] = tiny
    method = create_method(method_name, **section, layout=LAYOUT, in_channels=3, num_frames=50)
    assert method.eval_encoders()


def test_paper_defaults_in_the_main_configs() -> None:
    for name in ("skeletonclr", "crossclr"):
        cfg = load(name)
        m, t = cfg["method"], cfg["train"]
        assert m["encoder"]["name"] == "stgcn_quarter"
        assert (m["feature_dim"], m["queue_size"], m["momentum"], m["temperature"]) == (128, 32768, 0.999, 0.07)
        assert m["augment"] == "skeletonclr" and m["mlp"] is True
        assert cfg["data"]["batch_size"] == 128
        assert t["epochs"] == 300 and t["schedule"]["milestones"] == [250]
        assert (t["optimizer"]["lr"], t["optimizer"]["momentum"], t["optimizer"]["weight_decay"]) == (0.1, 0.9, 1e-4)
    c = load("crossclr")["method"]
    assert c["views"] == ["joint", "motion", "bone"] and c["cross_epoch"] == 150 and c["topk"] == 1 and c["context"]
    for name in ("skeletonclr_nucla", "crossclr_nucla"):
        cfg = load(name)
        assert cfg["data"]["dataset"] == "nucla" and cfg["data"]["protocol"] == "xview"
        assert cfg["method"]["queue_size"] < 1020  # smaller than the training set
    for name in CONFIGS:
        assert (CONFIG_DIR / f"{name}.yaml").is_file()
