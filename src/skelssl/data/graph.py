"""Graph adjacency and the ST-GCN partition strategies, built from a layout.

Follows Yan et al. (AAAI 2018), §3.3: neighbours within ``max_hop`` hops are
split into subsets; each subset gets its own (column-normalised) adjacency
``A_k`` so that ``sum_k X A_k W_k`` is the spatial graph convolution.
"""

from __future__ import annotations

import numpy as np

from skelssl.data.layouts import SkeletonLayout, get_layout

__all__ = ["hop_distance", "normalize_digraph", "partition_adjacency", "STRATEGIES"]

STRATEGIES = ("uniform", "distance", "spatial")


def hop_distance(num_nodes: int, edges, max_hop: int = 1) -> np.ndarray:
    """Shortest-path hop count between joints, ``inf`` beyond ``max_hop``."""
    a = np.zeros((num_nodes, num_nodes))
    for i, j in edges:
        a[i, j] = a[j, i] = 1
    dist = np.full((num_nodes, num_nodes), np.inf)
    reach = [np.linalg.matrix_power(a + np.eye(num_nodes), d) > 0 for d in range(max_hop + 1)]
    for d in range(max_hop, -1, -1):
        dist[reach[d]] = d
    return dist


def normalize_digraph(a: np.ndarray) -> np.ndarray:
    """``A D^-1``: each column sums to one (isolated columns stay zero)."""
    deg = a.sum(axis=0)
    inv = np.zeros_like(deg)
    nz = deg > 0
    inv[nz] = 1.0 / deg[nz]
    return a * inv[None, :]


def partition_adjacency(
    layout: str | SkeletonLayout,
    strategy: str = "spatial",
    max_hop: int = 1,
    dilation: int = 1,
) -> np.ndarray:
    """Stack of normalised adjacency matrices ``(K, V, V)`` for a partition strategy.

    * ``uniform``: one subset holding every neighbour (and the joint itself).
    * ``distance``: one subset per hop distance 0..max_hop.
    * ``spatial``: the root itself, neighbours farther from the centre of
      gravity (the layout's centre joint) than the root, and neighbours nearer
      to it — in the order of the original ST-GCN code.
    """
    layout = get_layout(layout)
    v = layout.num_joints
    dist = hop_distance(v, layout.edges, max_hop)
    hops = range(0, max_hop + 1, dilation)
    adjacency = np.zeros((v, v))
    for h in hops:
        adjacency[dist == h] = 1
    norm = normalize_digraph(adjacency)

    if strategy == "uniform":
        return norm[None].astype(np.float32)
    if strategy == "distance":
        out = np.zeros((len(hops), v, v))
        for k, h in enumerate(hops):
            out[k][dist == h] = norm[dist == h]
        return out.astype(np.float32)
    if strategy == "spatial":
        # True hop distance to the centre. (The original ST-GCN code compares
        # distances truncated at max_hop, which puts most edges in the root
        # subset; we follow the paper's definition instead.)
        to_center = hop_distance(v, layout.edges, v)[:, layout.center]
        parts = []
        for h in hops:
            root = np.zeros((v, v))
            close = np.zeros((v, v))
            far = np.zeros((v, v))
            # a[j, i] with j the neighbour and i the root, as in the original code
            # (whose "close" matrix holds the neighbours *farther* from the centre).
            mask = dist == h
            cmp_j = to_center[:, None]
            cmp_i = to_center[None, :]
            root[mask & (cmp_j == cmp_i)] = norm[mask & (cmp_j == cmp_i)]
            close[mask & (cmp_j > cmp_i)] = norm[mask & (cmp_j > cmp_i)]
            far[mask & (cmp_j < cmp_i)] = norm[mask & (cmp_j < cmp_i)]
            if h == 0:
                parts.append(root)
            else:
                parts.extend([root + close, far])
        return np.stack(parts).astype(np.float32)
    raise ValueError(f"unknown partition strategy {strategy!r}; choose from {STRATEGIES}")
