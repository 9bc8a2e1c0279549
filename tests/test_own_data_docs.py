"""docs/own-data.md says what the code does: its roles table, layout example, joint mappings and converter."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from skelssl.data.layouts import _LAYOUTS, layout_from_spec
from skelssl.data.recipes import get_recipe

DOC = (Path(__file__).resolve().parents[1] / "docs" / "own-data.md").read_text()


def section(title: str) -> str:
    start = DOC.index(title)
    end = DOC.find("\n#", start + len(title))
    return DOC[start:end if end != -1 else len(DOC)]


def table_rows(text: str) -> list[list[str]]:
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in text.splitlines()
            if line.startswith("|")]
    return [r for r in rows[2:]]  # header and separator


def test_roles_table_matches_the_recipes():
    rows = {r[0]: r[1] for r in table_rows(section("### Which roles each recipe needs"))}
    configured = {
        "`crossclr` (default, used by skeletonclr / crossclr / aimclr configs)": get_recipe("crossclr"),
        "`crossclr` with `rotation=none`": get_recipe("crossclr", rotation="none"),
        "`crossclr` with `stream=raw_motion`": get_recipe("crossclr", stream="raw_motion"),
        "`agcn`": get_recipe("agcn"),
        "`sgn`": get_recipe("sgn"),
        "`agc_lstm` (N-UCLA's default)": get_recipe("agc_lstm"),
        "`agc_lstm` with `centre=none`": get_recipe("agc_lstm", centre="none"),
        "`raw`, `stgcn_kinetics`": get_recipe("raw"),
    }
    assert set(rows) == set(configured)
    for name, recipe in configured.items():
        documented = re.findall(r"`(\w+)`", rows[name])
        assert documented == list(recipe.required_roles()), name
    assert get_recipe("stgcn_kinetics").required_roles() == ()


def _json_block(after: str) -> dict:
    text = section(after)
    return json.loads(text[text.index("```json") + 7: text.index("```", text.index("```json") + 7)])


def test_layout_example_is_complete_and_serves_every_recipe():
    example = _json_block("### Declaring a new skeleton layout")
    layout = layout_from_spec(example["layout"])
    assert layout.num_joints == 15 and example["units"] == "mm"
    for name in ("crossclr", "agcn", "sgn"):
        get_recipe(name).check_layout(layout)


def test_joint_mapping_table_matches_the_readers():
    from skelssl.data.readers.kinect_v1 import (MSR_ACTION3D_JOINTS, UTD_MHAD_JOINTS, UTKINECT_JOINTS,
                                                to_kinect20_order)

    text = section("### Kinect v1 datasets: built-in presets")
    rows = [r for r in table_rows(text[text.index("| `kinect20` joint"):]) if re.match(r"\d+ ", r[0])]
    assert len(rows) == 20
    for column, native in ((1, MSR_ACTION3D_JOINTS), (2, UTD_MHAD_JOINTS), (3, UTKINECT_JOINTS)):
        documented = [int(r[column]) for r in rows]
        assert documented == to_kinect20_order(native).tolist()


def test_florence_converter_snippet_runs(tmp_path):
    from skelssl.data.canonical import open_prepared
    from skelssl.data.prepare import prepare_dataset

    text = section("### Anything else: convert to the custom format")
    code = text[text.index("```python") + 9: text.index("```", text.index("```python") + 9)]
    namespace: dict = {}
    exec(compile(code, "docs/own-data.md", "exec"), namespace)
    layout = dict(_json_block("### Declaring a new skeleton layout")["layout"], name="florence15_doc_test")
    # Two videos of 3 and 4 frames, actors 1 and 2, actions 3 and 9; a standing pose in millimetres.
    pose = np.array([[0, 700, 3000], [0, 500, 3000], [0, 100, 3000], [-200, 500, 3000], [-450, 500, 3000],
                     [-700, 500, 3000], [200, 500, 3000], [450, 500, 3000], [700, 500, 3000], [-100, 0, 3000],
                     [-100, -450, 3000], [-100, -900, 3000], [100, 0, 3000], [100, -450, 3000], [100, -900, 3000]])
    lines = [f"{video} {actor} {action} " + " ".join(f"{v:.1f}" for v in (pose + 10 * t).ravel())
             for video, actor, action, frames in ((1, 1, 3, 3), (2, 2, 9, 4)) for t in range(frames)]
    (tmp_path / "world_coordinates.txt").write_text("\n".join(lines) + "\n")
    try:
        namespace["florence3d_to_custom"](str(tmp_path / "world_coordinates.txt"), str(tmp_path / "custom"), layout)
        prepare_dataset("custom", tmp_path / "prepared", tmp_path / "custom", workers=1, progress=False,
                        recipe="raw", recipe_options={"num_bodies": 1, "num_frames": 4})
    finally:
        _LAYOUTS.pop("florence15_doc_test", None)
    ds = open_prepared(tmp_path / "prepared")
    assert ds.data.shape == (2, 3, 4, 15, 1) and ds.meta["label"].tolist() == [2, 8]
    assert ds.meta["length"].tolist() == [3, 4]
    # Millimetres became metres: the head of video 1, frame 0.
    np.testing.assert_allclose(ds.data[0, :, 0, 0, 0], [0.0, 0.7, 3.0], atol=1e-6)
    assert ds.split("xsub", "train").tolist() == [0] and ds.split("xsub", "test").tolist() == [1]
