"""``skelssl info`` and the listings: layouts, datasets, recipes."""

from __future__ import annotations

import argparse

from rich.table import Table

from skelssl.cli.common import console, dataset_table


def add_parser(sub) -> None:
    p = sub.add_parser("info", help="summarise a prepared dataset",
                       description="Print shape, layout, recipe, class counts and splits of a prepared dataset.")
    p.add_argument("path", help="directory written by `skelssl prepare`")
    p.set_defaults(handler=run_info)
    p = sub.add_parser("list", help="list layouts, datasets and recipes",
                       description="List the registered skeleton layouts, dataset readers and recipes.")
    p.add_argument("what", nargs="?", choices=("layouts", "datasets", "recipes"), default=None)
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
    return 0
