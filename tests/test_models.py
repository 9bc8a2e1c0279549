"""Model zoo: registries, parameter counts, shapes and value properties on every layout."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F

from skelssl.data.graph import partition_adjacency
from skelssl.data.layouts import get_layout
from skelssl.models import (
    Discriminator,
    LinearClassifier,
    MessageAggregation,
    ProjectionMLP,
    TwoLayerClassifier,
    create_decoder,
    create_encoder,
    create_head,
    list_decoders,
    list_encoders,
    list_heads,
    register_encoder,
)
from skelssl.models.gcn import TemporalConv, channel_plan, graph_linear, set_fast_paths
from skelssl.models.registry import ENCODERS
from skelssl.models.stgcn import STGCN

LAYOUTS = ["ntu25", "kinect20", "openpose18"]
GCNS = ["stgcn", "agcn", "asgcn"]
RNNS = ["bigru", "lstm"]
STRIDES = (1, 1, 1, 1, 2, 1, 1, 2, 1, 1)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Tiny tensors: one thread avoids OpenMP hand-offs that dominate on a busy 2-core box.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def small(name: str, layout: str, **kw):
    """Narrow GCNs (width 1/8) and RNNs (hidden 32) keep the property tests fast."""
    c = get_layout(layout).num_channels
    if name in GCNS:
        kw.setdefault("width", 0.125)
    else:
        kw.setdefault("hidden_size", 32)
    return create_encoder(name, layout=layout, in_channels=c, **kw)


def skeleton(layout: str, n: int = 2, t: int = 12, m: int = 2, seed: int = 0) -> torch.Tensor:
    lay = get_layout(layout)
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, lay.num_channels, t, lay.num_joints, m, generator=g)


def settle(model: torch.nn.Module, x: torch.Tensor) -> torch.nn.Module:
    """A few train-mode passes so BatchNorm running stats are not the identity, then eval."""
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(x)
    return model.eval()


# --------------------------------------------------------------------------- registry


def test_registries_list_everything():
    assert list_encoders() == ["agcn", "asgcn", "bigru", "lstm", "resnet", "resnet_small", "stgcn", "stgcn_quarter"]
    assert list_decoders() == ["gru_inpaint", "stgcn_upsample"]
    assert list_heads() == ["discriminator", "linear", "message_aggregation", "projection", "two_layer"]
    with pytest.raises(KeyError, match="unknown encoder"):
        create_encoder("resnet50")


def test_alias_defaults_can_be_overridden_and_registered():
    enc = create_encoder("stgcn_quarter", in_channels=2, layout="kinect20")
    assert enc.channels == (16, 16, 16, 16, 32, 32, 32, 64, 64, 256) and enc.feature_dim == 256
    assert create_encoder("stgcn_quarter", feature_dim=128).feature_dim == 128

    @register_encoder("stgcn_eighth_test", width=0.125)
    def _eighth(**kw):
        return STGCN(**kw)

    try:
        assert create_encoder("stgcn_eighth_test").feature_dim == 32
        with pytest.raises(ValueError, match="already registered"):
            register_encoder("stgcn_eighth_test")(_eighth)
    finally:
        ENCODERS._entries.pop("stgcn_eighth_test")


# --------------------------------------------------------------------------- parameter counts


def stgcn_formula(c_in: int, v: int, plan=None, k: int = 3, kt: int = 9) -> int:
    """Independent count of the reference ST-GCN (conv 1×1 to K·C_out, BN, 9×1 conv, BN, residual)."""
    plan = plan or channel_plan(0.25, 256)
    total = 2 * v * c_in  # data BN over V·C
    prev = c_in
    for i, (c, s) in enumerate(zip(plan, STRIDES)):
        total += prev * k * c + k * c  # gcn 1×1 conv with bias
        total += 2 * c + kt * c * c + c + 2 * c  # BN, temporal conv, BN
        if i > 0 and (prev != c or s != 1):
            total += prev * c + c + 2 * c  # residual 1×1 conv + BN
        total += k * v * v  # edge importance
        prev = c
    return total


def agcn_formula(c_in: int, v: int, plan=None, k: int = 3, kt: int = 9) -> int:
    plan = plan or channel_plan(1.0)
    total = 2 * v * c_in
    prev = c_in
    for i, (c, s) in enumerate(zip(plan, STRIDES)):
        e = c // 4
        total += k * (prev * c + c) + k * v * v + 2 * k * (prev * e + e) + 2 * c  # conv_d, B, θ/φ, BN
        if prev != c:
            total += prev * c + c + 2 * c  # unit_gcn's own "down" residual
        total += kt * c * c + c + 2 * c
        if i > 0 and (prev != c or s != 1):
            total += prev * c + c + 2 * c
        prev = c
    return total


def rnn_formula(frame_dim: int, hidden: int, layers: int, gates: int, directions: int = 2) -> int:
    total = 0
    d = frame_dim
    for _ in range(layers):
        total += directions * gates * (hidden * (d + hidden) + 2 * hidden)
        d = hidden * directions
    return total


def test_stgcn_quarter_matches_crossclr_count():
    enc = create_encoder("stgcn_quarter", in_channels=3, layout="ntu25")
    assert n_params(enc) == stgcn_formula(3, 25) == 821_380
    # CrosSCLR's ≈0.84M is this backbone plus its 256→60 classifier.
    total = n_params(enc) + n_params(LinearClassifier(256, 60))
    assert total == 836_800 and math.isclose(total / 1e6, 0.84, abs_tol=0.005)


@pytest.mark.parametrize(
    "name, layout, expected",
    [
        ("stgcn", "ntu25", 3_083_412),
        ("stgcn_quarter", "kinect20", 814_600),
        ("stgcn_quarter", "openpose18", 812_308),
        ("agcn", "ntu25", 3_453_940),
        ("agcn", "openpose18", 3_444_868),
        ("asgcn", "ntu25", 4_810_752),
        ("bigru", "ntu25", 11_489_280),
        ("lstm", "ntu25", 15_319_040),
        ("bigru", "kinect20", 11_397_120),
    ],
)
def test_parameter_counts(name, layout, expected):
    enc = create_encoder(name, layout=layout, in_channels=3)
    assert n_params(enc) == expected
    v = get_layout(layout).num_joints
    if name == "stgcn":
        assert expected == stgcn_formula(3, v, channel_plan(1.0))
    elif name == "stgcn_quarter":
        assert expected == stgcn_formula(3, v)
    elif name == "agcn":
        # 2s-AGCN's published ≈3.47M adds a 256→60 fc and per-person (M·V·C) data BN.
        assert expected == agcn_formula(3, v)
    elif name in RNNS:
        assert expected == rnn_formula(2 * v * 3, 512, 3, 3 if name == "bigru" else 4)


def test_asgcn_count_decomposes_into_backbone_and_link_module():
    enc = create_encoder("asgcn", layout="ntu25")
    links = n_params(enc.links)
    h, f = 128, 16
    assert links == (3 * f * h + h + h * h + h) + (2 * h * h + h + h * h + h) + (h * h + h + h * h + h) + (
        3 * h * h + h + h * h + h
    ) + (h * 4 + 4)
    # 7 structural subsets (spatial partition, 3 hops) + 3 actional types per block.
    backbone = stgcn_formula(3, 25, channel_plan(1.0), k=10) - 10 * 10 * 25 * 25 + 10 * 7 * 25 * 25
    assert n_params(enc) == backbone + links


def test_decoder_and_head_counts():
    gru = create_decoder("gru_inpaint", feature_dim=1024)
    frame = 2 * 25 * 3
    init, out = 1024 * 2 * 512 + 2 * 512, 512 * frame + frame
    assert n_params(gru) == rnn_formula(frame + 1024, 512, 2, 3, directions=1) + init + out == 5_295_254
    dec = create_decoder("stgcn_upsample", feature_dim=256, rate=2)
    blocks = stgcn_formula(256, 25, (128, 64)) - 2 * 25 * 256  # no data BN…
    blocks += 256 * 128 + 128 + 2 * 128  # …and block 1 has a residual too (256 ≠ 128)
    assert n_params(dec) == blocks + (64 * 3 * 64 + 3 * 64) + (64 * 3 * 2 + 3) == 366_889
    assert n_params(ProjectionMLP(256, 128)) == 256 * 256 + 256 + 256 * 128 + 128
    assert n_params(Discriminator(128, 64)) == 128 * 64 + 64 + 2 * (64 * 64 + 64) + 64 + 1
    assert n_params(MessageAggregation(128, 32, 64)) == 128 * 64 + 64 + 64 * 64 + 64 + 64 * 32 + 32


# --------------------------------------------------------------------------- encoder shapes


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", GCNS + RNNS)
def test_encoder_shapes(name, layout):
    enc = small(name, layout)
    x = skeleton(layout, t=13)
    v = get_layout(layout).num_joints
    feats = enc.forward_features(x)
    out = enc(x)
    assert out.shape == (2, enc.feature_dim)
    if name in GCNS:
        assert feats.shape == (2, 2, enc.feature_dim, 4, v)  # 13 → 7 → 4 frames
        enc.eval()  # AS-GCN samples its links in train mode
        assert torch.allclose(enc.pool(enc.forward_features(x)), enc(x), atol=1e-6)
    else:
        assert feats.shape == (2, 1, enc.feature_dim, 13, 1)
    assert torch.isfinite(out).all()


def test_encoder_rejects_wrong_joint_count():
    with pytest.raises(ValueError, match="joints"):
        small("stgcn", "ntu25")(skeleton("kinect20"))


# --------------------------------------------------------------------------- value properties


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", GCNS)
def test_gcn_person_handling(name, layout):
    enc = settle(small(name, layout), skeleton(layout, n=4, seed=1))
    x = skeleton(layout)
    with torch.no_grad():
        f = enc(x)
        # Persons are folded into the batch and averaged: their order is irrelevant…
        assert torch.allclose(enc(x.flip(-1)), f, atol=1e-5)
        assert torch.equal(enc(x), f)  # eval mode is deterministic (AS-GCN: argmax links)
        # …and a zero second person is skipped (person-sparse, the default)…
        one = x[..., :1]
        padded = torch.cat((one, torch.zeros_like(one)), dim=-1)
        assert torch.allclose(enc(padded), enc(one), atol=1e-5)
        # …or, with the reference behaviour, counts as a person whose features are averaged in.
        enc.person_sparse = False
        expected = (enc(one) + enc(torch.zeros_like(one))) / 2
        assert torch.allclose(enc(padded), expected, atol=1e-5)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", RNNS)
def test_rnn_person_handling_and_pooling(name, layout):
    enc = small(name, layout).eval()
    x = skeleton(layout)
    with torch.no_grad():
        one = x[..., :1]
        # The RNN sees persons side by side; a missing person is a zero person.
        assert torch.equal(enc(one), enc(torch.cat((one, torch.zeros_like(one)), dim=-1)))
        assert not torch.allclose(enc(x.flip(-1)), enc(x))
        seq = enc.forward_features(x)[:, 0, :, :, 0]  # (N, 2H, T)
        assert torch.allclose(enc(x), seq.mean(-1), atol=1e-6)
        enc.pooling = "last"
        h = seq.shape[1] // 2
        last = torch.cat((seq[:, :h, -1], seq[:, h:, 0]), dim=1)  # forward ends at T-1, backward at 0
        assert torch.allclose(enc(x), last, atol=1e-6)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_gradients_reach_graph_parameters(layout):
    x = skeleton(layout)
    stgcn = small("stgcn", layout)
    stgcn(x).square().sum().backward()
    for block in stgcn.blocks:
        g = block.spatial.edge_importance.grad
        assert g is not None and g.abs().sum() > 0

    agcn = small("agcn", layout)
    agcn(x).square().sum().backward()
    for block in agcn.blocks:
        assert block.spatial.B.grad.abs().sum() > 0 and block.spatial.embed_weight.grad.abs().sum() > 0

    asgcn = small("asgcn", layout)
    asgcn(x).square().sum().backward()
    assert asgcn.blocks[3].spatial.edge_importance.grad.abs().sum() > 0
    assert asgcn.links.out.weight.grad.abs().sum() > 0  # straight-through Gumbel


def test_asgcn_links_are_normalised_graphs():
    enc = small("asgcn", "ntu25").eval()
    h = enc.data_bn(skeleton("ntu25"))
    links = enc.links(h)
    assert links.shape == (4, 3, 25, 25)
    assert torch.allclose(links.sum(dim=-2), torch.ones(4, 3, 25))
    assert (torch.diagonal(links, dim1=-2, dim2=-1) > 0).all()


def test_graph_linear_matches_reference_einsum_with_gradients():
    g = torch.Generator().manual_seed(0)
    dt = torch.float64
    base = torch.from_numpy(partition_adjacency("ntu25")).to(dt)
    for c_in in (3, 8):  # 3 takes the dense-operator path, 8 the aggregate-then-GEMM path
        for per_sample in (False, True):
            imp = torch.rand((2, 3, 25, 25) if per_sample else (3, 25, 25), generator=g, dtype=dt)
            x = torch.randn(2, c_in, 5, 25, generator=g, dtype=dt).contiguous(memory_format=torch.channels_last)
            w = torch.randn(3 * 6, c_in, generator=g, dtype=dt)
            b = torch.randn(3 * 6, generator=g, dtype=dt)
            leaves = [t.requires_grad_() for t in (x, w, b, imp)]
            adj = base * imp
            y = (torch.einsum("nctv,oc->notv", x, w) + b[:, None, None]).view(2, 3, 6, 5, 25)
            ref = torch.einsum("nkctv,nkvw->nctw" if per_sample else "nkctv,kvw->nctw", y, adj)
            out = graph_linear(x, adj, w, b)
            assert out.is_contiguous(memory_format=torch.channels_last)
            assert torch.allclose(out, ref, atol=1e-10)
            probe = torch.randn(ref.shape, generator=g, dtype=dt)
            grads_ref = torch.autograd.grad((ref * probe).sum(), leaves, retain_graph=True)
            grads = torch.autograd.grad((out * probe).sum(), leaves)
            for a, r in zip(grads, grads_ref):
                assert torch.allclose(a, r, atol=1e-9)


def test_agcn_data_graph_matches_original_formula():
    enc = settle(small("agcn", "ntu25"), skeleton("ntu25", n=4, seed=2))
    unit = enc.blocks[1].spatial
    x = torch.randn(3, unit.gcn.in_channels, 6, 25)
    e, k = unit.embed_channels, 3
    wa, wb = unit.embed_weight[: k * e], unit.embed_weight[k * e :]
    ba, bb = unit.embed_bias[: k * e], unit.embed_bias[k * e :]
    with torch.no_grad():
        got = unit.data_graph(x.contiguous(memory_format=torch.channels_last))
        for i in range(k):
            a1 = F.conv2d(x, wa[i * e : (i + 1) * e, :, None, None], ba[i * e : (i + 1) * e])
            a2 = F.conv2d(x, wb[i * e : (i + 1) * e, :, None, None], bb[i * e : (i + 1) * e])
            a1 = a1.permute(0, 3, 1, 2).reshape(3, 25, -1)
            a2 = a2.reshape(3, -1, 25)
            ref = torch.softmax(a1 @ a2 / a1.shape[-1], dim=-2)
            assert torch.allclose(got[:, i], ref, atol=1e-5)


def test_eval_bn_folding_matches_unfolded():
    tc = TemporalConv(4, 6, 9, 2)
    x = torch.randn(3, 4, 11, 7).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        tc(x)  # update running stats
        tc.eval()
        ref = F.batch_norm(tc.conv(x), tc.bn.running_mean, tc.bn.running_var, tc.bn.weight, tc.bn.bias, False,
                           0.0, tc.bn.eps)
        assert torch.allclose(tc(x), ref, atol=1e-5)
    enc = settle(small("stgcn", "kinect20"), skeleton("kinect20", n=4))
    spatial = enc.blocks[2].spatial
    h = torch.randn(2, spatial.gcn.in_channels, 5, 20).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        y = graph_linear(h, spatial.adjacency(), spatial.gcn.weight, spatial.gcn.bias)
        bn = spatial.bn
        ref = F.batch_norm(y, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps).relu()
        assert torch.allclose(spatial(h), ref, atol=1e-5)


def test_train_mode_dropout_and_gumbel_are_stochastic_but_eval_is_not():
    x = skeleton("ntu25")
    enc = small("stgcn", "ntu25", dropout=0.5)
    assert not torch.allclose(enc(x), enc(x))
    enc.eval()
    assert torch.equal(enc(x), enc(x))


# --------------------------------------------------------------------------- decoders


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("rate", [1, 2, 3, 4])
def test_stgcn_decoder_upsamples_time_exactly(layout, rate):
    lay = get_layout(layout)
    enc = small("stgcn", layout)
    dec = create_decoder("stgcn_upsample", feature_dim=enc.feature_dim, out_channels=lay.num_channels,
                         layout=layout, rate=rate, hidden=(16, 8))
    feats = enc.forward_features(skeleton(layout, t=20))  # T' = 5
    out = dec(feats)
    assert out.shape == (2, lay.num_channels, 5 * rate, lay.num_joints, 2)
    dec.eval()
    with torch.no_grad():
        # Persons are decoded independently: swapping them in swaps them out.
        assert torch.allclose(dec(feats.flip(1)), dec(feats).flip(-1), atol=1e-6)
    out.square().mean().backward()
    assert enc.blocks[0].spatial.edge_importance.grad is not None


@pytest.mark.parametrize("layout", LAYOUTS)
def test_gru_decoder_inpaints_causally_from_h(layout):
    lay = get_layout(layout)
    dec = create_decoder("gru_inpaint", feature_dim=16, in_channels=lay.num_channels, layout=layout,
                         hidden_size=24).eval()
    x = skeleton(layout, t=10)
    mask = torch.rand(x.shape, generator=torch.Generator().manual_seed(3)) < 0.5
    masked = x * mask
    h = torch.randn(2, 16)
    with torch.no_grad():
        out = dec(masked, h)
        assert out.shape == x.shape
        # Unidirectional: frames before t do not see the input at t and later.
        later = masked.clone()
        later[:, :, 6:] = 0
        assert torch.allclose(dec(later, h)[:, :, :6], out[:, :, :6], atol=1e-6)
        assert not torch.allclose(dec(later, h)[:, :, 6:], out[:, :, 6:])
        # The reconstruction is conditioned on h.
        assert not torch.allclose(dec(masked, h + 1), out)
    with pytest.raises(ValueError, match="M=2"):
        dec(masked[..., :1], h)


# --------------------------------------------------------------------------- heads


def test_heads():
    f = torch.randn(5, 32)
    proj = ProjectionMLP(32, 8)
    assert [type(m).__name__ for m in proj] == ["Linear", "ReLU", "Linear"]
    assert proj(f).shape == (5, 8)
    bn = create_head("projection", in_dim=32, out_dim=8, hidden_dim=16, num_layers=3, batch_norm=True)
    assert [type(m).__name__ for m in bn] == ["Linear", "BatchNorm1d", "ReLU"] * 2 + ["Linear"]
    assert bn(f).shape == (5, 8)
    assert create_head("linear", in_dim=32, num_classes=60)(f).shape == (5, 60)
    two = TwoLayerClassifier(32, 10, hidden_dim=16, dropout=0.1)
    assert two(f).shape == (5, 10) and sum(isinstance(m, torch.nn.Linear) for m in two) == 2
    disc = Discriminator(32, 16)
    assert disc(f).shape == (5,) and sum(isinstance(m, torch.nn.Linear) for m in disc) == 4
    agg = MessageAggregation(32, hidden_dim=16)
    assert agg(f).shape == (5, 32) and sum(isinstance(m, torch.nn.Linear) for m in agg) == 3
    with pytest.raises(ValueError):
        ProjectionMLP(32, 8, num_layers=0)


@pytest.mark.parametrize("stride", [(1, 1), (2, 1), (2, 2)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_pointwise_conv_matches_conv2d_with_gradients(stride, channels_last):
    from skelssl.models.base import pointwise_conv2d

    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 8, 11, 7, generator=g)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    w = torch.randn(5, 8, 1, 1, generator=g, requires_grad=True)
    b = torch.randn(5, generator=g, requires_grad=True)
    ref = F.conv2d(x, w, b, stride)
    out = pointwise_conv2d(x, w, b, stride)
    assert out.shape == ref.shape and torch.allclose(out, ref, atol=1e-5)
    (gw_ref, gb_ref) = torch.autograd.grad(ref.square().sum(), (w, b))
    (gw, gb) = torch.autograd.grad(out.square().sum(), (w, b))
    assert torch.allclose(gw, gw_ref, atol=1e-4) and torch.allclose(gb, gb_ref, atol=1e-4)


@pytest.mark.parametrize("name", sorted(ENCODERS.names()))
def test_weight_gradients_keep_the_parameter_layout(name):
    # DDP's gradient buckets use each parameter's strides; a gradient laid out otherwise made every rank
    # warn "Grad strides do not match bucket view strides" under torchrun (the 1x1 residual/shortcut convs
    # got channels-last weight gradients from oneDNN).
    enc = create_encoder(name, in_channels=3, layout="kinect20")
    enc(torch.randn(2, 3, 16, 20, 1)).square().mean().backward()
    wrong = {n: (tuple(p.stride()), tuple(p.grad.stride())) for n, p in enc.named_parameters()
             if p.grad is not None and p.grad.stride() != p.stride()}
    assert wrong == {}
    assert all(p.grad is not None for p in enc.parameters() if p.requires_grad)


def test_stgcn_decoder_weight_gradients_keep_the_parameter_layout():
    enc = small("stgcn", "kinect20")
    dec = create_decoder("stgcn_upsample", feature_dim=enc.feature_dim, out_channels=3, layout="kinect20", rate=2,
                         hidden=(16, 8))
    dec(enc.forward_features(skeleton("kinect20", t=20))).square().mean().backward()
    wrong = [n for m in (enc, dec) for n, p in m.named_parameters()
             if p.grad is not None and p.grad.stride() != p.stride()]
    assert wrong == []


@pytest.mark.parametrize("name", GCNS)
def test_recomputed_aggregation_gives_the_same_training_step(name):
    """Recomputing the graph aggregation in backward (to save memory) changes no value, gradient or BN stat."""
    torch.manual_seed(0)
    enc = small(name, "ntu25").train()
    twin = set_fast_paths(copy.deepcopy(enc), recompute_aggregation=False)
    x = skeleton("ntu25", n=3)
    torch.manual_seed(1)  # AS-GCN samples its links in train mode
    out = enc(x)
    torch.manual_seed(1)
    ref = twin(x)
    assert torch.allclose(out, ref, atol=1e-6)
    out.square().sum().backward()
    ref.square().sum().backward()
    for (pname, a), b in zip(enc.named_parameters(), twin.parameters()):
        assert torch.allclose(a.grad, b.grad, atol=1e-5, rtol=1e-4), pname
    for (bname, a), b in zip(enc.named_buffers(), twin.buffers()):
        assert torch.equal(a, b), bname


def test_dropout_keeps_each_element_with_probability_1_minus_p_and_rescales():
    from skelssl.models.gcn import Dropout

    torch.manual_seed(0)
    x = torch.ones(200, 16, 10, 25).to(memory_format=torch.channels_last).requires_grad_()
    drop = Dropout(0.3)
    y = drop(x)
    kept = y != 0
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / 0.7))  # survivors scaled by 1/(1-p)
    assert abs(kept.float().mean().item() - 0.7) < 0.005  # 800k draws: ~5 sd
    assert y.is_contiguous(memory_format=torch.channels_last)
    y.sum().backward()
    assert torch.equal(x.grad, kept.float() / 0.7)  # gradient flows through the kept elements only
    assert torch.equal(drop.eval()(x), x)
