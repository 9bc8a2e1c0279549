"""Data-parsing benchmark: NTU ``.skeleton`` parsing and recipe preprocessing.

    python benchmarks/bench_data.py --ntu-dir DIR          # every .skeleton under DIR
    python benchmarks/bench_data.py --ntu-dir DIR --limit 2000   # an even sample of them
    python benchmarks/bench_data.py --generate 300         # synthetic NTU-120-like files
    python benchmarks/bench_data.py --save                 # also write benchmarks/results/bench_data.json

Prints one JSON object. Parsing is timed on one process (``*_single``) and on
all cores with a process pool (``files_per_s`` / ``frames_per_s``), against a
baseline that reads the files the way the reference ST-GCN / NTU scripts do
(``read_skeleton`` + ``read_xyz``: line by line, a dict per joint).
``speedup`` compares single-process parsing with the single-process baseline,
timed in turns on the same ``--baseline-files`` files so that load from other
processes hits both alike (``speedup_cpu_time`` is the same ratio in process
CPU time, steadier on a shared machine); ``samples_per_s`` is the recipe (default ``crossclr``) applied to
already-parsed sequences on one process, ``end_to_end_samples_per_s`` read +
recipe on all cores. Every file timed by the baseline is also checked to parse
to identical joints.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from skelssl.data.readers import get_reader
from skelssl.data.readers.ntu import (
    MAX_BODIES,
    NUM_JOINTS,
    missing_skeleton_samples,
    read_ntu_skeleton,
    write_ntu_skeleton,
)
from skelssl.data.recipes import Recipe
from skelssl.data.types import SkeletonFileError

RESULTS = Path(__file__).resolve().parent / "results" / "bench_data.json"


# ---------------------------------------------------------------------------
# Baseline: the reference scripts' reader (line by line, a dict per joint).

_BODY_KEYS = (
    "bodyID", "clipedEdges", "handLeftConfidence", "handLeftState", "handRightConfidence",
    "handRightState", "isResticted", "leanX", "leanY", "trackingState",
)
_JOINT_KEYS = (
    "x", "y", "z", "depthX", "depthY", "colorX", "colorY",
    "orientationW", "orientationX", "orientationY", "orientationZ", "trackingState",
)


def baseline_read_skeleton(path: str) -> dict:
    with open(path) as f:
        sequence = {"numFrame": int(f.readline()), "frameInfo": []}
        for _ in range(sequence["numFrame"]):
            frame = {"numBody": int(f.readline()), "bodyInfo": []}
            for _ in range(frame["numBody"]):
                body = {k: float(v) for k, v in zip(_BODY_KEYS, f.readline().split())}
                body["numJoint"] = int(f.readline())
                body["jointInfo"] = []
                for _ in range(body["numJoint"]):
                    joint = {k: float(v) for k, v in zip(_JOINT_KEYS, f.readline().split())}
                    body["jointInfo"].append(joint)
                frame["bodyInfo"].append(body)
            sequence["frameInfo"].append(frame)
    return sequence


def baseline_read_xyz(path: str, max_body: int = MAX_BODIES, num_joint: int = NUM_JOINTS) -> np.ndarray:
    sequence = baseline_read_skeleton(path)
    data = np.zeros((max_body, sequence["numFrame"], num_joint, 3))
    for t, frame in enumerate(sequence["frameInfo"]):
        for m, body in enumerate(frame["bodyInfo"]):
            for j, joint in enumerate(body["jointInfo"]):
                if m < max_body and j < num_joint:
                    data[m, t, j, :] = [joint["x"], joint["y"], joint["z"]]
    return data


# ---------------------------------------------------------------------------
# Synthetic NTU-120-like files

# A standing Kinect v2 skeleton (metres, camera frame), in ntu25 joint order.
_REST_POSE = np.array([
    [0.00, -0.30, 0.00], [0.00, 0.00, 0.00], [0.00, 0.28, 0.00], [0.00, 0.40, 0.00],
    [-0.18, 0.20, 0.00], [-0.25, -0.05, 0.00], [-0.28, -0.28, 0.00], [-0.29, -0.36, 0.00],
    [0.18, 0.20, 0.00], [0.25, -0.05, 0.00], [0.28, -0.28, 0.00], [0.29, -0.36, 0.00],
    [-0.10, -0.32, 0.00], [-0.11, -0.72, 0.02], [-0.12, -1.10, 0.05], [-0.12, -1.15, -0.05],
    [0.10, -0.32, 0.00], [0.11, -0.72, 0.02], [0.12, -1.10, 0.05], [0.12, -1.15, -0.05],
    [0.00, 0.22, 0.00], [-0.30, -0.42, 0.00], [-0.27, -0.38, -0.03], [0.30, -0.42, 0.00],
    [0.27, -0.38, -0.03],
])


def _synthetic_joints(rng: np.random.Generator, frames: int, bodies: int) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(frames)[:, None, None]
    joints = np.empty((bodies, frames, NUM_JOINTS, 3))
    for b in range(bodies):
        origin = np.array([rng.uniform(-0.8, 0.8), rng.uniform(0.0, 0.3), rng.uniform(2.5, 3.8)])
        amp = rng.uniform(0.0, 0.12, size=(1, NUM_JOINTS, 3))
        phase = rng.uniform(0, 2 * np.pi, size=(1, NUM_JOINTS, 3))
        freq = rng.uniform(0.02, 0.1)
        motion = amp * np.sin(2 * np.pi * freq * t + phase)
        joints[b] = origin + _REST_POSE[None] + motion + rng.normal(0, 0.004, size=(frames, NUM_JOINTS, 3))
    present = np.ones((bodies, frames), dtype=bool)
    if bodies > 1 and rng.random() < 0.2:
        # The second body drops out for a few frames now and then, as tracking does.
        gap = rng.integers(0, frames - 5)
        present[1, gap : gap + rng.integers(2, 6)] = False
    return joints, present


def generate_files(out_dir: Path, count: int, seed: int = 0) -> list[str]:
    """``count`` NTU-120-like files: 70-100 frames, 1 body (2 for mutual actions)."""
    rng = np.random.default_rng(seed)
    missing = missing_skeleton_samples(120)
    mutual = set(range(50, 61)) | set(range(106, 121))
    names: set[str] = set()
    paths = []
    while len(paths) < count:
        setup, camera, performer = rng.integers(1, 33), rng.integers(1, 4), rng.integers(1, 107)
        replication, action = rng.integers(1, 3), rng.integers(1, 121)
        name = f"S{setup:03d}C{camera:03d}P{performer:03d}R{replication:03d}A{action:03d}"
        if name in names or name in missing:
            continue
        names.add(name)
        joints, present = _synthetic_joints(rng, int(rng.integers(70, 101)), 2 if action in mutual else 1)
        paths.append(str(write_ntu_skeleton(out_dir / f"{name}.skeleton", joints, present, rng=rng)))
    return sorted(paths)


# ---------------------------------------------------------------------------
# Timed work (module level so the process pool can run it)


def _parse_chunk(paths: list[str]) -> tuple[int, int, dict[str, int]]:
    frames, ok, errors = 0, 0, {}
    for p in paths:
        try:
            joints, _, _, _ = read_ntu_skeleton(p)
        except SkeletonFileError as err:
            errors[err.reason] = errors.get(err.reason, 0) + 1
            continue
        frames += joints.shape[1]
        ok += 1
    return ok, frames, errors


def _baseline_or_none(path: str) -> np.ndarray | None:
    # The reference reader has no error handling; a file it cannot read is counted, not fatal.
    try:
        return baseline_read_xyz(path)
    except (ValueError, IndexError):
        return None


def _differs(path: str, ref: np.ndarray) -> bool:
    try:
        joints, _, _, _ = read_ntu_skeleton(path)
    except SkeletonFileError:
        return bool(np.abs(ref).sum() > 0)
    ours = np.zeros(ref.shape, dtype=np.float32)
    ours[: joints.shape[0]] = joints
    return not np.array_equal(ours, ref.astype(np.float32))


def _read_and_prepare_chunk(args: tuple[list[str], str]) -> int:
    paths, recipe_name = args
    reader = get_reader("ntu120", ignore_missing_list=True)
    recipe = _load_recipe(recipe_name)
    done = 0
    for p in paths:
        try:
            sequences = reader.read(p)
        except SkeletonFileError:
            continue
        for seq in sequences:
            recipe(seq)
            done += 1
    return done


def _load_recipe(name: str) -> Recipe:
    from skelssl.data import recipes

    try:
        return recipes.get_recipe(name)
    except KeyError:
        # The recipe package may not import every preset yet; load the module by name.
        importlib.import_module(f"skelssl.data.recipes.{name}")
        return recipes.get_recipe(name)


def _chunks(items: list[str], n: int) -> list[list[str]]:
    size = max(1, min(64, -(-len(items) // (n * 4))))
    return [items[i : i + size] for i in range(0, len(items), size)]


def run(paths: list[str], workers: int, baseline_files: int, recipe_name: str, recipe_files: int) -> dict:
    # Warm the page cache so every variant reads from memory.
    for p in paths:
        Path(p).read_bytes()

    start = time.perf_counter()
    ok, frames, errors = _parse_chunk(paths)
    single = time.perf_counter() - start

    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_parse_chunk, _chunks(paths[: min(len(paths), workers)], workers)))  # start the workers
        start = time.perf_counter()
        results = list(pool.map(_parse_chunk, _chunks(paths, workers)))
        parallel = time.perf_counter() - start
    par_ok = sum(r[0] for r in results)
    par_frames = sum(r[1] for r in results)

    # Turns of 8 files each, so a burst of load from elsewhere hits both sides.
    base_paths = paths[:baseline_files]
    ours_time = baseline = ours_cpu = baseline_cpu = 0.0
    mismatches = baseline_failures = 0
    for i in range(0, len(base_paths), 8):
        group = base_paths[i : i + 8]
        start, cpu = time.perf_counter(), time.process_time()
        _parse_chunk(group)
        ours_time += time.perf_counter() - start
        ours_cpu += time.process_time() - cpu
        start, cpu = time.perf_counter(), time.process_time()
        refs = [_baseline_or_none(p) for p in group]
        baseline += time.perf_counter() - start
        baseline_cpu += time.process_time() - cpu
        baseline_failures += sum(ref is None for ref in refs)
        mismatches += sum(_differs(p, ref) for p, ref in zip(group, refs) if ref is not None)

    result: dict = {
        "files": len(paths),
        "files_parsed": ok,
        "frames": frames,
        "parse_errors": errors,
        "workers": workers,
        "files_per_s": round(par_ok / parallel, 1),
        "frames_per_s": round(par_frames / parallel, 1),
        "files_per_s_single": round(ok / single, 1),
        "frames_per_s_single": round(frames / single, 1),
        "ms_per_file_single": round(1000 * single / max(len(paths), 1), 3),
        "baseline_files": len(base_paths),
        "baseline_files_per_s": round(len(base_paths) / baseline, 1),
        "baseline_ms_per_file": round(1000 * baseline / max(len(base_paths), 1), 3),
        "speedup": round(baseline / ours_time, 2),
        "speedup_cpu_time": round(baseline_cpu / ours_cpu, 2),
        "speedup_all_cores": round((par_ok / parallel) / (len(base_paths) / baseline), 2),
        "baseline_mismatches": mismatches,
        "baseline_failures": baseline_failures,
    }

    try:
        recipe = _load_recipe(recipe_name)
    except (ImportError, KeyError) as err:
        result["recipe"] = recipe_name
        result["recipe_error"] = f"{type(err).__name__}: {err}"
        return result
    reader = get_reader("ntu120", ignore_missing_list=True)
    sequences = []
    for p in paths[:recipe_files]:
        try:
            sequences.extend(reader.read(p))
        except SkeletonFileError:
            continue
    start = time.perf_counter()
    for seq in sequences:
        recipe(seq)
    prep = time.perf_counter() - start
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_read_and_prepare_chunk, [(paths[:workers], recipe_name)]))
        start = time.perf_counter()
        done = sum(pool.map(_read_and_prepare_chunk, [(c, recipe_name) for c in _chunks(paths, workers)]))
        end_to_end = time.perf_counter() - start
    result.update(
        recipe=recipe_name,
        recipe_samples=len(sequences),
        samples_per_s=round(len(sequences) / prep, 1),
        end_to_end_samples_per_s=round(done / end_to_end, 1),
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ntu-dir", type=Path, help="parse every .skeleton file under this folder")
    parser.add_argument("--generate", type=int, default=None, metavar="N",
                        help="generate N synthetic NTU-120-like files instead (default 300 without --ntu-dir)")
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="with --ntu-dir: time N files spread evenly over the sorted list (default: all)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--baseline-files", type=int, default=200,
                        help="files timed with the slow baseline reader (default 200)")
    parser.add_argument("--recipe", default="crossclr")
    parser.add_argument("--recipe-files", type=int, default=500, help="files timed through the recipe on one process")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    parser.add_argument("--save", action="store_true", help="also write benchmarks/results/bench_data.json")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="skelssl_bench_") as tmp:
        if args.ntu_dir is not None and args.generate is None:
            paths = sorted(str(p) for p in args.ntu_dir.rglob("*.skeleton"))
            if not paths:
                parser.error(f"no .skeleton files under {args.ntu_dir}")
            source = f"{args.ntu_dir} ({len(paths)} files)"
            if args.limit is not None and args.limit < len(paths):
                picks = np.linspace(0, len(paths) - 1, args.limit).round().astype(int)
                paths = [paths[i] for i in picks]
        else:
            count = args.generate if args.generate is not None else 300
            start = time.perf_counter()
            paths = generate_files(Path(tmp), count, seed=args.seed)
            source = f"generated {count} files in {time.perf_counter() - start:.1f} s"
        result = {"source": source}
        result.update(run(paths, args.workers, args.baseline_files, args.recipe, args.recipe_files))
        result["megabytes"] = round(sum(os.path.getsize(p) for p in paths) / 2**20, 1)
    result["environment"] = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
    }

    text = json.dumps(result, indent=1)
    print(text)
    targets = [args.out] if args.out else []
    if args.save:
        targets.append(RESULTS)
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
