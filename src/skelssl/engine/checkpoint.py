"""Checkpoints without pickle: tensors in safetensors, everything else in JSON.

A checkpoint ``<dir>/<name>.safetensors`` holds every tensor of the training
state (model parameters and buffers, optimiser moments, RNG states) under
path-like keys (``model/encoder.weight``, ``optimizer/state/0/momentum_buffer``).
The non-tensor rest (config, epoch, step, git commit, versions, optimiser
hyper-parameters, schedule position...) is JSON: stored in the safetensors
header, where it is read from, and copied to ``<name>.json`` for people.
:func:`encode_state` turns nested state dicts into that pair and
:func:`decode_state` reverses it exactly (int dict keys and tuples included).

Files are written to a temporary name and ``os.replace``-d, so a run killed
mid-write leaves the previous checkpoint intact.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor

__all__ = [
    "FORMAT",
    "CheckpointError",
    "encode_state",
    "decode_state",
    "save_checkpoint",
    "load_checkpoint",
    "resolve_checkpoint",
    "CheckpointManager",
    "git_commit",
    "environment_versions",
]

FORMAT = "skelssl-checkpoint-1"
_META_KEY = "skelssl"
_EPOCH_FILE = re.compile(r"epoch_(\d+)\.safetensors$")


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read (zero-byte, truncated, corrupt or not skelssl's); names the file."""

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __reduce__(self):
        return (type(self), (self.path, self.problem))


def encode_state(obj: Any, prefix: str = "") -> tuple[Any, dict[str, Tensor]]:
    """Split a nested state into ``(JSON-able skeleton, {key: tensor})``."""
    tensors: dict[str, Tensor] = {}

    def enc(value: Any, path: str) -> Any:
        if isinstance(value, Tensor):
            key = path or "tensor"
            if key in tensors:
                raise ValueError(f"duplicate tensor key {key!r}")
            # A private contiguous CPU copy: safetensors refuses tensors sharing storage.
            tensors[key] = value.detach().to("cpu", copy=True).contiguous()
            return {"__tensor__": key}
        if isinstance(value, Mapping):
            if all(isinstance(k, str) and not k.startswith("__") for k in value):
                return {k: enc(v, f"{path}/{k}" if path else k) for k, v in value.items()}
            return {"__items__": [[enc(k, f"{path}/key{i}"), enc(v, f"{path}/{k}")] for i, (k, v) in enumerate(value.items())]}
        if isinstance(value, tuple):
            return {"__tuple__": [enc(v, f"{path}/{i}") for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [enc(v, f"{path}/{i}") for i, v in enumerate(value)]
        if isinstance(value, np.generic):
            return value.item()
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        raise TypeError(f"cannot store {type(value).__name__} at {path!r} in a checkpoint")

    return enc(obj, prefix), tensors


def decode_state(skeleton: Any, tensors: Mapping[str, Tensor]) -> Any:
    """Inverse of :func:`encode_state`."""
    if isinstance(skeleton, dict):
        if set(skeleton) == {"__tensor__"}:
            return tensors[skeleton["__tensor__"]]
        if set(skeleton) == {"__items__"}:
            return {_hashable(decode_state(k, tensors)): decode_state(v, tensors) for k, v in skeleton["__items__"]}
        if set(skeleton) == {"__tuple__"}:
            return tuple(decode_state(v, tensors) for v in skeleton["__tuple__"])
        return {k: decode_state(v, tensors) for k, v in skeleton.items()}
    if isinstance(skeleton, list):
        return [decode_state(v, tensors) for v in skeleton]
    return skeleton


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


def _fsync_replace(tmp: Path, path: Path) -> None:
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def save_checkpoint(path: str | os.PathLike, tensors: Mapping[str, Tensor], meta: Mapping[str, Any]) -> Path:
    """Atomically write ``<stem>.safetensors`` (tensors + JSON header) and ``<stem>.json``; returns the former."""
    path = Path(path)
    if path.suffix != ".safetensors":
        path = path.with_name(path.name + ".safetensors")
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"format": FORMAT, **meta}
    text = json.dumps(meta, indent=1, sort_keys=True)
    json_path = path.with_suffix(".json")
    tmp, tmp_json = _tmp(path), _tmp(json_path)
    try:
        save_file(dict(tensors), str(tmp), metadata={_META_KEY: text, "format": "pt"})
        _fsync_replace(tmp, path)
        tmp_json.write_text(text + "\n")
        _fsync_replace(tmp_json, json_path)
    finally:
        tmp.unlink(missing_ok=True)
        tmp_json.unlink(missing_ok=True)
    return path


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[dict[str, Tensor], dict]:
    """``(tensors, meta)`` from a checkpoint written by :func:`save_checkpoint` (no pickle involved).

    Anything wrong with the file (empty, cut short, random bytes, a foreign
    safetensors file, a header naming tensors the file lacks) is a
    :class:`CheckpointError` naming it, in one line.
    """
    path = resolve_checkpoint(path)
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(path, "empty file (0 bytes); the run was probably killed while copying it")
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
        tensors = load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise CheckpointError(path, f"not a readable safetensors file ({_one_line(err)}); it is truncated or "
                              f"corrupt ({size} bytes)") from None
    if _META_KEY not in header:
        raise CheckpointError(path, f"not a skelssl checkpoint (no '{_META_KEY}' metadata)")
    try:
        meta = json.loads(header[_META_KEY])
    except json.JSONDecodeError as err:
        raise CheckpointError(path, f"metadata is not valid JSON ({err.msg} at position {err.pos})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise CheckpointError(path, f"checkpoint format {found!r}, expected {FORMAT!r}")
    missing = sorted(_tensor_refs(meta.get("state")) - set(tensors))
    if missing:
        raise CheckpointError(path, f"metadata refers to {len(missing)} tensor(s) the file lacks, e.g. {missing[0]!r}")
    return tensors, meta


def _tensor_refs(skeleton: Any) -> set[str]:
    """Every tensor key an :func:`encode_state` skeleton refers to."""
    refs: set[str] = set()
    stack = [skeleton]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if set(node) == {"__tensor__"} and isinstance(node["__tensor__"], str):
                refs.add(node["__tensor__"])
            else:
                stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return refs


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """Accept a run dir, its ``checkpoints/`` dir, a ``.safetensors``/``.json`` file or a stem."""
    p = Path(path)
    for candidate in (
        p,
        p.with_name(p.name + ".safetensors"),
        p.with_suffix(".safetensors") if p.suffix == ".json" else None,
        p / "last.safetensors",
        p / "checkpoints" / "last.safetensors",
    ):
        if candidate is not None and candidate.is_file() and candidate.suffix == ".safetensors":
            return candidate
    raise FileNotFoundError(f"no checkpoint at {p} (looked for a .safetensors file, <dir>/last.safetensors, "
                            f"<run>/checkpoints/last.safetensors)")


def _link_or_copy(src: Path, dst: Path) -> None:
    tmp = _tmp(dst)
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copy2(src, tmp)
    os.replace(tmp, dst)


class CheckpointManager:
    """``last``, ``epoch_XXXX`` (the newest ``keep_last`` kept) and ``best`` in one directory."""

    def __init__(self, directory: str | os.PathLike, keep_last: int = 2) -> None:
        self.dir = Path(directory)
        self.keep_last = int(keep_last)

    @property
    def last(self) -> Path:
        return self.dir / "last.safetensors"

    @property
    def best(self) -> Path:
        return self.dir / "best.safetensors"

    def save(self, tensors: Mapping[str, Tensor], meta: Mapping[str, Any], *, epoch: int | None = None,
             best: bool = False) -> Path:
        """Write ``last`` (or ``epoch_<epoch>`` linked as ``last``), mark it ``best`` if asked, prune old epochs."""
        if epoch is None:
            written = save_checkpoint(self.last, tensors, meta)
        else:
            written = save_checkpoint(self.dir / f"epoch_{epoch:04d}", tensors, meta)
            self._alias(written, "last")
        if best:
            self._alias(written, "best")
        self.prune()
        return written

    def _alias(self, written: Path, name: str) -> None:
        for suffix in (".safetensors", ".json"):
            _link_or_copy(written.with_suffix(suffix), self.dir / f"{name}{suffix}")

    def epoch_checkpoints(self) -> list[Path]:
        found = [p for p in self.dir.glob("epoch_*.safetensors") if _EPOCH_FILE.search(p.name)]
        return sorted(found, key=lambda p: int(_EPOCH_FILE.search(p.name).group(1)))  # type: ignore[union-attr]

    def prune(self) -> None:
        epochs = self.epoch_checkpoints()
        for old in epochs[: max(0, len(epochs) - self.keep_last)]:
            old.unlink(missing_ok=True)
            old.with_suffix(".json").unlink(missing_ok=True)


def git_commit(where: str | os.PathLike | None = None) -> str | None:
    """The source tree's commit (``git rev-parse HEAD``), ``-dirty`` appended when tracked files differ from it.

    None outside a git checkout. Without the suffix a run made from uncommitted changes would name a
    commit whose code it did not run. ``where``: a directory inside the checkout (default: this package's).
    """
    return _git_commit(str(Path(where or Path(__file__).resolve().parent)))


@functools.lru_cache(maxsize=None)
def _git_commit(here: str) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                                 capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    if out.returncode != 0 or not re.fullmatch(r"[0-9a-f]{40}", commit):
        return None
    return commit + ("-dirty" if changed.returncode == 0 and changed.stdout.strip() else "")


def environment_versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    from skelssl import __version__

    found: dict[str, str | None] = {"python": platform.python_version(), "skelssl": __version__,
                                    "torch": torch.__version__, "cuda": torch.version.cuda}
    for name in ("numpy", "safetensors", "omegaconf"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found
