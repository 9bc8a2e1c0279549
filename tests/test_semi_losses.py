"""ASSL's and the baselines' loss terms against their equations on small hand-made tensors."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from skelssl.losses.semi import (adversarial_loss, centre_cross_entropy, entropy_from_logits, grad_reverse,
                                 kl_from_logits, local_centre, nearest_neighbours, neighbour_kl, neighbour_weights,
                                 positive_neighbours, vat_loss)
from skelssl.memory import FeatureBank


class SumScorer(nn.Module):
    """Score = -(sum of |differences|): closer neighbours get larger α."""

    def forward(self, diff):
        return -diff.sum(dim=-1, keepdim=True)


def test_alpha_weights_are_softmax_of_scores_of_absolute_differences():
    anchors = torch.tensor([[0.0, 0.0]])
    neighbours = torch.tensor([[[1.0, 0.0], [0.0, -2.0], [3.0, 1.0]]])  # |diff| sums: 1, 2, 4
    alpha = neighbour_weights(SumScorer(), anchors, neighbours)
    z = math.exp(-1) + math.exp(-2) + math.exp(-4)
    assert torch.allclose(alpha, torch.tensor([[math.exp(-1) / z, math.exp(-2) / z, math.exp(-4) / z]]))
    assert torch.allclose(alpha.sum(1), torch.ones(1))


def test_local_centre_is_alpha_weighted_sum():
    alpha = torch.tensor([[0.5, 0.25, 0.25], [1.0, 0.0, 0.0]])
    nb = torch.tensor([[[2.0, 0.0], [0.0, 4.0], [4.0, 4.0]], [[1.0, 1.0], [9.0, 9.0], [9.0, 9.0]]])
    assert torch.allclose(local_centre(alpha, nb), torch.tensor([[2.0, 2.0], [1.0, 1.0]]))


def test_positive_neighbours_compare_nearest_labeled_labels():
    anchor_proxy = torch.tensor([3, 1])
    neighbour_proxy = torch.tensor([[3, 2, 3], [0, 1, 1]])
    assert positive_neighbours(anchor_proxy, neighbour_proxy).tolist() == [[True, False, True], [False, True, True]]


def test_nearest_neighbours_respects_candidates_and_excludes_self():
    bank = torch.tensor([[0.0], [1.0], [2.0], [10.0], [0.1]])
    candidates = torch.tensor([True, True, True, True, False])  # row 4 is closest to row 0 but not a candidate
    idx = nearest_neighbours(torch.tensor([[0.0], [9.0]]), bank, candidates, 2, exclude=torch.tensor([0, 3]))
    assert idx.tolist() == [[1, 2], [2, 1]]
    with pytest.raises(ValueError, match="candidates"):
        nearest_neighbours(torch.zeros(1, 1), bank, torch.tensor([True, False, False, False, False]), 2)


def test_kl_direction_targets_the_centre_prediction():
    centre = torch.tensor([[2.0, 0.0, -1.0]])
    anchor = torch.tensor([[0.0, 1.0, 0.0]])
    p, q = centre.softmax(-1)[0], anchor.softmax(-1)[0]
    expected = float((p * (p / q).log()).sum())  # KL(p(c) || p(anchor))
    assert kl_from_logits(centre, anchor).item() == pytest.approx(expected, rel=1e-6)
    assert kl_from_logits(anchor, centre).item() != pytest.approx(expected, rel=1e-3)


def test_neighbour_kl_sums_anchor_and_positive_neighbours_only():
    torch.manual_seed(0)
    centre, anchor = torch.randn(2, 4), torch.randn(2, 4)
    nb = torch.randn(2, 3, 4)
    positive = torch.tensor([[True, False, True], [False, False, False]])
    expected = 0.0
    for u in range(2):
        term = kl_from_logits(centre[u:u + 1], anchor[u:u + 1])[0]
        for k in range(3):
            if positive[u, k]:
                term = term + kl_from_logits(centre[u:u + 1], nb[u, k:k + 1])[0]
        expected += term / 2
    assert neighbour_kl(centre, anchor, nb, positive).item() == pytest.approx(float(expected), rel=1e-6)


def test_centre_cross_entropy_is_ce_on_the_anchor_label():
    logits = torch.tensor([[2.0, 0.0], [0.0, 3.0]])
    labels = torch.tensor([0, 0])
    expected = (-math.log(math.exp(2) / (math.exp(2) + 1)) - math.log(1 / (1 + math.exp(3)))) / 2
    assert centre_cross_entropy(logits, labels).item() == pytest.approx(expected, rel=1e-6)


def test_gradient_reversal_flips_only_the_backward_sign():
    x = torch.tensor([1.0, -2.0], requires_grad=True)
    y = grad_reverse(x, 0.5)
    assert torch.equal(y, x.detach())
    (y * torch.tensor([3.0, 4.0])).sum().backward()
    assert torch.allclose(x.grad, torch.tensor([-1.5, -2.0]))


def test_adversarial_signs_discriminator_descends_features_ascend():
    torch.manual_seed(0)
    disc = nn.Linear(3, 1)
    disc_fn = lambda z: disc(z).squeeze(-1)  # noqa: E731
    lab = torch.randn(4, 3, requires_grad=True)
    unl = torch.randn(5, 3, requires_grad=True)
    loss = adversarial_loss(disc_fn, lab, unl)
    expected = (F.binary_cross_entropy_with_logits(disc_fn(lab), torch.ones(4))
                + F.binary_cross_entropy_with_logits(disc_fn(unl), torch.zeros(5)))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    loss.backward()
    d_grad, l_grad, u_grad = disc.weight.grad.clone(), lab.grad.clone(), unl.grad.clone()
    # Same loss without reversal: the discriminator's gradient is identical, the features' is negated.
    disc.zero_grad()
    lab2, unl2 = lab.detach().requires_grad_(), unl.detach().requires_grad_()
    (F.binary_cross_entropy_with_logits(disc_fn(lab2), torch.ones(4))
     + F.binary_cross_entropy_with_logits(disc_fn(unl2), torch.zeros(5))).backward()
    assert torch.allclose(d_grad, disc.weight.grad)
    assert torch.allclose(l_grad, -lab2.grad) and torch.allclose(u_grad, -unl2.grad)
    # A small step on the features along their (reversed) gradient *raises* the discriminator's loss.
    with torch.no_grad():
        after = (F.binary_cross_entropy_with_logits(disc_fn(lab - 0.1 * l_grad), torch.ones(4))
                 + F.binary_cross_entropy_with_logits(disc_fn(unl - 0.1 * u_grad), torch.zeros(5)))
    assert after > expected


def test_one_sided_adversarial_moves_only_the_unlabeled_features():
    torch.manual_seed(0)
    disc = nn.Linear(3, 1)
    disc_fn = lambda z: disc(z).squeeze(-1)  # noqa: E731
    lab, unl = torch.randn(4, 3, requires_grad=True), torch.randn(5, 3, requires_grad=True)
    adversarial_loss(disc_fn, lab, unl).backward()
    both_disc, both_unl = disc.weight.grad.clone(), unl.grad.clone()
    disc.zero_grad()
    lab1, unl1 = lab.detach().requires_grad_(), unl.detach().requires_grad_()
    one_sided = adversarial_loss(disc_fn, lab1, unl1, move_labeled=False)
    one_sided.backward()
    assert lab1.grad is None  # no gradient reaches what produced the labeled features
    assert torch.allclose(unl1.grad, both_unl) and torch.allclose(disc.weight.grad, both_disc)


def test_entropy_of_uniform_and_one_hot():
    assert entropy_from_logits(torch.zeros(2, 4)).item() == pytest.approx(math.log(4))
    assert entropy_from_logits(torch.tensor([[100.0, 0.0, 0.0]])).item() == pytest.approx(0.0, abs=1e-6)


def test_vat_perturbation_has_norm_eps_and_finds_the_sensitive_direction():
    # A linear model that only looks at coordinate 2: the adversarial direction must be ±e2.
    w = torch.zeros(2, 4)
    w[0, 2], w[1, 2] = 1.0, -1.0
    seen = []

    def model(x):
        seen.append(x.detach().clone())
        return x @ w.T

    x = torch.zeros(3, 4)
    logits = model(x)
    seen.clear()
    loss = vat_loss(model, x, logits, eps=0.5, xi=1e-3, generator=torch.Generator().manual_seed(0))
    r_adv = seen[-1] - x
    assert torch.allclose(r_adv.norm(dim=1), torch.full((3,), 0.5), atol=1e-5)
    assert torch.allclose(r_adv[:, 2].abs(), torch.full((3,), 0.5), atol=1e-3)
    p = torch.tensor([0.5, 0.5])
    q = (torch.tensor([0.5, -0.5]) * r_adv[0, 2].sign()).softmax(-1)
    assert loss.item() == pytest.approx(float((p * (p / q).log()).sum()), rel=1e-3)


@pytest.mark.parametrize("xi, works", [(None, True), (1e-6, False)])
def test_vat_default_finite_difference_step_survives_float32_rounding(xi, works):
    # The power iteration's step xi * d is spread over every coordinate of a clip. At Miyato et al.'s
    # 1e-6 it falls below float32's resolution of joint coordinates near 1: the gradient is zero and
    # so is the perturbation (N-UCLA's VAT runs had a VAT loss of ~1e-3 and trained as supervised-only).
    # The default step must find a direction far more harmful than a random one.
    from skelssl.methods import create_method
    from skelssl.losses.semi import kl_from_logits

    torch.manual_seed(0)
    vat = create_method("vat", num_classes=4, num_samples=8, layout="kinect20", num_frames=None,
                        encoder={"name": "bigru", "hidden_size": 16, "num_layers": 1}, translation_dim=8,
                        classifier_hidden=8)
    x = 1.0 + 0.5 * torch.randn(6, 3, 40, 20, 1, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        logits = vat.logits(x)
    seen = []

    def model(inp):
        seen.append(inp.detach())
        return vat.logits(inp)

    step = vat.xi if xi is None else xi
    adversarial = vat_loss(model, x, logits, eps=1.0, xi=step, generator=torch.Generator().manual_seed(2)).item()
    # A lost step leaves a zero gradient, and the perturbation itself vanishes.
    perturbation = (seen[-1] - x).flatten(1).norm(dim=1)
    assert torch.allclose(perturbation, torch.ones(6), atol=1e-3) == works
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        random = kl_from_logits(logits, vat.logits(x + noise / noise.flatten(1).norm(dim=1).view(-1, 1, 1, 1, 1)))
    assert (adversarial > 10 * random.mean().item()) == works


def test_feature_bank_overwrites_rows_and_tracks_filled():
    bank = FeatureBank(5, 2)
    bank.update(torch.tensor([1, 3]), torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert bank.filled.tolist() == [False, True, False, True, False]
    bank.update(torch.tensor([1]), torch.tensor([[9.0, 9.0]]))
    assert bank.features[1].tolist() == [9.0, 9.0] and bank.features[3].tolist() == [3.0, 4.0]
    assert set(bank.state_dict()) == {"features", "filled", "label"}
    with pytest.raises(IndexError):
        bank.update(torch.tensor([5]), torch.zeros(1, 2))
