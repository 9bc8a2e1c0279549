"""Regenerate the README's results tables from the records in ``benchmarks/results/*.json``.

    python benchmarks/tables.py            # rewrite README.md and docs/nucla-accuracy.md in place
    python benchmarks/tables.py --check    # exit 1 if one is out of date (used by the tests)

Every generated table sits between ``<!-- table:NAME -->`` and
``<!-- /table -->`` markers and is produced here from the JSON records, one
per number, so a number in the README always has a record with the command
that produced it.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import statistics
import sys
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
README = HERE.parent / "README.md"
# Every file whose tables come from the records.
DOCUMENTS = (README, HERE.parent / "docs" / "nucla-accuracy.md")


def _load(name: str) -> list[dict]:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else []


def _semi(name: str, labels: int = 15) -> list[dict]:
    """A semi-supervised grid's records with ``labels`` labels per class (one file holds several columns)."""
    return [r for r in _load(name) if r.get("labels_per_class") == labels]


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def supervised_nucla() -> str:
    rows = ["| backbone | view | epochs | train acc. % | top-1 % | published (N-UCLA cross-view, all labels) |",
            "|---|---|---|---|---|---|"]
    for r in _load("supervised_nucla"):
        rows.append(f"| {r['backbone']} | {r['view']} | {r['epochs']} | {_fmt(r.get('train_accuracy'))} | "
                    f"**{r['top1']:.1f}** | {r['published']} |")
    return "\n".join(rows)


def nucla_ladder() -> str:
    records = _load("nucla_ladder")
    by = {r["rung"]: r for r in records}
    rows = ["| rung | change, against its parent | parent | top-1 % | bought |", "|---|---|---|---|---|"]
    for r in records:
        parent = by.get(r["parent"])
        bought = f"{r['top1'] - parent['top1']:+.1f}" if parent else ""
        rows.append(f"| {r['rung']} | {r['change']} | {r['parent'] or ''} | {r['top1']:.1f} | {bought} |")
    return "\n".join(rows)


def nucla_ssl(name: str = "nucla_ssl") -> str:
    return nucla_ssl_table(_load(name))


def nucla_ssl_table(records: list[dict]) -> str:
    """One row per method x view x schedule; pretrained and the view's floor side by side for every probe."""
    keys = [k for k in ("knn", "linear", "linear_std") if any(r.get("protocol_key") == k for r in records)]
    head = "| method | view | epochs | " + " | ".join(f"{k} | {k} floor" for k in keys) + " |"
    rows = [head, "|---|---|---|" + "---|---|" * len(keys)]
    for method in sorted({r["method"] for r in records}):
        for view in ("joint", "motion", "bone", "joint+motion+bone"):
            mine = [r for r in records if r["method"] == method and r["view"] == view]
            # One row per schedule (a run continued to more epochs is its own row), beside the view's floor.
            for epochs in sorted({r["epochs"] or 0 for r in mine if r["encoder"] == "pretrained"}):
                cells = []
                for k in keys:
                    for enc in ("pretrained", "random"):
                        hit = [r["top1"] for r in mine if r.get("protocol_key") == k and r["encoder"] == enc
                               and (enc == "random" or (r["epochs"] or 0) == epochs)]
                        cells.append(_fmt(hit[0]) if hit else "")
                rows.append(f"| {method} | {view} | {epochs} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main_job() -> str:
    records = _load("main_job")
    rows = ["| seed | threads | machine | protocol | pretrained top-1 % | random frozen encoder top-1 % | margin | "
            "epochs | wall time |", "|---|---|---|---|---|---|---|---|---|"]
    by = {(r["command"], r["protocol"], r["encoder"]): r for r in records}
    for command in dict.fromkeys(r["command"] for r in records):  # one run per command, in record order
        for protocol in ("knn", "linear"):
            pre, floor = by.get((command, protocol, "pretrained")), by.get((command, protocol, "random"))
            if pre and floor:
                rows.append(f"| {pre['seed']} | {pre['threads']} | {pre.get('machine_load') or ''} | "
                            f"{pre['protocol_label']} | {pre['top1']:.1f} | {floor['top1']:.1f} | "
                            f"{pre['top1'] - floor['top1']:+.1f} | {pre['epochs']} | {pre['wall_seconds']:.0f} s |")
    return "\n".join(rows)


def main_job_sweep() -> str:
    records = _load("main_job_sweep")
    rows = ["| variant | seed | changes from the pre-sweep defaults | KNN | floor | margin | linear | floor | margin | "
            "final loss | wall (1 thread) |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    by = {(r["variant"], r["protocol"], r["encoder"]): r for r in records}
    for name in dict.fromkeys(r["variant"] for r in records):
        knn, knn0 = by[name, "knn", "pretrained"], by[name, "knn", "random"]
        lin, lin0 = by[name, "linear", "pretrained"], by[name, "linear", "random"]
        changes = knn["overrides"].replace("method.", "").replace("data.", "").replace("train.", "") or "none"
        rows.append(f"| {name} | {knn['seed']} | `{changes}` | {knn['top1']:.1f} | {knn0['top1']:.1f} | "
                    f"{knn['top1'] - knn0['top1']:+.1f} | {lin['top1']:.1f} | {lin0['top1']:.1f} | "
                    f"{lin['top1'] - lin0['top1']:+.1f} | {knn['final_loss']:.2f} | {knn['wall_seconds']:.0f} s |")
    return "\n".join(rows)


def _script(name: str):
    """A benchmark script as a module: its ``table`` renders the README's table (one renderer for both)."""
    sys.path.insert(0, str(HERE))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.pop(0)


def nucla_actclr(name: str = "nucla_actclr") -> str:
    records = _load(name)
    methods = [m for m in ("skeletonclr", "aimclr", "actclr") if any(r["variant"] == m for r in records)]
    return _script("nucla_actclr").table(records, methods).rstrip()


def nucla_ssl_probe_seeds() -> str:
    return _script("probe_seeds").table(_load("nucla_ssl_probe_seeds")).rstrip()


def gao_grid() -> str:
    return _script("gao_grid").table(_load("gao_grid")).rstrip()


def mcc_ablation() -> str:
    script, records = _script("mcc_ablation"), _load("mcc_ablation")
    done = {r["variant"] for r in records}
    tables = [t for t, rows in script.TABLES.items() if done & set(rows) - {"full"}] or ["1"]
    return script.table(records, tables).rstrip()


def semi_nucla(name: str = "semi_nucla", variants_file: str | None = None, variants: tuple[str, ...] = (),
               labels: int = 15) -> str:
    """Mean ± std per row, the seeds, the paper, and ASSL minus the row on the seeds both ran.

    Each of ``variants`` (names of ASSL variants in ``variants_file``) joins the table as a row and as a
    further paired column (e.g. the λ1 that works on a longer schedule). Only runs with ``labels`` labels
    per class are read.
    """
    records = _semi(name, labels)
    order = ["supervised", "pseudo_label", "vat", "vat_entmin", "s4l", "sup_inp_adv", "sup_nei", "sup_nei_adv",
             "sup_inp_nei", "assl"]
    plain = {r["seed"]: r["top1"] for r in records if r["method"] == "assl"}
    columns = {"ASSL": plain} if plain else {}
    for tag in variants:
        tagged = [dict(r, method=f"assl, {tag}", label=f"ASSL, {tag}")
                  for r in _semi(variants_file, labels) if r.get("variant") == tag]
        if not tagged:
            raise SystemExit(f"{variants_file}.json has no records of variant {tag!r}")
        records += tagged
        order.append(tagged[0]["method"])
        columns[tagged[0]["label"]] = {r["seed"]: r["top1"] for r in tagged}
    head = " | ".join(f"{label} minus it, paired (seeds won)" for label in columns)
    rows = [f"| method | {labels} labels/class, ours: mean ± std (seeds) | per seed | paper | {head} |",
            "|---|---|---|---|" + "---|" * len(columns)]
    for row in order:
        mine = sorted((r for r in records if r["method"] == row), key=lambda r: r["seed"])
        if not mine:
            continue
        values = [r["top1"] for r in mine]
        spread = f" ± {statistics.stdev(values):.1f}" if len(values) > 1 else ""
        per_seed = " / ".join(f"{v:.1f}" for v in values)
        cells = []
        for label, reference in columns.items():
            diffs = [reference[r["seed"]] - r["top1"] for r in mine if r["seed"] in reference]
            cells.append(f"{statistics.mean(diffs):+.1f} ({sum(d > 0 for d in diffs)}/{len(diffs)})"
                         if diffs and mine[0]["label"] != label else "")
        rows.append(f"| {mine[0]['label']} | {statistics.mean(values):.1f}{spread} (n={len(values)}) | {per_seed} | "
                    f"{_fmt(mine[0].get('paper'))} | {' | '.join(cells)} |")
    return "\n".join(rows)


def semi_seed_groups(name: str, variants_file: str, variant: str, baselines: tuple[str, ...],
                     groups: dict[str, tuple[int, ...]]) -> str:
    """An ASSL variant minus each baseline, paired by seed, separately on each group of seeds.

    A variant chosen by its test accuracy on some seeds is confirmed only on seeds drawn after the
    choice (new labeled subsets, new initialisations); the 95 % interval is Student's t over the
    paired differences of the group.
    """
    from scipy import stats  # a dependency of scikit-learn, already required

    chosen = {r["seed"]: r["top1"] for r in _semi(variants_file) if r.get("variant") == variant}
    if not chosen:
        raise SystemExit(f"{variants_file}.json has no records of variant {variant!r}")
    records = _semi(name)
    bases = {method: {r["seed"]: r for r in records if r["method"] == method} for method in baselines}
    rows = [f"| seeds | baseline | ASSL, {variant} | baseline | ASSL minus baseline, paired | 95 % interval | "
            "seeds won |", "|---|---|---|---|---|---|---|"]
    for group, seeds in groups.items():
        for base in bases.values():
            common = [s for s in seeds if s in chosen and s in base]
            if not common:
                continue
            diffs = [chosen[s] - base[s]["top1"] for s in common]
            mean = statistics.mean(diffs)
            if len(diffs) > 1:
                half = stats.t.ppf(0.975, len(diffs) - 1) * statistics.stdev(diffs) / len(diffs) ** 0.5
                interval = f"{mean - half:+.1f} … {mean + half:+.1f}"
            else:
                interval = ""
            rows.append(f"| {group} (n={len(common)}) | {base[common[0]]['label']} | "
                        f"{statistics.mean(chosen[s] for s in common):.1f} | "
                        f"{statistics.mean(base[s]['top1'] for s in common):.1f} | {mean:+.1f} | {interval} | "
                        f"{sum(d > 0 for d in diffs)}/{len(diffs)} |")
    return "\n".join(rows)


def semi_nucla_variants(name: str = "semi_nucla_variants", reference: str = "semi_nucla", epochs: int = 20) -> str:
    """ASSL variants (one row each) against supervised-only of the ``reference`` grid at ``epochs``, paired by seed."""
    supervised = {r["seed"]: r["top1"] for r in _semi(reference)
                  if r["method"] == "supervised" and r["epochs"] == epochs}
    rows = ["| ASSL variant | overrides | top-1: mean ± std (seeds) | per seed | minus supervised-only, paired | seeds won |",
            "|---|---|---|---|---|---|"]
    records = _semi(name)
    for variant in dict.fromkeys(r["variant"] for r in records):
        mine = sorted((r for r in records if r["variant"] == variant), key=lambda r: r["seed"])
        values = [r["top1"] for r in mine]
        spread = f" ± {statistics.stdev(values):.1f}" if len(values) > 1 else ""
        diffs = [r["top1"] - supervised[r["seed"]] for r in mine if r["seed"] in supervised]
        rows.append(f"| {variant} | `{' '.join(mine[0]['overrides'])}` | {statistics.mean(values):.1f}{spread} "
                    f"(n={len(values)}) | {' / '.join(f'{v:.1f}' for v in values)} | "
                    f"{statistics.mean(diffs):+.1f} | {sum(d > 0 for d in diffs)}/{len(diffs)} |")
    return "\n".join(rows)


TABLES: dict[str, Callable[[], str]] = {
    "supervised_nucla": supervised_nucla,
    "nucla_ladder": nucla_ladder,
    "nucla_ssl": nucla_ssl,
    "nucla_ssl_probe_seeds": nucla_ssl_probe_seeds,
    "nucla_ssl_crossclr_recipe": lambda: nucla_ssl("nucla_ssl_crossclr_recipe"),
    "simclr_nucla": lambda: nucla_ssl("simclr_nucla"),
    "main_job": main_job,
    "main_job_sweep": main_job_sweep,
    "nucla_actclr": nucla_actclr,
    "nucla_actclr_v1": lambda: nucla_actclr("nucla_actclr_v1"),
    "nucla_actclr_sgd": lambda: nucla_actclr("nucla_actclr_sgd"),
    "nucla_actclr_release": lambda: nucla_actclr("nucla_actclr_release"),
    "nucla_actclr_tact_blur": lambda: nucla_actclr("nucla_actclr_tact_blur"),
    "gao_grid": gao_grid,
    "mcc_ablation": mcc_ablation,
    "semi_nucla": semi_nucla,
    "semi_nucla_long": lambda: semi_nucla("semi_nucla_long"),
    "semi_nucla_hidden512": lambda: semi_nucla("semi_nucla_hidden512"),
    "semi_nucla_hidden512_long": lambda: semi_nucla("semi_nucla_hidden512_long"),
    "semi_nucla_paper_schedule": lambda: semi_nucla("semi_nucla_paper_schedule"),
    "semi_nucla_variants": semi_nucla_variants,
    "semi_nucla_stgcn_before_bnfix": lambda: semi_nucla("semi_nucla_stgcn_before_bnfix"),
    "semi_nucla_stgcn": lambda: semi_nucla("semi_nucla_stgcn"),
    "semi_nucla_stgcn_long": lambda: semi_nucla("semi_nucla_stgcn_long", "semi_nucla_stgcn_long_variants",
                                                ("λ1 = 0.3", "λ1 = 0.3, K = 5")),
    "semi_nucla_stgcn_long_5labels": lambda: semi_nucla("semi_nucla_stgcn_long", "semi_nucla_stgcn_long_variants",
                                                        ("λ1 = 0.3, K = 5",), labels=5),
    "semi_nucla_stgcn_long_confirm": lambda: semi_seed_groups(
        "semi_nucla_stgcn_long", "semi_nucla_stgcn_long_variants", "λ1 = 0.3, K = 5",
        ("supervised", "pseudo_label", "vat", "s4l", "vat_entmin"),
        {"0–4, the setting chosen on these": tuple(range(5)), "5–9, drawn after the choice": tuple(range(5, 10)),
         "0–9": tuple(range(10))}),
    "semi_nucla_stgcn_long_variants": lambda: semi_nucla_variants("semi_nucla_stgcn_long_variants",
                                                                  "semi_nucla_stgcn_long", 60),
}
_BLOCK = re.compile(r"(<!-- table:(\w+) -->\n)(.*?)(<!-- /table -->)", re.S)


def render(text: str) -> str:
    def fill(match: re.Match) -> str:
        name = match.group(2)
        if name not in TABLES:
            raise KeyError(f"README names an unknown table {name!r}; known: {', '.join(TABLES)}")
        return f"{match.group(1)}{TABLES[name]()}\n{match.group(4)}"

    return _BLOCK.sub(fill, text)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="only report whether the documents are up to date")
    ap.add_argument("files", nargs="*", type=Path, default=list(DOCUMENTS))
    args = ap.parse_args()
    stale = []
    for path in args.files:
        if not path.exists():
            continue
        text = path.read_text()
        new = render(text)
        if new != text:
            stale.append(path)
            if not args.check:
                path.write_text(new)
    if args.check and stale:
        print(f"results tables out of date in {', '.join(map(str, stale))}; run python benchmarks/tables.py",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
