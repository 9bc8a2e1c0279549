"""``skelssl info`` and the listings: layouts, datasets, recipes, methods, encoders, configs."""

from __future__ import annotations

import argparse

from rich.table import Table

from skelssl.cli.common import console, dataset_table


def add_parser(sub) -> None:
    p = sub.add_parser("info", help="summarise a prepared dataset",
                       description="Print shape, layout, recipe, class counts and splits of a prepared dataset.")
    p.add_argument("path", help="directory written by `skelssl prepare`")
    p.set_defaults(handler=run_info)
    p = sub.add_parser("list", help="list layouts, datasets, recipes, methods, encoders and configs",
                       description="List the registered skeleton layouts, dataset readers, recipes, methods, "
                       "encoders and the shipped configs.")
    p.add_argument("what", nargs="?", choices=("layouts", "datasets", "recipes", "methods", "encoders", "configs"),
                   default=None)
    p.set_defaults(handler=run_list)


def run_info(args: argparse.Namespace) -> int:
    from skelssl.data.canonical import open_prepared

    console.print(dataset_table(open_prepared(args.path)))
    return 0


def run_list(args: argparse.Namespace) -> int:
    from skelssl.data.layouts import get_layout, list_layouts
    from skelssl.data.readers import get_reader, list_readers
    from skelssl.data.recipes import get_recipe, list_recipes

    if args.what in (None, "layouts"):
        t = Table(title="layouts")
        for col in ("name", "joints", "channels", "centre", "description"):
            t.add_column(col)
        for name in list_layouts():
            lay = get_layout(name)
            t.add_row(name, str(lay.num_joints), ",".join(lay.channels), lay.joint_names[lay.center], lay.description)
        console.print(t)
    if args.what in (None, "datasets"):
        t = Table(title="datasets")
        for col in ("name", "layout", "default recipe"):
            t.add_column(col)
        for name in list_readers():
            r = get_reader(name)
            t.add_row(name, r.layout, r.default_recipe)
        console.print(t)
    if args.what in (None, "recipes"):
        t = Table(title="recipes")
        for col in ("name", "frames", "bodies"):
            t.add_column(col)
        for name in list_recipes():
            r = get_recipe(name)
            t.add_row(name, str(r.num_frames), str(r.num_bodies))
        console.print(t)
    _list_registries(args.what)
    return 0


def _list_registries(what: str | None) -> None:
    import skelssl.methods  # noqa: F401  (registers the shipped methods)
    from skelssl.engine.config import list_configs
    from skelssl.methods.base import list_methods
    from skelssl.models.registry import list_encoders

    for title, names in (("methods", list_methods()), ("encoders", list_encoders())):
        if what in (None, title):
            console.print(f"{title}: " + ", ".join(names), markup=False, highlight=False)
    if what in (None, "configs"):
        for group in ("pretrain", "eval", "semi"):
            console.print(f"configs/{group}: " + ", ".join(list_configs(group)), markup=False, highlight=False)
