import subprocess
import sys

import pytest

from skelssl.cli import build_parser, main


def _subcommands():
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return sorted(action.choices)


def test_every_command_has_help(capsys):
    names = _subcommands()
    assert {"run", "prepare", "info", "list", "split"} <= set(names)
    for name in names:
        with pytest.raises(SystemExit) as exit_info:
            main([name, "--help"])
        assert exit_info.value.code == 0
        assert "usage: skelssl " + name in capsys.readouterr().out


def test_module_entry_point_and_console_script():
    out = subprocess.run([sys.executable, "-m", "skelssl", "--help"], capture_output=True, text=True, check=True)
    assert "prepare" in out.stdout and "run" in out.stdout
    out = subprocess.run([sys.executable, "-m", "skelssl", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("skelssl ")


def test_list_shows_registries(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("ntu25", "kinect20", "openpose18", "nucla", "crossclr", "agcn", "sgn"):
        assert name in out


def test_user_errors_are_one_line(tmp_path, capsys):
    assert main(["info", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not a prepared dataset" in err and "Traceback" not in err
    assert main(["prepare", "nucla", "--raw", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "raw data directory not found" in capsys.readouterr().err
    assert main(["prepare", "nucla", "--raw", str(tmp_path), "--out", str(tmp_path / "o"), "--reader-option", "x"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err
