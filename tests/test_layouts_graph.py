import numpy as np
import pytest

from skelssl.data.graph import hop_distance, normalize_digraph, partition_adjacency
from skelssl.data.layouts import SkeletonLayout, get_layout, list_layouts, register_layout


def test_builtin_layouts():
    assert list_layouts()[:3] == ["kinect20", "ntu25", "openpose18"]
    ntu = get_layout("ntu25")
    assert ntu.num_joints == 25 and len(ntu.bones) == 24
    assert ntu.joint_names[ntu.center] == "spine_shoulder"
    # 1-based (22, 23): the field's hand-tip -> thumb quirk is kept.
    assert ntu.parents[21] == 22 and ntu.parents[22] == 7
    assert ntu.parents[0] == 1 and ntu.parents[1] == 20 and ntu.parents[20] == 20
    k20 = get_layout("kinect20")
    assert k20.num_joints == 20 and k20.joint_names[k20.center] == "shoulder_center"
    op = get_layout("openpose18")
    assert op.channels == ("x", "y", "score") and op.joint_names[op.center] == "neck"


@pytest.mark.parametrize("name", ["ntu25", "kinect20", "openpose18"])
def test_mirror_pairs_swap_left_and_right(name):
    lay = get_layout(name)
    perm = lay.mirror_permutation
    assert sorted(perm.tolist()) == list(range(lay.num_joints))
    assert (perm[perm] == np.arange(lay.num_joints)).all()
    for a, b in lay.mirror_pairs:
        na, nb = lay.joint_names[a], lay.joint_names[b]
        assert ("left" in na and "right" in nb) or ("right" in na and "left" in nb), (na, nb)
        assert na.replace("left", "").replace("right", "") == nb.replace("left", "").replace("right", "")


def test_layout_validation_rejects_bad_trees():
    with pytest.raises(ValueError, match="two parents"):
        SkeletonLayout("bad", ("a", "b", "c"), ((1, 0), (1, 2)), 0, ())
    with pytest.raises(ValueError, match="tree needs"):
        SkeletonLayout("bad", ("a", "b", "c"), ((1, 0),), 0, ())
    with pytest.raises(ValueError, match="root"):
        SkeletonLayout("bad", ("a", "b"), ((0, 1),), 0, ())
    chain = SkeletonLayout("chain3_test", ("a", "b", "c"), ((1, 0), (2, 1)), 0, ())
    register_layout(chain)
    with pytest.raises(ValueError, match="already registered"):
        register_layout(chain)


def _chain():
    # a - b - c, centre a: small enough to check every entry by hand.
    lay = SkeletonLayout("chain3_graph", ("a", "b", "c"), ((1, 0), (2, 1)), 0, ())
    return lay


def test_hop_distance_and_normalisation_by_hand():
    d = hop_distance(3, [(1, 0), (2, 1)], max_hop=1)
    assert d[0, 0] == 0 and d[0, 1] == 1 and np.isinf(d[0, 2])
    a = np.array([[1.0, 1, 0], [1, 1, 1], [0, 1, 1]])
    # Column sums are 2, 3, 2.
    np.testing.assert_allclose(normalize_digraph(a), a / np.array([2, 3, 2])[None, :])


def test_partitions_by_hand():
    lay = _chain()
    uni = partition_adjacency(lay, "uniform")
    expected = np.array([[1 / 2, 1 / 3, 0], [1 / 2, 1 / 3, 1 / 2], [0, 1 / 3, 1 / 2]], np.float32)
    np.testing.assert_allclose(uni[0], expected, rtol=1e-6)
    dist = partition_adjacency(lay, "distance")
    np.testing.assert_allclose(dist[0], np.diag([1 / 2, 1 / 3, 1 / 2]), rtol=1e-6)
    np.testing.assert_allclose(dist[0] + dist[1], expected, rtol=1e-6)
    sp = partition_adjacency(lay, "spatial")
    # Entry [j, i]: neighbour j of root i. Subset 0 = self loops (same distance to the
    # centre a); subset 1 = neighbours farther from the centre than the root (b for a,
    # c for b); subset 2 = neighbours nearer to it (a for b, b for c). Same order as
    # the original ST-GCN code, so pretrained partitions line up.
    np.testing.assert_allclose(sp[0], np.diag([1 / 2, 1 / 3, 1 / 2]), rtol=1e-6)
    np.testing.assert_allclose(sp[1], [[0, 0, 0], [1 / 2, 0, 0], [0, 1 / 3, 0]], rtol=1e-6)
    np.testing.assert_allclose(sp[2], [[0, 1 / 3, 0], [0, 0, 1 / 2], [0, 0, 0]], rtol=1e-6)


@pytest.mark.parametrize("name,v", [("ntu25", 25), ("kinect20", 20), ("openpose18", 18)])
@pytest.mark.parametrize("strategy,k", [("uniform", 1), ("distance", 2), ("spatial", 3)])
def test_partition_shapes_and_column_sums(name, v, strategy, k):
    a = partition_adjacency(name, strategy)
    assert a.shape == (k, v, v) and a.dtype == np.float32
    # Every partition splits the same normalised neighbourhood: columns sum to one.
    np.testing.assert_allclose(a.sum(axis=0).sum(axis=0), np.ones(v), rtol=1e-5)


def test_unknown_strategy():
    with pytest.raises(ValueError, match="unknown partition strategy"):
        partition_adjacency("ntu25", "star")
