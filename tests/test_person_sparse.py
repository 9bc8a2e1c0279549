"""Person-sparse graph encoding: only non-empty body slots go through the backbone.

Checked against the definition (backbone on the present bodies alone, features
averaged over them), against the reference behaviour bit for bit with the
switch off, and on samples with no body at all.
"""

from __future__ import annotations

import copy

import pytest
import torch

from skelssl.models import create_encoder
from skelssl.models.gcn import present_bodies

GCNS = ["stgcn", "agcn", "asgcn"]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def encoder(name: str, **kw) -> torch.nn.Module:
    torch.manual_seed(0)
    return create_encoder(name, layout="ntu25", width=0.125, **kw)


def ntu_batch(n: int = 6, seed: int = 0) -> torch.Tensor:
    """Two body slots; samples 0 and 3 have two bodies, sample 4 none, the rest only body 0."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, 12, 25, 2, generator=g)
    x[..., 1] = 0
    x[0, ..., 1] = torch.randn(3, 12, 25, generator=g)
    x[3, ..., 1] = torch.randn(3, 12, 25, generator=g)
    x[4] = 0
    return x


def test_present_bodies_marks_non_empty_slots_and_first_slot_of_empty_samples():
    x = ntu_batch()
    x[5, 0, 3, 7, 0] = 0  # one zero coordinate does not make a body absent
    expected = torch.tensor([[1, 1], [1, 0], [1, 0], [1, 1], [1, 0], [1, 0]], dtype=torch.bool)
    assert torch.equal(present_bodies(x), expected)
    only_second = torch.zeros(1, 3, 4, 25, 2)
    only_second[..., 1] = 1.0
    assert torch.equal(present_bodies(only_second), torch.tensor([[False, True]]))


def by_definition(enc: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The backbone on the stacked present bodies, per-body GAP, then each sample's average."""
    present = present_bodies(x)
    bodies = torch.stack([x[i, ..., j] for i in range(len(x)) for j in range(x.shape[-1]) if present[i, j]])
    maps = enc.backbone(bodies.unsqueeze(-1))  # (P, D, T', V)
    per_body = maps.mean(dim=(-2, -1))
    owner = [i for i in range(len(x)) for j in range(x.shape[-1]) if present[i, j]]
    pooled = torch.stack([per_body[[k for k, o in enumerate(owner) if o == i]].mean(0) for i in range(len(x))])
    return maps, pooled


@pytest.mark.parametrize("name", GCNS)
@pytest.mark.parametrize("train", [False, True])
def test_equals_backbone_on_present_bodies_averaged(name, train):
    enc = encoder(name)
    x = ntu_batch()
    enc.train(train)
    if name == "asgcn":  # its Gumbel links are sampled in train mode: compare deterministic eval only
        enc.eval()
    with torch.no_grad():
        maps, expected = by_definition(enc, x)
        assert torch.allclose(enc(x), expected, atol=1e-5)
        dense, pooled = enc.features(x)
    assert torch.allclose(pooled, expected, atol=1e-5)
    # Present slots carry their own map; the empty slot of a one-body sample carries that body's map.
    assert torch.allclose(dense[0, 1], maps[1], atol=1e-5) and torch.allclose(dense[1, 0], maps[2], atol=1e-5)
    assert torch.allclose(dense[1, 1], dense[1, 0], atol=1e-6)


@pytest.mark.parametrize("name", GCNS)
def test_switch_off_is_the_reference_bit_for_bit(name):
    enc = encoder(name, person_sparse=False).eval()
    x = ntu_batch()
    with torch.no_grad():
        # The pre-person-sparse forward: every slot through the backbone, averaged over all M.
        h = enc.backbone(x)
        reference = h.view(x.shape[0], 2, *h.shape[1:]).mean(dim=(-2, -1)).mean(dim=1)
        assert torch.equal(enc(x), reference)
        sparse = copy.deepcopy(enc)
        sparse.person_sparse = True
        assert not torch.allclose(sparse(x), reference, atol=1e-3)  # empty slots change the average
        full = torch.randn(3, 3, 12, 25, 2)  # every slot present: both paths are the same computation
        assert torch.equal(sparse(full), enc(full))


def test_sample_without_bodies_is_finite_and_equals_encoding_one_zero_body():
    enc = encoder("stgcn").eval()
    x = ntu_batch()
    with torch.no_grad():
        out = enc(x)
        assert torch.isfinite(out).all()
        zero_body = enc.person_sparse and enc(torch.zeros(1, 3, 12, 25, 1))
        assert torch.allclose(out[4], zero_body[0], atol=1e-5)


def test_gradients_match_the_definition_in_train_mode():
    enc = encoder("stgcn").train()
    twin = copy.deepcopy(enc)
    x = ntu_batch()
    enc(x).square().sum().backward()
    by_definition(twin, x)[1].square().sum().backward()
    for (name, a), b in zip(enc.named_parameters(), twin.parameters()):
        assert torch.allclose(a.grad, b.grad, atol=1e-5, rtol=1e-4), name


def test_option_is_validated():
    assert encoder("stgcn").person_sparse and not encoder("stgcn", num_person=2).person_sparse
    with pytest.raises(ValueError, match="shared data BN"):
        encoder("agcn", num_person=2, person_sparse=True)
    from skelssl.methods.base import check_encoder_spec

    check_encoder_spec({"name": "stgcn_quarter", "person_sparse": False}, "method.encoder")
    with pytest.raises(ValueError, match="did you mean 'method.encoder.person_sparse'"):
        check_encoder_spec({"name": "stgcn_quarter", "person_sparce": False}, "method.encoder")


def test_three_slots_with_two_bodies_fill_the_empty_slot_with_their_mean():
    enc = encoder("stgcn").eval()
    x = torch.randn(3, 3, 12, 25, 3)
    x[0, ..., 2] = 0  # two bodies and an empty slot: the slot holds their mean map
    x[1, ..., 1:] = 0  # one body
    with torch.no_grad():
        dense, pooled = enc.features(x)
        maps = enc.backbone(x[0].permute(3, 0, 1, 2)[:2].unsqueeze(-1))
        assert torch.allclose(dense[0, 2], maps.mean(0), atol=1e-5)
        assert torch.allclose(dense[1, 2], dense[1, 0], atol=1e-6)
        assert torch.allclose(pooled, enc(x), atol=1e-5)
        assert torch.allclose(pooled[0], maps.mean(dim=(0, 2, 3)), atol=1e-5)
