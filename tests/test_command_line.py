"""A command line that cannot silently mislead (issue 13).

The run directory is the source of truth on resume; every override is checked
against what reads it before anything is written; a directory holding a run is
not silently reused; a run killed (or Ctrl-C'd) in its first epoch resumes;
progress fits the terminal; errors are one line naming the problem and the fix.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from skelssl.cli import main

SRC = str(Path(__file__).resolve().parents[1] / "src")
# ST-GCN at 1/16 width on 40 synthetic samples: a few steps per second on one thread.
# The `synth` fixture is prepared with the crossclr recipe; skeletonclr_synthetic asks for agc_lstm data.
TINY = ["data.recipe=null", "method.encoder.width=0.0625", "method.encoder.feature_dim=16", "method.queue_size=16", "data.batch_size=8",
        "train.tensorboard=false"]


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    from skelssl.data.prepare import prepare_dataset

    root = tmp_path_factory.mktemp("data") / "synthetic"
    prepare_dataset("synthetic", root, reader_options={"num_samples": 40}, workers=1, progress=False)
    return root


@pytest.fixture(scope="module")
def pretrained(synth, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "sclr"
    assert main(["pretrain", "skeletonclr_synthetic", "--data", str(synth), "--run-dir", str(run), "--quiet",
                 "train.epochs=1", *TINY]) == 0
    return run


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` with its size and modification time (to prove nothing was written)."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def _one_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    return lines[0]


def _checkpoint_meta(run: Path) -> dict:
    return json.loads((run / "checkpoints" / "last.json").read_text())


# --------------------------------------------------------------------------- resume from the run directory

def test_resume_restores_the_runs_config_and_data(synth, tmp_path, capsys):
    run = tmp_path / "bone"
    # Stopped in its first epoch (train.max_steps), on the bone view, for 2 epochs.
    assert main(["pretrain", "skeletonclr_synthetic", "--data", str(synth), "--run-dir", str(run), "--quiet",
                 "method.view=bone", "train.epochs=2", "train.max_steps=1", *TINY]) == 0
    assert _checkpoint_meta(run)["step"] == 1
    # Resumed without --data and without repeating a single override.
    assert main(["pretrain", "skeletonclr_synthetic", "--run-dir", str(run), "--resume", "--quiet"]) == 0
    meta = _checkpoint_meta(run)
    steps = meta["steps_per_epoch"]
    assert meta["epoch"] == 2 and meta["step"] == 2 * steps
    assert meta["config"]["method"]["view"] == "bone" and meta["config"]["method"]["encoder"]["width"] == 0.0625
    assert meta["config"]["train"]["epochs"] == 2 and meta["config"]["train"]["max_steps"] is None
    assert meta["config"]["data"]["root"] == str(synth.resolve())
    assert "view: bone" in (run / "config.yaml").read_text()
    # More epochs are a safe override, through `skelssl resume` too.
    assert main(["resume", str(run), "train.epochs=3", "--quiet"]) == 0
    assert _checkpoint_meta(run)["step"] == 3 * steps
    # Changing what the run is, is refused, naming the keys with both values; nothing is written.
    before = _tree(run)
    capsys.readouterr()
    assert main(["resume", str(run), "method.view=joint", "train.optimizer.lr=0.5", "train.epochs=4"]) == 2
    line = _one_line(capsys)
    assert 'method.view ("bone" -> "joint")' in line and "train.optimizer.lr (0.1 -> 0.5)" in line
    assert "train.epochs" not in line.split("would change")[1].split(":")[0]
    assert _tree(run) == before
    # Another method's config on resume is refused too.
    assert main(["pretrain", "simclr_synthetic", "--run-dir", str(run), "--resume"]) == 2
    assert "pretrains skeletonclr, not simclr" in _one_line(capsys)


def test_resume_semi_and_supervised_runs_from_the_run_directory(synth, tmp_path, capsys):
    semi_args = ["--data", str(synth), "--labels-per-class", "1", "--quiet", "data.protocol=xsub",
                 "method.encoder.hidden_size=8", "method.encoder.num_layers=1", "method.neighbours=2",
                 "data.batch_size=4", "train.epochs=2", "train.max_steps=1"]
    run = tmp_path / "semi"
    assert main(["semi", "assl", *semi_args, "--run-dir", str(run)]) == 0
    assert main(["resume", str(run), "--quiet"]) == 0
    results = json.loads((run / "results.json").read_text())
    assert results["epochs"] == 2 and results["config"]["method"]["encoder"]["hidden_size"] == 8
    sup = tmp_path / "sup"
    assert main(["supervised", "stgcn_nucla", "--data", str(synth), "--run-dir", str(sup), "--quiet",
                 "data.recipe=null", "data.protocol=xsub", "model.encoder.name=stgcn", "model.encoder.width=0.0625",
                 "protocol.augment=null", "train.epochs=2", "train.max_steps=1", "data.batch_size=8"]) == 0
    assert main(["resume", str(sup), "--quiet"]) == 0
    results = json.loads((sup / "results.json").read_text())
    assert results["epochs"] == 2 and results["config"]["model"]["encoder"]["width"] == 0.0625
    capsys.readouterr()
    assert main(["resume", str(sup / "nothing")]) == 2
    assert "no config.yaml" in _one_line(capsys)


# --------------------------------------------------------------------------- every override validated

TYPOS = [
    (["pretrain", "skeletonclr_synthetic", "method.queue_sise=5"], "did you mean 'method.queue_size'"),
    (["pretrain", "skeletonclr_synthetic", "method.encoder.widht=0.5"], "did you mean 'method.encoder.width'"),
    (["pretrain", "skeletonclr_synthetic", "method.encoder.name=stgnc"], "did you mean 'stgcn'"),
    (["pretrain", "skeletonclr_synthetic", "train.optimizer.momentun=0.8"], "did you mean 'train.optimizer.momentum'"),
    (["pretrain", "skeletonclr_synthetic", "data.reader_options.num_sample=5"], "did you mean 'num_samples'"),
    (["semi", "assl", "--labels-per-class", "1", "data.protocol=xsub", "method.neighbors=3"],
     "did you mean 'method.neighbours'"),
    (["semi", "assl", "--labels-per-class", "1", "data.protocol=xsub", "method.encoder.hiden_size=3"],
     "did you mean 'method.encoder.hidden_size'"),
    (["semi", "assl", "--labels-per-class", "1", "data.protocol=xsub", "semi.monitor_evry=3"],
     "did you mean 'semi.monitor_every'"),
    (["supervised", "stgcn_nucla", "data.recipe=null", "model.encoder.widht=0.5"], "did you mean 'model.encoder.width'"),
    (["supervised", "stgcn_nucla", "data.recipe=null", "model.veiw=bone"], "did you mean 'model.view'"),
]


@pytest.mark.parametrize("argv, hint", TYPOS, ids=[a[-1] for a, _ in TYPOS])
def test_override_typos_exit_2_in_one_line_and_write_nothing(synth, tmp_path, capsys, argv, hint):
    run = tmp_path / "run"
    before = _tree(synth)
    assert main([*argv[:2], "--data", str(synth), "--run-dir", str(run), *argv[2:]]) == 2
    line = _one_line(capsys)
    assert hint in line and argv[-1].split("=")[0] in line, line
    assert "(set in override" in line
    assert not run.exists() and not (tmp_path / "runs").exists()
    assert _tree(synth) == before  # not even a labelled split drawn


@pytest.mark.parametrize("protocol, typo, hint", [
    ("linear", "protocol.feature_nrom=batchnorm", "did you mean 'protocol.feature_norm'"),
    ("knn", "protocol.kk=5", "did you mean 'protocol.k'"),
    ("finetune", "protocol.augmnt=skeletonclr", "did you mean 'protocol.augment'"),
    ("tsne", "protocol.perplexty=5", "did you mean 'protocol.perplexity'"),
])
def test_protocol_typos_exit_2_in_one_line_and_write_nothing(pretrained, capsys, protocol, typo, hint):
    before = _tree(pretrained)
    assert main(["evaluate", protocol, "--run", str(pretrained), "--quiet", typo]) == 2
    line = _one_line(capsys)
    assert hint in line and f"the {protocol} protocol has no option" in line
    assert _tree(pretrained) == before and not (pretrained / "eval").exists()


@pytest.mark.parametrize("option, hint", [
    (["--recipe-option", "num_bodys=1"], "did you mean 'num_bodies'"),
    (["--reader-option", "num_sample=5"], "did you mean 'num_samples'"),
    (["--reader-option", "foo=1"], "unknown reader option 'foo'"),
])
def test_reader_and_recipe_option_typos_exit_2_and_write_nothing(tmp_path, capsys, option, hint):
    out = tmp_path / "prepared"
    assert main(["prepare", "synthetic", "--out", str(out), "--no-progress", *option]) == 2
    assert hint in _one_line(capsys)
    assert not out.exists()


def test_nucla_reader_option_typo_exits_2(nucla_dir, tmp_path, capsys):
    out = tmp_path / "nucla"
    assert main(["prepare", "nucla", "--raw", str(nucla_dir), "--out", str(out), "--reader-option", "foo=1"]) == 2
    assert "unknown reader option 'foo' for nucla" in _one_line(capsys) and not out.exists()


def test_every_shipped_config_passes_the_checks():
    # The checks must never refuse a key the shipped configs use (the lists of known keys are complete).
    from skelssl.api.checks import check_config
    from skelssl.engine.config import list_configs, load_config

    partials = {"semi/nucla", "semi/semi_base", "pretrain/nucla"}  # merged into method configs, no method of their own
    checked = 0
    for group, kind in (("pretrain", "pretrain"), ("semi", "semi"), ("supervised", "supervised"), ("eval", "eval")):
        for name in list_configs(group):
            if f"{group}/{name}" not in partials:
                check_config(load_config(f"{group}/{name}"), kind)
                checked += 1
    assert checked >= 45


# --------------------------------------------------------------------------- run directories are not reused

def test_reusing_a_run_directory_is_refused_without_overwrite_or_resume(synth, pretrained, tmp_path, capsys):
    run = tmp_path / "run"
    base = ["pretrain", "skeletonclr_synthetic", "--data", str(synth), "--run-dir", str(run), "--quiet", *TINY]
    assert main([*base, "train.epochs=2"]) == 0
    assert (run / "checkpoints" / "epoch_0002.safetensors").exists()
    before = _tree(run)
    capsys.readouterr()
    assert main([*base, "train.epochs=1"]) == 2
    line = _one_line(capsys)
    assert "already holds a run" in line and "--resume" in line and "--overwrite" in line
    assert _tree(run) == before
    # --overwrite clears it: nothing of the old run survives (its epoch-2 checkpoint least of all).
    assert main([*base, "train.epochs=1", "--overwrite"]) == 0
    assert not (run / "checkpoints" / "epoch_0002.safetensors").exists() and _checkpoint_meta(run)["epoch"] == 1
    # The same for evaluations, semi runs and the main job's --out.
    assert main(["evaluate", "knn", "--run", str(run), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["evaluate", "knn", "--run", str(run), "--quiet"]) == 2
    assert "--overwrite" in _one_line(capsys)
    assert main(["evaluate", "knn", "--run", str(run), "--quiet", "--overwrite"]) == 0
    capsys.readouterr()
    assert main(["run", "--out", str(run), "--no-tsne", "data.reader_options.num_samples=40"]) == 2
    assert "already holds a run" in _one_line(capsys)
    # --overwrite deletes what a run wrote, never anything else kept there (a script's log, notes).
    (run / "notes.txt").write_text("keep me")
    assert main([*base, "train.epochs=1", "--overwrite"]) == 0
    assert (run / "notes.txt").read_text() == "keep me" and not (run / "eval").exists()


# --------------------------------------------------------------------------- evaluate on a semi run

def test_evaluate_knn_and_tsne_on_a_semi_run(synth, tmp_path, capsys):
    run = tmp_path / "semi"
    assert main(["semi", "assl", "--data", str(synth), "--labels-per-class", "1", "--quiet", "--run-dir", str(run),
                 "data.protocol=xsub", "method.encoder.hidden_size=8", "method.encoder.num_layers=1",
                 "method.neighbours=2", "data.batch_size=4", "train.epochs=1"]) == 0
    capsys.readouterr()
    assert main(["evaluate", "knn", "--run", str(run), "--quiet"]) == 0
    knn = json.loads((run / "eval" / "knn" / "results.json").read_text())
    assert knn["method"] == "assl" and knn["num_test"] == len(np.loadtxt(synth / "splits" / "xsub_test.txt",
                                                                          comments="#"))
    assert knn["checkpoint"].endswith("last.safetensors")
    assert main(["evaluate", "tsne", "--run", str(run), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "t-SNE map of" in out and "tsne.png" in out and " - " not in out  # one line, no table of dashes
    assert (run / "eval" / "tsne" / "tsne.png").stat().st_size > 0


# --------------------------------------------------------------------------- killed or interrupted mid-epoch

def _start(argv: list[str], tmp_path: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "skelssl", *argv], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for_checkpoint(run: Path, proc: subprocess.Popen, step: int, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        path = run / "checkpoints" / "last.json"
        if path.exists():
            try:
                meta = json.loads(path.read_text())
            except ValueError:
                meta = {}
            if meta.get("step", 0) >= step:
                return meta
        if proc.poll() is not None:
            raise AssertionError(f"finished before step {step}: {proc.communicate()}")
        time.sleep(0.05)
    proc.kill()
    proc.communicate()
    raise AssertionError(f"no checkpoint at step {step} within {timeout} s")


SLOW_EPOCH = ["data.recipe=null", "train.epochs=1", "data.batch_size=2", "method.encoder.width=0.0625", "method.encoder.feature_dim=16",
              "method.queue_size=16", "train.tensorboard=false", "train.deterministic=true", "train.log_every=1"]


def test_a_run_killed_in_its_first_epoch_resumes_exactly(synth, tmp_path):
    # Time-based mid-epoch checkpoints (train.checkpoint.every_minutes, on by default) are what a run killed
    # in its first epoch resumes from; here every ~6 ms so that the kill lands after a few of them.
    # The killed process runs on one thread (see _start); float sums differ between thread counts, so the
    # in-process runs compared with it use one thread too.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _killed_and_straight_match(synth, tmp_path)
    finally:
        torch.set_num_threads(threads)


def _killed_and_straight_match(synth: Path, tmp_path: Path) -> None:
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    common = ["pretrain", "skeletonclr_synthetic", "--data", str(synth), "--quiet", *SLOW_EPOCH]
    assert main([*common, "--run-dir", str(straight)]) == 0
    total = _checkpoint_meta(straight)["steps_per_epoch"]
    proc = _start([*common, "--run-dir", str(killed), "train.checkpoint.every_minutes=0.0001"], tmp_path)
    meta = _wait_for_checkpoint(killed, proc, step=3)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)  # reaps it and closes its pipes
    assert meta["epoch"] == 0 and 0 < meta["batch_in_epoch"] < total
    assert main(["resume", str(killed), "--quiet"]) == 0
    from safetensors.torch import load_file

    a = load_file(straight / "checkpoints" / "last.safetensors")
    b = load_file(killed / "checkpoints" / "last.safetensors")
    model = [k for k in a if k.startswith("model/")]
    assert model and all(torch.equal(a[k], b[k]) for k in model)
    steps = [json.loads(line)["step"] for line in (killed / "metrics.jsonl").read_text().splitlines()
             if json.loads(line)["kind"] == "step"]
    assert steps == list(range(1, total + 1))


def test_ctrl_c_saves_a_checkpoint_and_prints_the_resume_command(synth, tmp_path):
    run = tmp_path / "interrupted"
    proc = _start(["pretrain", "skeletonclr_synthetic", "--data", str(synth), "--run-dir", str(run), "--quiet",
                   *SLOW_EPOCH, "train.checkpoint.every_minutes=0"], tmp_path)
    deadline = time.monotonic() + 120
    while not (run / "metrics.jsonl").exists() or len((run / "metrics.jsonl").read_text().splitlines()) < 2:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "interrupted at epoch 1/1" in lines[0] and f"continue with: skelssl resume {run}" in lines[0]
    meta = _checkpoint_meta(run)
    assert meta["epoch"] == 0 and meta["batch_in_epoch"] >= 2  # saved where it stopped, mid-epoch
    assert main(["resume", str(run), "--quiet"]) == 0
    assert _checkpoint_meta(run)["epoch"] == 1


# --------------------------------------------------------------------------- progress

def _render(tmp: Path, width: int, terminal: bool, epoch_lines: bool = True) -> str:
    from rich.console import Console

    from skelssl.engine.logging import MetricLogger

    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=terminal, color_system=None)
    logger = MetricLogger(tmp, console=True, tensorboard=False, epoch_lines=epoch_lines, out=console)
    semi = {"loss": 2.3456, "loss_sup": 1.9, "loss_kl": 0.12, "loss_cec": 0.3, "loss_inp": 0.2, "loss_adv": 0.69,
            "acc": 45.6, "lr": 0.0005, "nei_quality": 0.5}
    logger.start_epoch(11, 120, 1234, 560)
    logger.advance(semi)
    if logger.progress is not None:
        logger.progress.refresh()
    logger.end_epoch(11, semi, 120)
    logger.close()
    return buf.getvalue()


@pytest.mark.parametrize("width", [60, 80, 120])
def test_progress_bar_fits_the_terminal_with_count_and_eta(tmp_path, width):
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", _render(tmp_path, width, terminal=True))  # no ANSI codes
    frames = [line.split("\r")[-1] for line in text.split("\n")]
    bars = [line for line in frames if "epoch 12/120 " in line and "━" in line]
    assert bars, text
    for line in bars:
        assert len(line.rstrip()) <= width, line
        assert "561/1234" in line and "eta" in line
    assert "loss_kl" not in bars[-1]  # the bar shows the loss, not every term of it


def test_progress_is_one_line_per_epoch_when_not_a_terminal(tmp_path):
    text = _render(tmp_path, 120, terminal=False)
    assert "━" not in text and "eta" not in text
    assert text.strip().splitlines() == ["epoch 12/120: loss 2.346  loss_sup 1.9  loss_kl 0.12  loss_cec 0.3  "
                                         "loss_inp 0.2  loss_adv 0.69  acc 45.6  lr 0.0005"]
    assert _render(tmp_path, 120, terminal=False, epoch_lines=False) == ""  # a probe: nothing per epoch


def test_probe_output_is_concise(pretrained, capsys):
    assert main(["evaluate", "linear", "--run", str(pretrained), "--out", str(pretrained / "probe"),
                 "train.epochs=5"]) == 0
    captured = capsys.readouterr()
    assert "epoch" not in captured.err  # no line per probe epoch (it was 50 lines)
    table = [line for line in captured.out.splitlines() if "pretrained" in line]
    assert len(table) == 1 and f"results: {pretrained / 'probe' / 'results.json'}" in captured.out


# --------------------------------------------------------------------------- one-line errors naming the fix

def test_prepare_without_raw_says_what_it_needs(tmp_path, capsys):
    out = tmp_path / "nucla"
    assert main(["prepare", "nucla", "--out", str(out)]) == 2
    line = _one_line(capsys)
    assert "needs --raw DIR" in line and "aAA_sSS_eEE_vVV.json" in line and "None" not in line
    assert not out.exists()


def test_prepare_into_a_prepared_directory_names_the_flag(synth, capsys):
    assert main(["prepare", "synthetic", "--out", str(synth), "--no-progress"]) == 2
    line = _one_line(capsys)
    assert "pass --overwrite to replace it" in line and line.index("--overwrite") < line.index("overwrite=True")


def test_too_many_labels_per_class_says_how_many_fit(synth, tmp_path, capsys):
    run = tmp_path / "semi"
    assert main(["semi", "assl", "--data", str(synth), "--labels-per-class", "500", "--run-dir", str(run),
                 "data.protocol=xsub", "data.batch_size=4"]) == 2
    line = _one_line(capsys)
    assert "--labels-per-class 500 labels" in line and "leaving 0 unlabeled" in line and "at most about" in line
    assert not run.exists()


def test_run_on_an_unprepared_dataset_says_how_to_prepare_it(capsys):
    assert main(["run", "--dataset", "ntu60"]) == 2
    line = _one_line(capsys)
    assert "skelssl prepare ntu60 --raw" in line and "skelssl run --data" in line
    assert main(["run", "--dataset", "ntu6O"]) == 2
    assert "did you mean 'ntu60'" in _one_line(capsys)


def test_run_picks_the_dataset_independent_config_for_other_prepared_data(monkeypatch, tmp_path, synth):
    from skelssl.cli import run as run_cli

    args = run_cli.argparse.Namespace(method="skeletonclr", dataset=None, data=str(synth))
    assert run_cli._target(args) == ("synthetic", "skeletonclr_synthetic")
    info = json.loads((synth / "info.json").read_text())
    fake = tmp_path / "ntu"
    fake.mkdir()
    (fake / "info.json").write_text(json.dumps({**info, "dataset": "ntu60"}))
    args = run_cli.argparse.Namespace(method="skeletonclr", dataset=None, data=str(fake))
    assert run_cli._target(args) == ("ntu60", "skeletonclr")


# --------------------------------------------------------------------------- packaging

def test_torch_has_no_upper_bound():
    import tomllib

    deps = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]
    torch_req = next(d for d in deps["dependencies"] if d.startswith("torch"))
    assert "<" not in torch_req and ">=" in torch_req


def test_evaluation_resumes_with_the_options_it_started_with(pretrained, capsys):
    out = pretrained / "probe_resumed"
    base = ["evaluate", "linear", "--run", str(pretrained), "--out", str(out), "--quiet", "train.epochs=3",
            "protocol.feature_norm=batchnorm"]
    assert main([*base, "train.max_steps=1"]) == 0
    assert _checkpoint_meta(out)["step"] == 1
    capsys.readouterr()
    assert main([*base, "--resume", "train.optimizer.lr=0.5"]) == 2  # another probe, not this one resumed
    assert "train.optimizer.lr (3.0 -> 0.5)" in _one_line(capsys)
    assert main([*base, "--resume"]) == 0
    assert json.loads((out / "results.json").read_text())["epochs"] == 3


def test_pretrain_help_names_only_shipped_configs(capsys):
    from skelssl.engine.config import list_configs

    with pytest.raises(SystemExit):
        main(["pretrain", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    methods = "skeletonclr|simclr|crossclr|mcc|clip_order|cubic_puzzle|pace_prediction"
    named = set(re.findall(rf"\b((?:{methods})(?:_[a-z0-9]+)?)\b", text))
    assert named and named <= set(list_configs("pretrain")), named - set(list_configs("pretrain"))


def test_recipe_options_for_generated_data_are_named_when_prepared_data_differs(synth, tmp_path, capsys):
    # skeletonclr_synthetic generates one-body data stored at up to 120 frames and read as 32-frame clips; given the
    # fixture's (2 bodies, 50 frames, no clips) it uses
    # them as prepared and says which options did not apply, instead of ignoring them silently.
    run = tmp_path / "run"
    assert main(["pretrain", "skeletonclr_synthetic", "--data", str(synth), "--run-dir", str(run),
                 "train.max_steps=1", *TINY]) == 0
    out = capsys.readouterr().out
    note = next(line for line in out.splitlines() if line.startswith("note: data.recipe_options"))
    assert "num_bodies=1 (prepared: 2)" in note and "num_frames=120 (prepared: 50)" in note
    assert "clip_frames=32 (prepared: None)" in note
    assert main(["pretrain", "skeletonclr_synthetic", "--data", str(synth), "--run-dir", str(tmp_path / "same"),
                 "train.max_steps=1", "data.recipe_options={num_bodies: 2, num_frames: 50, clip_frames: null}", *TINY]) == 0
    assert "note: data.recipe_options" not in capsys.readouterr().out
