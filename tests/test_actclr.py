"""ActCLR (Lin, Zhang, Liu, CVPR 2023): actionlet, MATS, SAFP and similarity mining against the paper's equations.

Hand-made tensors throughout: a one-arm motion against a still average, the
difference-activation weights against autograd on one sample at a time, SAFP,
MATS and eq. 9 against loops over their formulas.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from skelssl.augment.mixing import RandomSkeletonMix, SkeletonMix
from skelssl.data.layouts import get_layout
from skelssl.losses import similarity_mining_loss
from skelssl.methods import ActCLR, DatasetInfo, build_method
from skelssl.methods.actionlet import combine_regions, safp, smoothing_matrix, to_input_frames
from skelssl.models.base import SkeletonEncoder

TINY_STGCN = {"name": "stgcn", "channels": [4, 4, 4, 4, 4, 4, 4, 4, 4, 8]}
NTU = get_layout("ntu25")
RIGHT_ARM = [NTU.joint(n) for n in ("shoulder_right", "elbow_right", "wrist_right", "hand_right",
                                    "hand_tip_right", "thumb_right")]


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class PoseAndMotion(SkeletonEncoder):
    """A hand-made dense encoder: per joint, softplus of the coordinates (pose) and the frame step's size
    (motion energy), averaged over pairs of frames (``T' = T / 2``, so the actionlet must be brought back
    to the input frames)."""

    feature_dim = 6

    def __init__(self) -> None:
        super().__init__()
        self.layout = NTU
        self.scale = nn.Parameter(torch.ones(()))  # a parameter, so the momentum copy has one to follow

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, v, m = x.shape
        step = torch.cat([(x[:, :, 1:] - x[:, :, :-1]).abs(), torch.zeros_like(x[:, :, :1])], dim=2)
        f = torch.cat([F.softplus(x), 5.0 * step], dim=1) * self.scale
        f = f.view(n, 2 * c, t // 2, 2, v, m).mean(dim=3)
        return f.permute(0, 4, 1, 2, 3).contiguous()  # (N, M, D, T', V)


def one_arm_motion(t: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    """A still pose (the average) and the same pose with only the right arm's joints swinging."""
    g = torch.Generator().manual_seed(0)
    still = (0.5 * torch.randn(3, 1, 25, 1, generator=g)).expand(3, t, 25, 1).contiguous()
    moving = still.clone()
    wave = torch.sin(torch.arange(t, dtype=torch.float32) / 3.0)
    for k, j in enumerate(RIGHT_ARM):
        moving[0, :, j, 0] += (0.1 + 0.05 * k) * wave
        moving[1, :, j, 0] += 0.08 * (k + 1) * torch.cos(torch.arange(t, dtype=torch.float32) / 3.0)
    return still, moving


def hand_made_actclr(smoothing: str) -> ActCLR:
    m = ActCLR(encoder=PoseAndMotion, feature_dim=6, mlp=False, bank_size=8, smoothing=smoothing,
               layout="ntu25", num_frames=40)
    for net in (m.query, m.key):  # identity projector: z = GAP(h)
        nn.init.eye_(net.projector.weight)
        nn.init.zeros_(net.projector.bias)
    return m


@pytest.mark.parametrize("smoothing", ["none", "adjacency"])
def test_actionlet_of_a_one_arm_motion_lies_on_that_arm(smoothing):
    still, moving = one_arm_motion()
    m = hand_made_actclr(smoothing)
    m.setup([(still, 0, 0)])  # the training set's average: the still pose
    activation, mask = m.actionlet(moving[None])
    assert mask.shape == (1, 40, 25, 1) and activation.shape == (1, 40, 25, 1)
    joints = set(torch.nonzero(mask[0, :, :, 0].amax(dim=0)).flatten().tolist())
    arm = set(RIGHT_ARM)
    if smoothing == "none":
        assert joints == arm
    else:  # G spreads the activation one hop: the arm and the joint it hangs from
        neighbours = {a for a, b in NTU.edges if b in arm} | {b for a, b in NTU.edges if a in arm}
        assert arm <= joints <= arm | neighbours
        assert NTU.joint("spine_shoulder") in joints
    # The arm is in the actionlet in most frames (it drops out briefly where the swing turns and the
    # motion energy vanishes: the actionlet is spatio-temporal); the legs and the other arm never are.
    assert float(mask[0, :, RIGHT_ARM, 0].mean()) > 0.75
    # The activation is highest on the arm and zero far from it.
    per_joint = activation[0, :, :, 0].mean(dim=0)
    assert set(per_joint.argsort(descending=True)[:4].tolist()) <= arm
    assert float(per_joint[NTU.joint("foot_left")]) == 0.0


def test_difference_activation_weights_equal_a_direct_autograd_computation():
    torch.manual_seed(0)
    m = build_method({"name": "actclr", "encoder": TINY_STGCN, "bank_size": 8},
                     DatasetInfo(layout="ntu25", num_frames=16, num_person=2))
    x = torch.randn(5, 3, 16, 25, 2)
    anchor = torch.randn(1, 3, 16, 25, 2)
    with torch.no_grad():
        dense = m.key.backbone.forward_features(torch.cat([x, anchor]))
        z_bar = m.key.projector(m.key.backbone.pool(dense[-1:]))
    head = lambda d: m.key.projector(m.key.backbone.pool(d))  # noqa: E731
    alpha = m.extractor.weights(dense[:-1], z_bar, head)
    for i in range(5):  # one sample at a time, straight from the definition (eq. 4, σ₁ = identity)
        h = dense[i:i + 1].clone().requires_grad_(True)
        z = m.key.projector(m.key.backbone.pool(h))
        sim = (z * z_bar).sum() / (z.norm() * z_bar.norm())
        (-sim).backward()
        expected = h.grad[0].mean(dim=(0, 2, 3))  # mean over persons, time and joints per channel
        np.testing.assert_allclose(alpha[i], expected, rtol=1e-5, atol=1e-9)
    # Eq. 5 from those weights, by a loop over channels, then G.
    act = m.extractor.activation(dense[:-1], alpha)
    for i in range(2):
        cam = sum(alpha[i, c] * dense[i, :, c] for c in range(dense.shape[2])).relu()
        np.testing.assert_allclose(act[i], cam @ smoothing_matrix("ntu25", "adjacency"), rtol=1e-5, atol=1e-7)


def test_smoothing_matrices_average_neighbours_or_body_parts():
    g = smoothing_matrix("ntu25", "adjacency")
    a = torch.zeros(25)
    a[NTU.joint("elbow_right")] = 1.0
    out = a @ g
    # The elbow's value reaches itself, the shoulder and the wrist, each as a share of their neighbourhood.
    assert set(torch.nonzero(out).flatten().tolist()) == {NTU.joint(n) for n in
                                                           ("elbow_right", "shoulder_right", "wrist_right")}
    assert out[NTU.joint("wrist_right")] == pytest.approx(1 / 3)  # wrist: itself, elbow, hand
    np.testing.assert_allclose(g.sum(dim=0), torch.ones(25), rtol=1e-6)
    parts = smoothing_matrix("ntu25", "body_parts")
    np.testing.assert_allclose((torch.ones(25) @ parts), torch.ones(25), rtol=1e-6)


def test_safp_is_the_actionlet_weighted_mean_of_eq_8():
    g = torch.Generator().manual_seed(0)
    dense = torch.randn(3, 2, 4, 5, 6, generator=g)  # (N, M, C, T', V)
    mask = (torch.rand(3, 2, 5, 6, generator=g) > 0.6).float()
    mask[1] = 0.0  # no actionlet at all: plain GAP
    mask[2, 1] = 0.0  # the second body has none
    out = safp(dense, mask)
    for n in range(3):
        for c in range(4):
            num = sum(float(dense[n, m, c, t, v] * mask[n, m, t, v])
                      for m in range(2) for t in range(5) for v in range(6))
            den = float(mask[n].sum())
            expected = num / den if den else float(dense[n, :, c].mean())
            assert out[n, c].item() == pytest.approx(expected, rel=1e-5, abs=1e-6)
    # A soft actionlet weighs cells by its values.
    soft = torch.rand(3, 2, 5, 6, generator=g)
    np.testing.assert_allclose(safp(dense, soft), (dense * soft[:, :, None]).sum(dim=(1, 3, 4))
                               / soft.sum(dim=(1, 2, 3))[:, None], rtol=1e-5, atol=1e-7)


def test_actionlet_is_brought_to_the_input_frames_by_linear_interpolation_with_aligned_ends():
    mask = torch.tensor([1.0, 0.0, 1.0]).view(1, 1, 3, 1).expand(1, 2, 3, 4).contiguous()  # (N, M, T'=3, V=4)
    up = to_input_frames(mask, 9)  # frames 0, 4, 8 sit on dense steps 0, 1, 2
    assert up.shape == (1, 1, 9, 4, 2)
    np.testing.assert_allclose(up[0, 0, :, 0, 0], [1, 0.75, 0.5, 0.25, 0, 0.25, 0.5, 0.75, 1], atol=1e-6)


def test_mats_combines_the_actionlet_and_non_actionlet_transformations_as_eq_7():
    torch.manual_seed(0)
    m = build_method({"name": "actclr", "encoder": TINY_STGCN, "bank_size": 8, "view": "motion"},
                     DatasetInfo(layout="ntu25", num_frames=8))
    x_act = torch.randn(4, 3, 8, 25, 2)
    a = (torch.rand(4, 1, 8, 25, 2) > 0.5).float()
    a[:, :, 3] = 0.3  # soft values as interpolation leaves them
    out = m.mats(x_act, a)
    x_full, x_non, x_trans = out["x_full"], out["x_non"], out["x_trans"]
    for idx in np.ndindex(*x_trans.shape):  # eq. 7 element by element
        n, c, t, v, p = idx
        w = float(a[n, 0, t, v, p])
        assert float(x_trans[idx]) == pytest.approx(w * float(x_full[idx]) + (1 - w) * float(x_non[idx]),
                                                    rel=1e-5, abs=1e-6)
    # Nothing is applied to the whole sequence by default: x_full is x_act (in the view), and T_non
    # (noise + Skeleton Mix) only reaches the non-actionlet cells.
    view = m.to_view(x_act, "motion")
    assert torch.equal(x_full, view)
    inside = a.expand_as(x_trans) == 1
    assert torch.equal(x_trans[inside], view[inside]) and not torch.equal(x_non, view)
    # "Full area" (Table 7): the noise now changes the actionlet cells too.
    m.noise_region = "full"
    m.noise.p = 1.0
    full = m.mats(x_act, a)
    assert not torch.allclose(full["x_trans"][inside], view[inside])
    # Without non-actionlet transformations the online stream sees x_act as it is.
    m.noise, m.mix = None, None
    np.testing.assert_array_equal(m.mats(x_act, a)["x_trans"], view)
    np.testing.assert_array_equal(combine_regions(x_act, 2 * x_act, torch.zeros(1)), 2 * x_act)


def test_random_skeleton_mix_mixes_each_sample_with_its_drawn_mode():
    x = torch.randn(12, 3, 10, 25, 1)
    mix = RandomSkeletonMix(["mixup", "cutmix_parts", "resizemix"], [0.25, 0.5, 0.25], layout="ntu25")
    params = mix.sample_params(x, torch.Generator().manual_seed(3))
    out = mix.apply(x, params)
    modes = ["mixup", "cutmix_parts", "resizemix"]
    for i, mode in enumerate(modes):
        sub = {k.split("/", 1)[1]: v for k, v in params.items() if k.startswith(f"{i}/")}
        ref = SkeletonMix(mode, layout="ntu25").apply(x, sub).x
        chosen = params["mode"] == i
        assert torch.equal(out[chosen], ref[chosen])
    assert set(params["mode"].tolist()) <= {0, 1, 2}


def similarity_mining_by_loop(z_q, z_k, bank, tau_q, tau_k, power=1, topk=None, ceiling=None):
    """Eq. 9 entry by entry; ``power``, ``topk``, ``ceiling``: the release's variant (squared online
    similarities, near-copies above the ceiling dropped, the top-k bank entries nearest the key kept)."""
    total = 0.0
    for n in range(z_q.shape[0]):
        sk = [float(z_k[n] @ mj) for mj in bank]
        sk = [-1.0 if ceiling is not None and s > ceiling else s for s in sk]
        keep = sorted(range(len(sk)), key=lambda j: -sk[j])[:topk]
        sq = [float(z_q[n] @ bank[j]) ** power / tau_q for j in keep]
        tk = [sk[j] / tau_k for j in keep]
        pq = [math.exp(s) / sum(math.exp(u) for u in sq) for s in sq]
        pk = [math.exp(s) / sum(math.exp(u) for u in tk) for s in tk]
        total += -sum(k * math.log(q) for k, q in zip(pk, pq))
    return total / z_q.shape[0]


def test_similarity_mining_loss_equals_eq_9_computed_in_a_loop():
    g = torch.Generator().manual_seed(0)
    z_q, z_k = (F.normalize(torch.randn(4, 5, generator=g), dim=1) for _ in range(2))
    bank = F.normalize(torch.randn(7, 5, generator=g), dim=1)
    loss = similarity_mining_loss(z_q, z_k, bank, 0.1, 0.04)
    assert loss.item() == pytest.approx(similarity_mining_by_loop(z_q, z_k, bank, 0.1, 0.04), rel=1e-5)
    # The offline distribution is the target: gradient reaches z_q only; the bank entries with
    # p_k > p_q are pulled closer (their similarity to z_q rises after a small step).
    zq, zk = z_q.clone().requires_grad_(True), z_k.clone().requires_grad_(True)
    similarity_mining_loss(zq, zk, bank).backward()
    assert zk.grad is None and zq.grad is not None
    pq, pk = (z_q @ bank.t() / 0.1).softmax(1), (z_k @ bank.t() / 0.04).softmax(1)
    moved = F.normalize(z_q - 0.01 * zq.grad, dim=1)
    rises = (moved @ bank.t()) > (z_q @ bank.t())
    favoured = pk - pq > 0.05
    assert torch.all(rises[favoured])


def test_release_similarity_mining_squares_online_sims_and_keeps_the_top_k_below_the_ceiling():
    g = torch.Generator().manual_seed(1)
    z_q, z_k = (F.normalize(torch.randn(3, 4, generator=g), dim=1) for _ in range(2))
    bank = F.normalize(torch.randn(9, 4, generator=g), dim=1)
    bank[0] = z_k[0]  # a near-copy of a key (its own earlier entry): dropped by the ceiling
    loss = similarity_mining_loss(z_q, z_k, bank, 0.1, 0.04, query_power=2, bank_topk=4, target_ceiling=0.95)
    ref = similarity_mining_by_loop(z_q, z_k, bank, 0.1, 0.04, power=2, topk=4, ceiling=0.95)
    assert loss.item() == pytest.approx(ref, rel=1e-5)
    # Without the options it is eq. 9 again, and the options change the value.
    plain = similarity_mining_loss(z_q, z_k, bank, 0.1, 0.04)
    assert plain.item() == pytest.approx(similarity_mining_by_loop(z_q, z_k, bank, 0.1, 0.04), rel=1e-5)
    assert abs(plain.item() - loss.item()) > 1e-3
    with pytest.raises(ValueError, match="bank_topk"):
        similarity_mining_loss(z_q, z_k, bank, bank_topk=10)
    with pytest.raises(ValueError, match="query_power"):
        similarity_mining_loss(z_q, z_k, bank, query_power=3)


def test_average_motion_is_the_training_mean_and_the_anchor_takes_the_methods_view():
    g = torch.Generator().manual_seed(0)
    data = [(torch.randn(3, 12, 25, 2, generator=g), 0, i) for i in range(300)]  # more than one loader batch
    m = build_method({"name": "actclr", "encoder": TINY_STGCN, "bank_size": 8, "view": "bone"},
                     DatasetInfo(layout="ntu25", num_frames=12))
    m.setup(data)
    stacked = torch.stack([d[0] for d in data])
    np.testing.assert_allclose(m.average_motion, stacked.mean(dim=0), rtol=1e-5, atol=1e-6)
    from skelssl.data.views import to_view

    # Views are linear, so the anchor (the average's bone view) is the average of the bone views.
    np.testing.assert_allclose(m.anchor(12)[0], to_view(stacked, "bone", "ntu25").mean(dim=0), rtol=1e-4, atol=1e-5)
    # The anchor travels in the state dict, whatever its shape.
    other = build_method({"name": "actclr", "encoder": TINY_STGCN, "bank_size": 8, "view": "bone"},
                         DatasetInfo(layout="ntu25", num_frames=12))
    other.load_state_dict(m.state_dict())
    assert torch.equal(other.average_motion, m.average_motion)


def test_actclr_step_is_eq_9_between_the_gap_online_and_safp_offline_streams():
    torch.manual_seed(0)
    m = build_method({"name": "actclr", "encoder": TINY_STGCN, "bank_size": 8, "augment": None,
                      "actionlet_augment": None, "adain_p": 0.0, "noise_std": 0.0, "mix_modes": []},
                     DatasetInfo(layout="ntu25", num_frames=12))
    x = torch.randn(6, 3, 12, 25, 1)
    m.setup([(x[i], 0, i) for i in range(6)])
    bank = m.bank.snapshot()
    out = m((x, None, None), 0)
    with torch.no_grad():
        dense = m.key.backbone.forward_features(torch.cat([x, m.anchor(12)]))
        act = m.extractor(dense[:6], m.key.projector(m.key.backbone.pool(dense[6:])),
                          lambda d: m.key.projector(m.key.backbone.pool(d)))
        z_k = F.normalize(m.key.projector(safp(dense[:6], act.mask)), dim=1)
    z_q = F.normalize(m.query(x), dim=1)
    assert out["loss"].item() == pytest.approx(similarity_mining_loss(z_q, z_k, bank).item(), rel=1e-5)
    assert torch.allclose(m.bank.queue[:6], z_k, atol=1e-6)  # offline embeddings enter the bank


def smooth_motions(n: int = 16, t: int = 24, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    base, amp = torch.randn(n, 3, 1, 25, 1, generator=g), torch.randn(n, 3, 1, 25, 1, generator=g)
    phase = 6.28 * torch.rand(n, 1, 1, 1, 1, generator=g)
    freq = 0.02 + 0.04 * torch.rand(n, 1, 1, 1, 1, generator=g)
    return base + amp * torch.sin(6.28 * freq * torch.arange(float(t))[None, None, :, None, None] + phase)


def test_eq_9_alone_collapses_from_random_weights_which_is_why_stage_1_exists():
    torch.manual_seed(0)
    x = smooth_motions()
    m = build_method({"name": "actclr", "encoder": {"name": "stgcn", "channels": [8] * 9 + [16]},
                      "feature_dim": 16, "bank_size": 32, "momentum": 0.99}, DatasetInfo(layout="ntu25", num_frames=24))
    m.setup([(x[i], 0, i) for i in range(16)])
    opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(30):
        out = m((x, None, None), 0)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        m.after_optimizer_step()
        losses.append(out["loss"].item())
    assert np.mean(losses[-5:]) > 0.99 * math.log(32)  # uniform over the bank: every embedding alike
    # With stage1_epochs the same streams train with InfoNCE first (the loss is MoCo's).
    m.stage1_epochs = 1
    out = m((x, None, None), 0)
    assert out["stage1"].item() == 1.0


def test_stage1_starts_both_streams_from_an_aimclr_run(tmp_path):
    import skelssl
    from skelssl.data.prepare import prepare_dataset

    prepare_dataset("synthetic", tmp_path / "data", reader_options={"num_samples": 40}, workers=1, progress=False)
    cfg = tmp_path / "aimclr.yaml"
    cfg.write_text("base: aimclr_synthetic.yaml\nmethod: {encoder: {name: stgcn, channels: [4,4,4,4,4,4,4,4,4,8]},"
                   " queue_size: 16}\ndata: {batch_size: 8}\n"
                   "train: {epochs: 1, tensorboard: false, progress: false}\n")
    run = skelssl.pretrain(cfg, data=tmp_path / "data", run_dir=tmp_path / "aimclr", quiet=True)
    from skelssl.data.dataset import SkeletonDataset
    from skelssl.protocols.encoders import load_method_weights, read_run_config

    aim = build_method(read_run_config(run).method, DatasetInfo(layout="ntu25", num_frames=50))
    load_method_weights(aim, run)
    act = build_method({"name": "actclr", "encoder": TINY_STGCN, "bank_size": 8, "stage1": str(run)},
                       DatasetInfo(layout="ntu25", num_frames=50))
    act.setup(SkeletonDataset(tmp_path / "data", protocol="xsub", part="train"))
    for name, p in aim.query.state_dict().items():
        assert torch.equal(act.query.state_dict()[name], p) and torch.equal(act.key.state_dict()[name], p)
    wrong = build_method({"name": "actclr", "encoder": TINY_STGCN, "bank_size": 8, "stage1": str(run),
                          "view": "motion"}, DatasetInfo(layout="ntu25", num_frames=50))
    with pytest.raises(ValueError, match="trained on the 'joint' view"):
        wrong.setup(SkeletonDataset(tmp_path / "data", protocol="xsub", part="train"))


@pytest.mark.parametrize("preset, expected", [
    ("actclr_nucla_t8_wo_t", {"actionlet_augment": None, "adain": None, "noise": None, "mix": None}),
    ("actclr_nucla_t8_wo_adain_tnon", {"adain": None, "noise": None, "mix": None}),
    ("actclr_nucla_t8_wo_tnon", {"noise": None, "mix": None}),
    ("actclr_nucla_t9_no_safp", {"safp": "none"}),
    ("actclr_nucla_t9_online_safp", {"safp": "online"}),
    ("actclr_nucla_t9_both_safp", {"safp": "both"}),
    ("actclr_nucla_t7_noise01_full", {"noise_region": "full", "mix_region": "non_actionlet"}),
    ("actclr_nucla_t7_mix_full", {"noise_region": "non_actionlet", "mix_region": "full"}),
])
def test_ablation_presets_switch_only_their_rows_parts(preset, expected):
    from skelssl.engine.config import load_config

    cfg = load_config(preset)
    assert cfg.method.bank_size == 512 and cfg.data.dataset == "nucla"
    m = build_method({**cfg.method, "encoder": TINY_STGCN}, DatasetInfo(layout="kinect20", num_frames=12))
    full = build_method({**load_config("actclr_nucla").method, "encoder": TINY_STGCN},
                        DatasetInfo(layout="kinect20", num_frames=12))
    for key, value in expected.items():
        assert getattr(m, key) == value
    untouched = {"actionlet_augment", "adain", "noise", "mix", "safp", "noise_region", "mix_region"} - set(expected)
    for key in untouched:
        mine, base = getattr(m, key), getattr(full, key)
        assert (mine is None) == (base is None) and (not isinstance(mine, str) or mine == base)
    if preset.endswith("noise01_full"):
        assert m.noise.std == pytest.approx(0.1) and full.noise.std == pytest.approx(0.05)


def test_actionlet_pictures_of_a_trained_run(tmp_path):
    import json

    import skelssl
    from skelssl.data.prepare import prepare_dataset

    prepare_dataset("synthetic", tmp_path / "data", reader_options={"num_samples": 40}, workers=1, progress=False)
    cfg = tmp_path / "actclr.yaml"
    cfg.write_text("base: actclr_synthetic.yaml\nmethod: {encoder: {name: stgcn, channels: [4,4,4,4,4,4,4,4,4,8]},"
                   " bank_size: 16, stage1_epochs: 1}\ndata: {batch_size: 8}\n"
                   "train: {epochs: 2, tensorboard: false, progress: false}\n")
    run = skelssl.pretrain(cfg, data=tmp_path / "data", run_dir=tmp_path / "run", quiet=True)
    r = skelssl.evaluate(run, "actionlet", quiet=True, overrides=["protocol.sample=2", "protocol.frames=4"])["joint"]
    out = tmp_path / "run" / "eval" / "actionlet"
    from PIL import Image

    for name in ("average_motion.png", "actionlet.png"):
        assert Image.open(out / name).size[0] > 400
    gif = Image.open(out / "actionlet.gif")
    assert gif.n_frames == 50  # one per clip frame
    saved = json.loads((out / "results.json").read_text())
    assert saved["sample_index"] == r["sample_index"] and len(saved["joints_by_share"]) == 25
    assert 0.0 <= saved["actionlet_share"] <= 1.0
