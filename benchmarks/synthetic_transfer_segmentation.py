"""Short real runs of the transfer and segmentation protocols, from one ActCLR pretraining on synthetic data.

    python benchmarks/synthetic_transfer_segmentation.py --nucla-raw ../shared/data/nw-ucla \\
        [--work runs/synthetic_transfer_segmentation] [--epochs 10] [--threads 1]

1. prepares the synthetic dataset (``ntu25``, 2000 samples, ``crossclr`` recipe),
   N-UCLA with the same recipe (``kinect20``, cross-view) and synthetic untrimmed
   videos (``--reader-option segmentation=true``, 90 videos of 5 actions);
2. pretrains ActCLR (``actclr_synthetic``) on the synthetic xsub training part;
3. transfer synthetic → N-UCLA, linear: the papers' probe and the standardised
   probe (``linear_std``), each on the pretrained encoder and on the same
   encoder with random frozen weights (the floor), N-UCLA's joints mapped onto
   ``ntu25`` (:mod:`skelssl.data.layout_mapping`);
4. segmentation of the synthetic untrimmed videos (xsub videos), pretrained vs random.

Resumable (finished steps are skipped). One record per number in
``benchmarks/results/transfer_synthetic_nucla.json`` (``top1``, with
``pretrain_dataset``) and ``benchmarks/results/segmentation_synthetic.json``
(``acc``, ``macc``, ``fwiou``, ``miou`` in %), each with the command that made it.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from ssl_grid import Grid

ROOT = Path(__file__).resolve().parent
STD_PROBE = ["protocol.feature_norm=batchnorm", "train.optimizer.lr=0.1"]


def prepare(grid: Grid, out: Path, args: list[str]) -> Path:
    if not (out / "info.json").exists():
        grid.skelssl(["prepare", *args, "--out", str(out), "--no-progress", "--workers", "1"],
                     out.parent / f"{out.name}.log")
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nucla-raw", required=True, help="raw N-UCLA (the all_sqe release), e.g. ../shared/data/nw-ucla")
    p.add_argument("--work", default="runs/synthetic_transfer_segmentation")
    p.add_argument("--epochs", type=int, default=10, help="ActCLR pretraining epochs (half of them InfoNCE stage 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--results", default=str(ROOT / "results"))
    args = p.parse_args()
    work = Path(args.work)
    grid = Grid(work, args.threads)
    data = work / "data"
    syn = prepare(grid, data / "synthetic", ["synthetic"])
    nucla = prepare(grid, data / "nucla_crossclr", ["nucla", "--raw", args.nucla_raw, "--recipe", "crossclr"])
    seg = prepare(grid, data / "synthetic_untrimmed", ["synthetic", "--reader-option", "segmentation=true",
                                                       "--reader-option", "num_videos=90"])
    e = args.epochs
    run = grid.pretrain("actclr_synthetic", "actclr_synthetic", syn, e, args.seed,
                        [f"method.stage1_epochs={e // 2}", f"train.schedule.milestones=[{round(e * 0.8)}]"])
    if run is None:
        return 1
    pretrain_cmd = grid.pretrain_commands[run]

    transfer, segmentation = [], []
    for probe, extra in (("linear", []), ("linear_std", STD_PROBE)):
        for encoder in ("pretrained", "random"):
            out = run / "eval" / f"transfer_{probe}_{encoder}"
            cmd = ["evaluate", "linear", "--run", str(run), "--data", str(nucla), "--out", str(out), "--quiet",
                   *(["--random-init"] if encoder == "random" else []), *extra]
            if not (out / "results.json").exists():
                grid.skelssl(cmd, out.parent / f"{out.name}.log")
            if (out / "results.json").exists():
                r = json.loads((out / "results.json").read_text())
                transfer.append({
                    "dataset": r["dataset"], "pretrain_dataset": r["pretrain_dataset"], "method": r["method"],
                    "view": r["view"], "protocol": probe, "encoder": encoder, "top1": round(r["top1"], 2),
                    "top5": round(r["top5"], 2), "epochs": e if encoder == "pretrained" else 0,
                    "eval_epochs": r.get("epochs"), "seed": args.seed, "split": r["split_protocol"],
                    "joint_mapping": r["extra"]["transfer"]["joint_mapping"]["filled"],
                    "command": "skelssl " + shlex.join(cmd), "pretrain_command": pretrain_cmd})
    for encoder in ("pretrained", "random"):
        out = run / "eval" / f"segmentation_{encoder}"
        cmd = ["evaluate", "segmentation", "--run", str(run), "--data", str(seg), "--out", str(out), "--quiet",
               *(["--random-init"] if encoder == "random" else [])]
        if not (out / "results.json").exists():
            grid.skelssl(cmd, out.parent / f"{out.name}.log")
        if (out / "results.json").exists():
            r = json.loads((out / "results.json").read_text())
            segmentation.append({
                "dataset": "synthetic_untrimmed", "pretrain_dataset": r["pretrain_dataset"], "method": r["method"],
                "view": r["view"], "protocol": "segmentation", "encoder": encoder,
                **{k: round(r[k], 2) for k in ("acc", "macc", "fwiou", "miou")},
                "top1": round(r["acc"], 2),  # frame-wise top-1 = ACC
                "epochs": e if encoder == "pretrained" else 0, "eval_epochs": r.get("epochs"), "seed": args.seed,
                "split": r["split_protocol"], "test_videos": r["num_test_videos"], "test_frames": r["num_test_frames"],
                "window": r["window"], "stride": r["stride"],
                "command": "skelssl " + shlex.join(cmd), "pretrain_command": pretrain_cmd})
    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    for name, records in (("transfer_synthetic_nucla", transfer), ("segmentation_synthetic", segmentation)):
        (results / f"{name}.json").write_text(json.dumps(records, indent=1) + "\n")
        print(f"wrote {len(records)} records to {results / f'{name}.json'}")
    for r in transfer:
        print(f"transfer {r['protocol']:10s} {r['encoder']:10s} top-1 {r['top1']:6.2f}")
    for r in segmentation:
        print(f"segmentation {r['encoder']:10s} ACC {r['acc']:6.2f} MACC {r['macc']:6.2f} "
              f"FWIoU {r['fwiou']:6.2f} mIoU {r['miou']:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
