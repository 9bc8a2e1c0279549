"""Fuzzing the readers with mutated real-format files (hypothesis).

Each reader gets a small valid file in its release's exact format, then up to
four random mutations (cuts, deleted / inserted / replaced bytes, hostile
tokens such as ``nan``, ``1e400``, ``[1]``, a BOM or a NUL, duplicated /
dropped / swapped lines; in JSON files, a field at any depth replaced by a
hostile value such as ``[1]``, ``"abc"``, ``null`` or ``{}``, or dropped). The only allowed outcomes are parsed sequences that
satisfy the :class:`RawSequence` contract (finite float32 joints of the
layout's shape, a matching ``present`` mask, integer labels) or the documented
:class:`SkeletonFileError`; any other exception, or a read that takes longer
than a few seconds, fails. Parsed sequences then go the way ``prepare`` sends
them (the no-body check and the crossclr, agcn, sgn and raw recipes), with the
same two outcomes allowed. Examples are derandomised and bounded so the whole
file runs in well under a minute.
"""

from __future__ import annotations

import json
import re
import signal
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skelssl.data import layouts
from skelssl.data.prepare import _check_has_body
from skelssl.data.readers import get_reader
from skelssl.data.recipes import get_recipe
from skelssl.data.types import RawSequence, SkeletonFileError

FUZZ = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
TIME_LIMIT_S = 10

TOKENS = [b"", b"0", b"-1", b"1e400", b"-1e400", b"nan", b"NaN", b"inf", b"-Infinity", b"99999999999999999999999",
          b"25", b"2", b"1.5", b"-0", b"2e9", b"\xef\xbb\xbf", b"\xff\xfe", b"\x00", b" ", b"\n", b"\r\n", b",", b"[",
          b"]", b"{", b"}", b'"', b"null", b"true", b"[1]", b'"abc"', b"{}", b"[]", b"1_0", b"0x10", b"\xe9"]
TOKEN = re.compile(rb"[^\s,\[\]{}:\"]+")


# Values a JSON field should never hold, for the structure-aware mutation of JSON files.
HOSTILE = [None, True, -1, 0, 1.5, 1e308, 10**20, "abc", "", "7", [], {}, [1], [[1, 2]], {"a": 1}]


def _json_paths(node, path=(), depth=0):
    yield path
    if depth > 4:
        return
    items = node.items() if isinstance(node, dict) else enumerate(node[:3]) if isinstance(node, list) else ()
    for key, child in items:
        yield from _json_paths(child, path + (key,), depth + 1)


def mutate_json(data: st.DataObject, blob: bytes) -> bytes:
    """Replace one field (any depth) of a JSON document with a hostile value, or drop it."""
    try:
        doc = json.loads(blob)
    except ValueError:
        return blob
    paths = list(_json_paths(doc))
    path = paths[data.draw(st.integers(0, len(paths) - 1), label="json_path")]
    value = data.draw(st.sampled_from(HOSTILE + ["<drop>"]), label="json_value")
    if not path:
        return json.dumps(value if value != "<drop>" else None).encode()
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if value == "<drop>":
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return json.dumps(doc).encode()


def mutate(data: st.DataObject, blob: bytes) -> bytes:
    out = bytearray(blob)
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        op = data.draw(st.sampled_from(["cut", "delete", "insert", "token", "byte", "dup_line", "drop_line",
                                        "swap_lines", "json", "json"]), label="op")
        if op == "json":
            out = bytearray(mutate_json(data, bytes(out)))
            continue
        n = len(out)
        pos = data.draw(st.integers(0, n), label="pos")
        if op == "cut":
            del out[pos:]
        elif op == "delete":
            del out[pos:pos + data.draw(st.integers(1, 40), label="len")]
        elif op == "insert":
            out[pos:pos] = data.draw(st.sampled_from(TOKENS) | st.binary(max_size=8), label="ins")
        elif op == "byte" and n:
            out[min(pos, n - 1)] = data.draw(st.integers(0, 255), label="byte")
        elif op == "token":
            spans = [m.span() for m in TOKEN.finditer(bytes(out))]
            if spans:
                a, b = spans[data.draw(st.integers(0, len(spans) - 1), label="which")]
                out[a:b] = data.draw(st.sampled_from(TOKENS), label="tok")
        else:
            lines = bytes(out).split(b"\n")
            i = data.draw(st.integers(0, len(lines) - 1), label="line")
            if op == "dup_line":
                lines.insert(i, lines[i])
            elif op == "drop_line" and len(lines) > 1:
                del lines[i]
            elif op == "swap_lines":
                j = data.draw(st.integers(0, len(lines) - 1), label="line2")
                lines[i], lines[j] = lines[j], lines[i]
            out = bytearray(b"\n".join(lines))
    return bytes(out)


@contextmanager
def time_limit(seconds: int):
    def stop(signum, frame):
        raise TimeoutError(f"reader still busy after {seconds} s (hang?)")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


RECIPES = [get_recipe(name) for name in ("crossclr", "agcn", "sgn", "raw")]


def check(seqs, num_joints: int, num_channels: int = 3) -> None:
    assert isinstance(seqs, list)
    for seq in seqs:
        assert isinstance(seq, RawSequence)
        j = seq.joints
        assert j.dtype == np.float32 and j.ndim == 4 and j.shape[2:] == (num_joints, num_channels), j.shape
        assert np.isfinite(j).all()
        assert seq.present.dtype == bool and seq.present.shape == j.shape[:2]
        assert isinstance(seq.label, int) and isinstance(seq.sample_id, str)
        layout = layouts.get_layout(seq.layout)
        for recipe in RECIPES:
            if all(role in layout.roles for role in recipe.required_roles()):
                out = outcome(lambda: (_check_has_body(seq.source, seq), recipe(seq))[1])
                if out is not None:
                    assert np.isfinite(out.data).all()


def outcome(fn, *args, **kwargs):
    """``fn(...)``'s result, or None when it raised the documented SkeletonFileError."""
    with time_limit(TIME_LIMIT_S):
        try:
            return fn(*args, **kwargs)
        except SkeletonFileError as err:
            assert str(err).startswith(err.path), str(err)
            assert "\n" not in str(err), str(err)
            return None


# ---------------------------------------------------------------------------
# NTU RGB+D


def _ntu_base() -> bytes:
    from test_ntu_reader import ID_A, ID_B, frame, skeleton_text

    return skeleton_text([frame((ID_A, 0)), frame((ID_A, 1), (ID_B, 2)), frame(), frame((ID_B, 3))]).encode()


NTU_BASE = _ntu_base()


@FUZZ
@given(st.data())
def test_fuzz_ntu(data):
    blob = mutate(data, NTU_BASE)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "S001C002P003R002A013.skeleton"
        path.write_bytes(blob)
        seqs = outcome(get_reader("ntu120").read, str(path))
        if seqs is not None:
            check(seqs, 25)


# ---------------------------------------------------------------------------
# N-UCLA


NUCLA_BASE = json.dumps({
    "file_name": "a08_s03_e02_v01",
    "skeletons": [[[round(0.1 * j + 0.01 * f, 3), -0.2, 3.0] for j in range(20)] for f in range(3)],
    "label": 7,
}).encode()


@FUZZ
@given(st.data())
def test_fuzz_nucla(data):
    blob = mutate(data, NUCLA_BASE)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a08_s03_e02_v01.json"
        path.write_bytes(blob)
        seqs = outcome(get_reader("nucla").read, str(path))
        if seqs is not None:
            check(seqs, 20)


# ---------------------------------------------------------------------------
# PKU-MMD


def _pku_files() -> tuple[bytes, bytes]:
    from test_pkummd_reader import video_array

    rows = video_array(t=12).reshape(12, -1)
    skeleton = "".join(" ".join(f"{x:.5f}" for x in row) + "\n" for row in rows).encode()
    return skeleton, b"5,0,4,1\n12,3,7,2\n51,5,8,1\n"


PKU_SKELETON, PKU_LABELS = _pku_files()


@FUZZ
@given(st.data())
def test_fuzz_pkummd(data):
    target = data.draw(st.sampled_from(["skeleton", "labels"]), label="file")
    skeleton = mutate(data, PKU_SKELETON) if target == "skeleton" else PKU_SKELETON
    labels = mutate(data, PKU_LABELS) if target == "labels" else PKU_LABELS
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp)
        (raw / "skeleton").mkdir()
        (raw / "label").mkdir()
        (raw / "skeleton" / "0002-L.txt").write_bytes(skeleton)
        (raw / "label" / "0002-L.txt").write_bytes(labels)
        reader = get_reader("pkummd1")
        (item,) = reader.discover(raw)
        result = outcome(reader.read_item, item, untrimmed=True)
        if result is not None:
            check(result.sequences, 25)
            check([result.untrimmed], 25)
            assert all(isinstance(d, SkeletonFileError) for d in result.dropped)
            assert len(result.sequences) + len(result.dropped) >= 1


# ---------------------------------------------------------------------------
# custom


CUSTOM_LAYOUT = {
    "name": "fuzz_tri3",
    "joint_names": ["hip", "left_hand", "right_hand"],
    "bones": [[1, 0], [2, 0]],
    "center": 0,
    "mirror_pairs": [[1, 2]],
    "roles": {"spine_base": 0, "left_hand": 1, "right_hand": 2},
}
CUSTOM_FILES = {
    "dataset.json": json.dumps({"layout": CUSTOM_LAYOUT, "num_classes": 2, "class_names": ["walk", "wave"]},
                               indent=1).encode(),
    "samples.csv": b"sample_id,label,subject,view,split_xsub\nwalk_01,0,1,2,train\nwave_01,wave,2,,test\n",
}


def _npy(array: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


CUSTOM_NPY = {
    "skeletons/walk_01.npy": _npy(np.arange(4 * 3 * 3, dtype=np.float32).reshape(4, 3, 3) / 10),
    "skeletons/wave_01.npy": _npy(np.ones((2, 3, 3, 3), dtype=np.float64)),
}


@FUZZ
@given(st.data())
def test_fuzz_custom(data):
    files = {**CUSTOM_FILES, **CUSTOM_NPY}
    target = data.draw(st.sampled_from(sorted(files)), label="file")
    files[target] = mutate(data, files[target])
    registered = set(layouts._LAYOUTS)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "skeletons").mkdir()
            for name, blob in files.items():
                (root / name).write_bytes(blob)
            reader = get_reader("custom")
            items = outcome(reader.discover, root)
            for item in items or []:
                seqs = outcome(reader.read, item)
                if seqs is not None:
                    layout = layouts.get_layout(seqs[0].layout)
                    check(seqs, layout.num_joints, layout.num_channels)
    finally:
        for name in set(layouts._LAYOUTS) - registered:  # mutated inline layouts registered under new names
            del layouts._LAYOUTS[name]


# ---------------------------------------------------------------------------
# Kinetics-skeleton and the Kinect v1 presets (same contract)


def _kinetics_video() -> bytes:
    from test_kinetics_reader import person

    frames = [{"frame_index": 1, "skeleton": [person(0.1), person(0.2)]}, {"frame_index": 3, "skeleton": [person(0.3)]}]
    return json.dumps({"data": frames, "label": "abseiling", "label_index": 0}).encode()


KINETICS_VIDEO = _kinetics_video()
KINETICS_INDEX = json.dumps({"v": {"has_skeleton": True, "label": "abseiling", "label_index": 0}}).encode()


@FUZZ
@given(st.data())
def test_fuzz_kinetics(data):
    target = data.draw(st.sampled_from(["video", "index"]), label="file")
    video = mutate(data, KINETICS_VIDEO) if target == "video" else KINETICS_VIDEO
    index = mutate(data, KINETICS_INDEX) if target == "index" else KINETICS_INDEX
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp)
        (raw / "kinetics_train").mkdir()
        (raw / "kinetics_train" / "v.json").write_bytes(video)
        (raw / "kinetics_train_label.json").write_bytes(index)
        seqs = outcome(get_reader("kinetics").read, str(raw / "kinetics_train" / "v.json"))
        if seqs is not None:
            check(seqs, 18)


def _kinect_v1_files() -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    frames = rng.uniform(-1, 3, size=(3, 20, 3))
    msr = "".join(f"{x:.4f} {y:.4f} {z:.4f} 0\n" for f in frames for x, y, z in f).encode()
    utk = "".join(f"{10 + i} " + " ".join(f"{v:.4f}" for v in f.ravel()) + "\n" for i, f in enumerate(frames)).encode()
    return {"msr": msr, "utk": utk, "labels": b"s01_e01\nwalk: 10 11\nsitDown: 12 12\nstandUp: NaN NaN\n"}


KV1 = _kinect_v1_files()


@FUZZ
@given(st.data())
def test_fuzz_kinect_v1_text_presets(data):
    target = data.draw(st.sampled_from(sorted(KV1)), label="file")
    files = dict(KV1)
    files[target] = mutate(data, files[target])
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp)
        (raw / "a01_s01_e01_skeleton3D.txt").write_bytes(files["msr"])
        (raw / "joints_s01_e01.txt").write_bytes(files["utk"])
        (raw / "actionLabel.txt").write_bytes(files["labels"])
        seqs = outcome(get_reader("msr_action3d").read, str(raw / "a01_s01_e01_skeleton3D.txt"))
        if seqs is not None:
            check(seqs, 20)
        reader = get_reader("utkinect")
        if outcome(reader.discover, raw) is not None:
            result = outcome(reader.read_item, str(raw / "joints_s01_e01.txt"))
            if result is not None:
                check(result.sequences, 20)


def _utd_mat() -> bytes:
    import io

    from scipy.io import savemat

    buf = io.BytesIO()
    savemat(buf, {"d_skel": np.random.default_rng(1).uniform(-1, 3, size=(20, 3, 4))})
    return buf.getvalue()


UTD_MAT = _utd_mat()


@settings(FUZZ, max_examples=80)
@given(st.data())
def test_fuzz_utd_mhad_mat(data):
    blob = mutate(data, UTD_MAT)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a1_s1_t1_skeleton.mat"
        path.write_bytes(blob)
        seqs = outcome(get_reader("utd_mhad").read, str(path))
        if seqs is not None:
            check(seqs, 20)
