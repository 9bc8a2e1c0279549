"""AimCLR (Guo et al., AAAI 2022): EADM, D³M and nearest-neighbour mining against the release's formulas.

Every value is checked on small hand-made tensors against a direct loop over
the formula; the training step against its pieces recomputed by hand.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from skelssl.losses import ddm_loss, info_nce_logits, nearest_neighbour_positives
from skelssl.methods import AimCLR, DatasetInfo, build_method
from skelssl.models.attention_drop import EnergyAttentionDrop, simam_attention

TINY_STGCN = {"name": "stgcn", "channels": [4, 4, 4, 4, 4, 4, 4, 4, 4, 8]}


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def simam_by_loop(x: torch.Tensor, lam: float = 1e-4) -> torch.Tensor:
    """SimAM's attention cell by cell: sigmoid((x - mu)^2 / (4 (var_{n-1} + lambda)) + 1/2)."""
    b, c, t, v = x.shape
    out = torch.empty_like(x)
    for i in range(b):
        for ch in range(c):
            cells = x[i, ch].flatten().tolist()
            mu = sum(cells) / len(cells)
            var = sum((u - mu) ** 2 for u in cells) / (len(cells) - 1)
            for tt in range(t):
                for vv in range(v):
                    e = (x[i, ch, tt, vv].item() - mu) ** 2 / (4 * (var + lam)) + 0.5
                    out[i, ch, tt, vv] = 1 / (1 + math.exp(-e))
    return out


def test_eadm_drops_the_salient_joint_and_cells_and_rescales_like_dropblock():
    g = torch.Generator().manual_seed(0)
    x = 0.1 * torch.randn(2, 3, 4, 5, generator=g)
    x[0, :, :, 2] += 3.0  # joint 2 of sample 0 stands out in every channel and frame
    np.testing.assert_allclose(simam_attention(x), simam_by_loop(x), rtol=1e-6)

    eadm = EnergyAttentionDrop(keep_prob=0.7)
    att = simam_by_loop(x)
    joint_keep = (att.mean(dim=(1, 2)) < 0.7).float()  # (B, V)
    assert joint_keep[0, 2] == 0 and joint_keep[0].sum() == 4  # the outstanding joint, and only it
    cell_keep = (att < 0.7).float()
    expected = x * joint_keep[:, None, None, :] * (joint_keep.numel() / joint_keep.sum())
    expected = expected * cell_keep * (cell_keep.numel() / cell_keep.sum())
    dense = x[:, None]  # (N, M=1, D, T', V), the encoders' dense layout
    np.testing.assert_allclose(eadm(dense)[:, 0], expected, rtol=1e-6)
    # Gradient flows to the kept cells only, scaled like the forward.
    y = dense.clone().requires_grad_(True)
    eadm(y).sum().backward()
    scale = (joint_keep.numel() / joint_keep.sum()) * (cell_keep.numel() / cell_keep.sum())
    np.testing.assert_allclose(y.grad[:, 0], joint_keep[:, None, None, :] * cell_keep * scale, rtol=1e-6)


def small_queue_case():
    """Unit queries, keys and a 6-entry queue in 3-D, chosen so every top-1 neighbour is distinct."""
    def unit(*v):
        t = torch.tensor(v, dtype=torch.float32)
        return t / t.norm()

    queue = torch.stack([unit(1, 0, 0), unit(0, 1, 0), unit(0, 0, 1), unit(1, 1, 0), unit(0, 1, 1), unit(1, 0, 1)])
    q = torch.stack([unit(1, 0.1, 0), unit(0, 0.2, 1)])
    q_e = torch.stack([unit(1, 0.9, 0.1), unit(0, 1, 0.1)])
    q_ed = torch.stack([unit(0.1, 0, 1), unit(0.9, 0, 1)])
    k = torch.stack([unit(1, 0.2, 0.1), unit(0.1, 0.3, 1)])
    return q, q_e, q_ed, k, queue


def test_ddm_is_the_cross_entropy_of_the_normal_view_distribution_over_key_and_queue():
    q, q_e, q_ed, k, queue = small_queue_case()
    tau = 0.07
    logits, logits_e = info_nce_logits(q, k, queue, tau), info_nce_logits(q_e, k, queue, tau)
    total = 0.0
    for n in range(2):
        cand = [k[n]] + list(queue)
        p = [math.exp(float(q[n] @ c) / tau) for c in cand]
        pe = [math.exp(float(q_e[n] @ c) / tau) for c in cand]
        total += -sum(pj / sum(p) * math.log(pej / sum(pe)) for pj, pej in zip(p, pe))
    assert ddm_loss(logits, logits_e).item() == pytest.approx(total / 2, rel=1e-5)
    # The normal view's distribution is a target: no gradient reaches it.
    lq, le = logits.clone().requires_grad_(True), logits_e.clone().requires_grad_(True)
    ddm_loss(lq, le).backward()
    assert lq.grad is None and le.grad is not None


def test_nearest_neighbour_mining_adds_each_querys_top1_queue_entry_as_positive():
    q, q_e, q_ed, k, queue = small_queue_case()
    sims = [z @ queue.t() for z in (q, q_e, q_ed)]
    mask = nearest_neighbour_positives(sims, topk=1)
    # Row 0: q -> e_x (0), q_e -> (1,1,0) (3), q_ed -> e_z (2); row 1: e_z (2), e_y (1), (1,0,1) (5).
    expected = torch.zeros(2, 7, dtype=torch.bool)
    expected[:, 0] = True
    expected[0, [1 + 0, 1 + 3, 1 + 2]] = True
    expected[1, [1 + 2, 1 + 1, 1 + 5]] = True
    assert torch.equal(mask, expected)
    # The mined InfoNCE (release: mean of -log p over the positive set), by loop.
    from skelssl.losses import multi_positive_nce

    tau = 0.07
    logits = info_nce_logits(q, k, queue, tau)
    by_loop = 0.0
    for n in range(2):
        cand = [k[n]] + list(queue)
        e = [math.exp(float(q[n] @ c) / tau) for c in cand]
        pos = [j for j in range(7) if expected[n, j]]
        by_loop += sum(-math.log(e[j] / sum(e)) for j in pos) / len(pos)
    assert multi_positive_nce(logits, mask, "mean").item() == pytest.approx(by_loop / 2, rel=1e-5)


def tiny_aimclr(**kw) -> AimCLR:
    return build_method({"name": "aimclr", "encoder": TINY_STGCN, "queue_size": 16, "mining_epoch": 2, **kw},
                        DatasetInfo(layout="ntu25", num_frames=12))


@pytest.mark.parametrize("epoch", [0, 2])
def test_aimclr_step_is_nce_plus_half_the_two_ddm_terms_and_mines_after_the_warmup(epoch):
    torch.manual_seed(0)
    m = tiny_aimclr(augment=None, extreme_augment=None)
    x = torch.randn(6, 3, 12, 25, 1)
    memory = m.queue.snapshot()
    out = m((x, None, None), epoch)
    # Recompute from the same networks (deterministic: no dropout, the same batch statistics).
    q = F.normalize(m.query(x), dim=1)
    dense, _, z_e = m.query.encode(x)
    q_e = F.normalize(z_e, dim=1)
    q_ed = F.normalize(m.query.projector(m.query.backbone.pool(m.eadm(dense))), dim=1)
    with torch.no_grad():
        k = F.normalize(m.key(x), dim=1)
    lq, le, led = (info_nce_logits(z, k, memory, 0.07) for z in (q, q_e, q_ed))
    if epoch >= 2:
        pos = nearest_neighbour_positives([lq[:, 1:], le[:, 1:], led[:, 1:]], 1)
        nce = -(lq.log_softmax(1) * pos).sum(1) / pos.sum(1)
    else:
        nce = -lq.log_softmax(1)[:, 0]
    expected = nce.mean() + 0.5 * (ddm_loss(lq, le) + ddm_loss(lq, led))
    assert out["loss"].item() == pytest.approx(expected.item(), rel=1e-5)
    assert out["mining"].item() == float(epoch >= 2)
    assert torch.allclose(m.queue.queue[:6], k)  # the keys were enqueued


def smooth_motions(n: int = 16, t: int = 24) -> torch.Tensor:
    """Each sample: a pose plus sinusoidal joint motion with its own amplitude, phase and frequency."""
    g = torch.Generator().manual_seed(0)
    base, amp = torch.randn(n, 3, 1, 25, 1, generator=g), torch.randn(n, 3, 1, 25, 1, generator=g)
    phase = 6.28 * torch.rand(n, 1, 1, 1, 1, generator=g)
    freq = 0.02 + 0.04 * torch.rand(n, 1, 1, 1, 1, generator=g)
    return base + amp * torch.sin(6.28 * freq * torch.arange(float(t))[None, None, :, None, None] + phase)


def test_aimclr_training_reduces_its_loss():
    torch.manual_seed(0)
    x = smooth_motions()
    m = build_method({"name": "aimclr", "encoder": {"name": "stgcn", "channels": [8] * 9 + [16]}, "feature_dim": 16,
                      "queue_size": 32, "momentum": 0.99, "mining_epoch": 0},
                     DatasetInfo(layout="ntu25", num_frames=24))
    opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(60):
        out = m((x, None, None), 0)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        m.after_optimizer_step()
        losses.append(out["loss"].item())
    # Once the queue holds real keys (after the first steps) the loss falls.
    assert np.mean(losses[-10:]) < np.mean(losses[5:15]) - 0.3


def test_aimclr_config_is_the_published_schedule():
    from skelssl.engine.config import load_config

    cfg = load_config("aimclr")
    assert cfg.method.extreme_augment == "strong" and cfg.method.mining_epoch == 150 and cfg.method.topk == 1
    assert cfg.method.queue_size == 32768 and cfg.method.momentum == 0.999 and cfg.method.temperature == 0.07
    assert cfg.train.epochs == 300 and cfg.train.optimizer.lr == 0.1 and list(cfg.train.schedule.milestones) == [250]
    assert cfg.data.batch_size == 128 and cfg.method.encoder.name == "stgcn_quarter"
