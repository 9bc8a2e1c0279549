"""Semi-supervised methods end to end: switches, bank, neighbourhood quality, batches, CLI on real N-UCLA."""

import copy
import json

import numpy as np
import pytest
import torch

from skelssl.methods import create_method
from skelssl.api.semi_supervised import SemiBatches

TINY = {"encoder": {"name": "bigru", "hidden_size": 16, "num_layers": 1}, "translation_dim": 8,
        "classifier_hidden": 8, "num_frames": 6, "neighbours": 2, "layout": "kinect20"}


def _method(name, **kw):
    extra = {"decoder_hidden": 8, "aggregation_hidden": 8, "discriminator_hidden": 8} if name in ("assl", "s4l") else {}
    return create_method(name, num_classes=3, num_samples=12, **TINY, **extra, **kw)


def _batch(n=4):
    g = torch.Generator().manual_seed(0)
    return {"x_l": torch.randn(n, 3, 10, 20, 1, generator=g), "y_l": torch.tensor([0, 1, 2, 0])[:n],
            "i_l": torch.arange(n), "x_u": torch.randn(n, 3, 10, 20, 1, generator=g),
            "y_u": torch.tensor([0, 1, 2, 1])[:n], "i_u": torch.arange(n, 2 * n)}


def _ready(method):
    method.set_labels(np.arange(4), np.array([0, 1, 2, 0]), np.array([0, 1, 2, 0, 0, 1, 2, 1, 0, 1, 2, 2]))
    method.bank.update(torch.arange(12), torch.randn(12, 8, generator=torch.Generator().manual_seed(1)))
    return method


@pytest.mark.parametrize("name, overrides, terms", [
    ("supervised", {}, set()),
    ("s4l", {}, {"loss_inp"}),
    ("assl", {}, {"loss_inp", "loss_kl", "loss_cec", "loss_adv"}),
    ("assl", {"inpaint": False, "adversarial": False}, {"loss_kl", "loss_cec"}),
    ("assl", {"neighbourhood": False}, {"loss_inp", "loss_adv"}),
    ("vat", {}, {"loss_vat"}),
    ("vat_entmin", {}, {"loss_vat", "loss_ent"}),
])
def test_switches_select_the_loss_terms(name, overrides, terms):
    torch.manual_seed(0)
    method = _ready(_method(name, **overrides))
    out = method(_batch(), 0)
    present = {k for k in out if k.startswith("loss_") and k != "loss_sup"}
    assert present == terms
    expected = out["loss_sup"] + sum(out[t] for t in terms)
    assert torch.allclose(out["loss"].detach(), expected)
    out["loss"].backward()
    assert all(p.grad is not None for p in method.classifier.parameters())
    if "loss_adv" in terms:  # the discriminator is trained by the same step
        assert all(p.grad is not None for p in method.discriminator.parameters())
    if terms:
        assert 0.0 <= float(out["nei_quality"]) <= 1.0


@pytest.mark.parametrize("epoch, weight", [(0, 0.006737947), (2, 0.2865048), (4, 1.0), (9, 1.0)])
def test_ramp_up_scales_every_unlabeled_term_by_exp_minus_5_one_minus_t_squared(epoch, weight):
    # Laine & Aila's ramp over R = 4 epochs: exp(-5 (1 - epoch/R)^2), then 1.
    torch.manual_seed(0)
    method = _ready(_method("assl", ramp_up_epochs=4))
    out = method(_batch(), epoch)
    terms = sum(out[t] for t in ("loss_inp", "loss_kl", "loss_cec", "loss_adv"))
    assert float(out["unlabeled_weight"]) == pytest.approx(weight, rel=1e-6)
    assert torch.allclose(out["loss"].detach(), out["loss_sup"] + weight * terms)


@pytest.mark.parametrize("detach", [False, True])
def test_detached_centre_target_leaves_the_aggregation_to_the_centre_cross_entropy(detach):
    # With the centre's prediction as a fixed target, L_KL only moves the anchor and neighbour
    # predictions; the aggregation MLP then learns from L_CE^c alone.
    torch.manual_seed(0)
    method = _ready(_method("assl", inpaint=False, adversarial=False, detach_centre_target=detach))
    out = method(_batch(), 0)
    assert out["loss_kl"] > 0
    kl_grads = torch.autograd.grad(method.unlabeled_loss(
        y_l=torch.tensor([0, 1, 2, 0]), t_l=torch.randn(4, 8), x_u=torch.randn(4, 3, 6, 20, 1),
        t_u=torch.randn(4, 8, requires_grad=True), i_u=torch.arange(4, 8), key_l=torch.randn(4, 8),
        key_u=torch.randn(4, 8), encoded={})["loss_kl"],
        list(method.aggregation.parameters()), allow_unused=True)
    moved = any(g is not None and g.abs().sum() > 0 for g in kl_grads)
    assert moved != detach


def test_centre_cross_entropy_switch_drops_only_that_term():
    torch.manual_seed(0)
    full = _ready(_method("assl"))
    torch.manual_seed(0)
    without = _ready(_method("assl", centre_ce=False))
    torch.manual_seed(1)
    out_full = full(_batch(), 0)
    torch.manual_seed(1)  # the same batch and inpainting mask
    out_without = without(_batch(), 0)
    assert "loss_cec" in out_full and "loss_cec" not in out_without
    for term in ("loss_sup", "loss_kl", "loss_adv"):
        assert torch.allclose(out_full[term], out_without[term])
    others = sum(out_without[t] for t in ("loss_inp", "loss_kl", "loss_adv"))
    assert torch.allclose(out_without["loss"].detach(), out_without["loss_sup"] + others)


def test_batch_updates_the_bank_rows_it_saw():
    torch.manual_seed(0)
    method = _ready(_method("assl"))
    before = method.bank.features.clone()
    method(_batch(), 0)
    changed = (method.bank.features != before).any(dim=1)
    assert changed[:8].all() and not changed[8:].any()


@pytest.mark.parametrize("bank_input", ["clean", "augmented"])
def test_bank_holds_features_of_the_unaugmented_sequence_unless_asked_otherwise(bank_input):
    # With a rotation augmentation, each bank row would otherwise come from its own random view.
    torch.manual_seed(0)
    method = _ready(_method("assl", augment="view_rotation", bank_input=bank_input))
    batch = _batch()
    torch.manual_seed(3)
    method(batch, 0)
    torch.manual_seed(3)  # replay the frame sampling and the rotation of that step
    raw_l = method.sample_frames(batch["x_l"])
    rotated_l = method.augment(raw_l)
    raw_u = method.sample_frames(batch["x_u"])
    rotated_u = method.augment(raw_u)
    with torch.no_grad():
        clean = method.embed(torch.cat((raw_l, raw_u)))[1]
        rotated = method.embed(torch.cat((rotated_l, rotated_u)))[1]
    # forward() does not step the optimiser, so the weights that filled the bank are these.
    expected, other = (clean, rotated) if bank_input == "clean" else (rotated, clean)
    assert torch.allclose(method.bank.features[:8], expected, atol=1e-6)
    assert not torch.allclose(method.bank.features[:8], other, atol=1e-3)


@pytest.mark.parametrize("bank_input", ["clean", "clean_batch_stats"])
def test_clean_bank_rows_are_eval_mode_features_on_a_batchnorm_backbone(bank_input):
    # The key pass must not depend on the clips it shares a batch with: BatchNorm's running statistics,
    # as at test time (clean_batch_stats keeps the earlier behaviour, for replaying old records).
    torch.manual_seed(0)
    method = _ready(create_method("assl", num_classes=3, num_samples=12, encoder={"name": "stgcn_quarter"},
                                  translation_dim=8, classifier_hidden=8, num_frames=6, neighbours=2,
                                  layout="kinect20", augment="view_rotation", decoder_hidden=8,
                                  aggregation_hidden=8, discriminator_hidden=8, bank_input=bank_input))
    batch = _batch()
    torch.manual_seed(3)
    method(batch, 0)
    assert method.training and method.encoder.training  # the key pass leaves the modes as they were
    torch.manual_seed(3)  # replay the frame sampling of that step
    raw_l = method.sample_frames(batch["x_l"])
    method.augment(raw_l)
    raw = torch.cat((raw_l, method.sample_frames(batch["x_u"])))
    with torch.no_grad():
        method.eval()
        running = method.embed(raw)[1]
        method.train()
        batch_stats = method.embed(raw)[1]  # train mode: statistics of these 8 clips
    expected, other = (running, batch_stats) if bank_input == "clean" else (batch_stats, running)
    assert torch.allclose(method.bank.features[:8], expected, atol=1e-5)
    assert not torch.allclose(method.bank.features[:8], other, atol=1e-2)


def test_bank_input_leaves_methods_without_neighbours_unchanged():
    # S4L never searches neighbours: its losses and bank are the same whatever bank_input says.
    outs = []
    for bank_input in ("clean", "augmented"):
        torch.manual_seed(0)
        method = _ready(_method("s4l", augment="view_rotation", bank_input=bank_input))
        torch.manual_seed(3)
        outs.append((method(_batch(), 0), method.bank.features.clone()))
    (a, bank_a), (b, bank_b) = outs
    assert torch.equal(a["loss"], b["loss"]) and torch.equal(bank_a, bank_b)


def test_bank_input_rejects_an_unknown_value():
    with pytest.raises(ValueError, match="bank_input must be one of 'clean', 'clean_batch_stats', 'augmented', got 'raw'"):
        _method("assl", bank_input="raw")


def test_neighbourhood_quality_counts_neighbours_with_the_anchor_label():
    method = _method("supervised")
    method.set_labels(np.array([0]), np.array([0]), np.array([0, 1, 1, 2, 2, 2, 1, 0, 0, 0, 0, 0]))
    bank = torch.zeros(12, 8)
    bank[1:6, 0] = torch.tensor([1.0, 1.1, 5.0, 5.1, 5.2])  # rows 1,2 (label 1) near 1; rows 3-5 (label 2) near 5
    bank[6:, 0] = 100.0
    method.bank.update(torch.arange(12), bank)
    t_u = torch.zeros(2, 8)
    t_u[:, 0] = torch.tensor([1.0, 5.1])
    # Anchor row 1 (label 1): neighbours rows 2 and 3 -> one of two shares its label.
    # Anchor row 4 (label 2): neighbours rows 3 and 5 -> both share it.
    q = method.neighbour_quality(t_u, torch.tensor([1, 4]), torch.tensor([1, 2]))
    assert q.item() == pytest.approx(0.75)


def test_assl_loss_decreases_on_a_fixed_batch():
    torch.manual_seed(0)
    method = _ready(_method("assl"))
    opt = torch.optim.Adam(method.parameters(), lr=3e-3)
    batch = _batch()
    losses = []
    for _ in range(40):
        torch.manual_seed(1)  # the same frames and mask every step
        out = method(batch, 0)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        losses.append((out["loss_sup"].item(), out["loss_inp"].item()))
    (sup0, inp0), (sup1, inp1) = losses[0], losses[-1]
    assert sup1 < 0.3 * sup0 and inp1 < 0.9 * inp0


def test_semi_batches_pair_halves_and_repeat_per_epoch(tmp_path):
    from skelssl.data.prepare import prepare_dataset
    from skelssl.data.canonical import open_prepared

    root = tmp_path / "syn"
    prepare_dataset("synthetic", root, reader_options={"num_samples": 40}, workers=1, progress=False)
    prepared = open_prepared(root)
    labeled = np.array([0, 5, 9])
    unlabeled = np.arange(10, 40)
    batches = SemiBatches(prepared, labeled, prepared.labels[labeled], unlabeled, batch_size=4, seed=3)
    assert len(batches) == 7
    first, again = list(batches(0)), list(batches(0))
    assert all(torch.equal(a["i_u"], b["i_u"]) for a, b in zip(first, again))
    seen_u = torch.cat([b["i_u"] for b in first]).numpy()
    assert len(set(seen_u)) == 28 and set(seen_u) <= set(unlabeled)
    seen_l = torch.cat([b["i_l"] for b in first]).numpy()
    assert set(seen_l) == set(labeled) and np.bincount(seen_l)[labeled].max() - np.bincount(seen_l)[labeled].min() <= 1
    b = first[0]
    assert torch.equal(b["y_l"], torch.from_numpy(prepared.labels[b["i_l"].numpy()]))
    assert torch.allclose(b["x_u"][0], torch.from_numpy(np.array(prepared.data[int(b["i_u"][0])])))
    assert not torch.equal(torch.cat([x["i_u"] for x in batches(1)]), torch.from_numpy(seen_u))
    sup_only = SemiBatches(prepared, labeled, prepared.labels[labeled], unlabeled, 4, 3, with_unlabeled=False)
    assert set(next(iter(sup_only(0)))) == {"x_l", "y_l", "i_l"} and len(sup_only) == 7


@pytest.fixture(scope="module")
def nucla(nucla_dir, tmp_path_factory):
    from skelssl.data.prepare import prepare_dataset

    out = tmp_path_factory.mktemp("nucla") / "prepared"
    prepare_dataset("nucla", out, nucla_dir, workers=1, progress=False)  # the default recipe, agc_lstm
    return out


def test_cli_semi_on_real_nucla_beats_chance_and_records_everything(nucla, tmp_path):
    from skelssl.cli import main

    run = tmp_path / "run"
    rc = main(["semi", "assl", "--data", str(nucla), "--labels-per-class", "15", "--seed", "0", "--run-dir", str(run),
               "--quiet", "train.epochs=3", "method.encoder.hidden_size=48", "method.encoder.num_layers=1",
               "method.decoder_hidden=32", "method.neighbours=5", "train.optimizer.lr=2e-3"])
    assert rc == 0
    r = json.loads((run / "results.json").read_text())
    assert r["extra"]["labeled_per_class"] == [15] * 10
    assert r["num_test"] == 464 and r["epochs"] == 3
    assert r["top1"] > 20.0  # chance is 10 %
    epochs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    quality = [e["nei_quality"] for e in epochs if e["kind"] == "epoch"]
    assert len(quality) == 3 and all(0.0 < q <= 1.0 for q in quality)
    curve = [e["test/top1"] for e in epochs if "test/top1" in e]  # monitor_every=5: after the last epoch only
    assert curve == [pytest.approx(r["top1"])]
    # Same seed, other method: the same labeled samples.
    run2 = tmp_path / "sup"
    assert main(["semi", "supervised", "--data", str(nucla), "--labels-per-class", "15", "--seed", "0",
                 "--run-dir", str(run2), "--quiet", "train.epochs=1", "method.encoder.hidden_size=16",
                 "method.encoder.num_layers=1"]) == 0
    r2 = json.loads((run2 / "results.json").read_text())
    assert r2["extra"]["labeled_split_file"] == r["extra"]["labeled_split_file"]


def test_cli_semi_requires_one_label_amount(nucla, capsys):
    from skelssl.cli import main

    assert main(["semi", "assl", "--data", str(nucla), "--quiet"]) == 2
    assert "--labels-per-class" in capsys.readouterr().err


def test_pseudo_label_trains_two_stages_on_real_nucla(nucla, tmp_path):
    from skelssl.cli import main

    run = tmp_path / "pl"
    assert main(["semi", "pseudo_label", "--data", str(nucla), "--labels-per-class", "5", "--seed", "1",
                 "--run-dir", str(run), "--quiet", "train.epochs=1", "method.encoder.hidden_size=16",
                 "method.encoder.num_layers=1", "semi.pseudo_threshold=0.15"]) == 0
    r = json.loads((run / "results.json").read_text())
    assert (run / "stage1" / "checkpoints").is_dir()
    assert r["extra"]["labeled_samples"] == 50
    assert 0 < r["extra"]["pseudo_labeled"] <= 1020 - 50 and r["extra"]["pseudo_label_accuracy"] is not None


def test_list_shows_semi_methods_and_configs(capsys):
    from skelssl.cli import main

    assert main(["list", "methods"]) == 0 and main(["list", "configs"]) == 0
    out = capsys.readouterr().out
    assert "assl" in out and "vat_entmin" in out and "configs/semi:" in out


def test_semi_resume_continues_as_if_never_stopped(tmp_path):
    """One epoch, stop, resume to two == two epochs straight (weights, feature bank and test scores)."""
    from safetensors.torch import load_file

    from skelssl.cli import main
    from skelssl.data.prepare import prepare_dataset

    data = tmp_path / "syn"
    prepare_dataset("synthetic", data, reader_options={"num_samples": 60}, workers=1, progress=False)
    common = ["--data", str(data), "--labels-per-class", "1", "--seed", "0", "--quiet", "data.protocol=xsub",
              "method.encoder.hidden_size=8", "method.encoder.num_layers=1", "method.neighbours=2",
              "data.batch_size=4", "train.deterministic=true"]
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    assert main(["semi", "assl", *common, "--run-dir", str(straight), "train.epochs=2"]) == 0
    assert main(["semi", "assl", *common, "--run-dir", str(stopped), "train.epochs=1"]) == 0
    assert main(["semi", "assl", *common, "--run-dir", str(stopped), "--resume", "train.epochs=2"]) == 0
    a = load_file(straight / "checkpoints" / "last.safetensors")
    b = load_file(stopped / "checkpoints" / "last.safetensors")
    model_keys = [k for k in a if k.startswith("model/")]
    assert any("bank" in k for k in model_keys)
    for k in model_keys:
        assert torch.equal(a[k], b[k]), k
    assert np.array_equal(np.load(straight / "scores.npy"), np.load(stopped / "scores.npy"))


def _step_grads(method, seed):
    torch.manual_seed(seed)
    out = method(_batch(), 0)
    out["loss"].backward()
    grads = {n: p.grad.clone() for n, p in method.named_parameters() if p.grad is not None}
    method.zero_grad(set_to_none=True)
    return out, grads


def test_masked_clips_share_the_encoder_pass_and_the_step_is_unchanged():
    # ASSL encodes labeled, unlabeled and masked clips in one recurrent pass (faster at small batch);
    # the losses and every gradient must equal those of one pass per part, with the same mask.
    torch.manual_seed(0)
    method = _ready(_method("assl", augment="view_rotation"))
    twin = copy.deepcopy(method)  # the step updates the bank: each path starts from the same state
    calls = []
    method.encoder.register_forward_hook(lambda m, inp, out: calls.append(len(inp[0])))
    twin.encoder.register_forward_hook(lambda m, inp, out: calls.append(len(inp[0])))
    one_pass, grads_one = _step_grads(method, seed=5)
    assert calls == [12, 8]  # 4 + 4 + 4 masked in one pass; the clean bank pass without gradients
    calls.clear()
    twin.one_encoder_pass = False
    per_part, grads_per = _step_grads(twin, seed=5)
    assert calls == [8, 4, 8]
    for term in ("loss", "loss_sup", "loss_inp", "loss_kl", "loss_cec", "loss_adv"):
        assert torch.allclose(one_pass[term], per_part[term], atol=1e-6), term
    assert grads_one.keys() == grads_per.keys() and "decoder.gru.weight_hh_l0" in grads_one
    for name in grads_one:
        assert torch.allclose(grads_one[name], grads_per[name], atol=1e-6), name


def test_encoders_with_batchnorm_get_one_pass_per_part():
    # Batch statistics would mix masked and unmasked clips in one pass.
    method = _method("assl")
    assert method._batch_independent
    method.encoder.add_module("norm", torch.nn.BatchNorm1d(4))
    assert not method._batch_independent
    calls = []
    method.encoder.register_forward_hook(lambda m, inp, out: calls.append(len(inp[0])))
    method.encode([torch.randn(8, 3, 6, 20, 1), torch.randn(4, 3, 6, 20, 1)])
    assert calls == [8, 4]


def test_assl_runs_on_a_graph_backbone_and_rebuilds_the_input_clip():
    # The GRU sizes fill in only a bigru spec; ST-GCN gets its own defaults, the decoder the clip's shape,
    # and one step trains every ASSL part.
    method = _ready(create_method("assl", num_classes=3, num_samples=12, encoder={"name": "stgcn_quarter"},
                                  translation_dim=8, classifier_hidden=8, num_frames=6, neighbours=2,
                                  layout="kinect20", decoder_hidden=8, aggregation_hidden=8, discriminator_hidden=8))
    assert type(method.encoder).__name__ == "STGCN" and method.encoder.feature_dim == 256
    assert (method.decoder.in_channels, method.decoder.num_person) == (3, 1)
    torch.manual_seed(0)
    out = method(_batch(), epoch=0)
    assert {"loss_inp", "loss_kl", "loss_cec", "loss_adv"} <= out.keys()
    out["loss"].backward()
    assert method.encoder.data_bn.bn.weight.grad.abs().sum() > 0
    assert method.decoder.gru.weight_hh_l0.grad.abs().sum() > 0
    with pytest.raises(TypeError, match="hidden_size"):
        create_method("supervised", num_classes=3, num_samples=12, layout="kinect20",
                      encoder={"name": "stgcn_quarter", "hidden_size": 8})


def test_shipped_assl_config_takes_a_graph_backbone_from_one_override():
    from skelssl.engine.config import load_config

    assert load_config("semi/assl_nucla")["method"]["decoder_hidden"] == 512  # as wide as the BiGRU
    method_cfg = load_config("semi/assl_nucla", ["method.encoder={name: stgcn_quarter}"])["method"]
    assert method_cfg["encoder"] == {"name": "stgcn_quarter"} and method_cfg["decoder_hidden"] == 256


@pytest.mark.parametrize("name", ["supervised", "assl", "vat"])
def test_only_the_training_batch_moves_batchnorm_running_statistics(name):
    # Masked clips, the clean bank clips and VAT's perturbed clips pass through BatchNorm in training
    # mode too; the statistics used at test must be those of the training batch alone.
    torch.manual_seed(0)
    extra = {"decoder_hidden": 8, "aggregation_hidden": 8, "discriminator_hidden": 8} if name == "assl" else {}
    method = _ready(create_method(name, num_classes=3, num_samples=12, encoder={"name": "stgcn_quarter"},
                                  translation_dim=8, classifier_hidden=8, num_frames=6, neighbours=2,
                                  layout="kinect20", augment="view_rotation", **extra))
    before = copy.deepcopy(method.encoder)
    inputs = []
    method.encoder.register_forward_pre_hook(lambda m, inp: inputs.append(inp[0].detach().clone()))
    method(_batch(), epoch=0)["loss"].backward()
    assert len(inputs) == {"supervised": 1, "assl": 3, "vat": 3}[name]  # training batch first
    before.train()
    with torch.no_grad():
        before(inputs[0])
    for (key, expected), actual in zip(before.state_dict().items(), method.encoder.state_dict().values()):
        if "running" in key:
            assert torch.allclose(expected, actual, atol=1e-6), key
