"""t-SNE map of test embeddings, one colour per class, written as a PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

__all__ = ["tsne_embed", "plot_tsne", "run_tsne"]


def tsne_embed(
    features: np.ndarray, *, perplexity: float = 30.0, seed: int = 0, pca_dim: int | None = 50
) -> np.ndarray:
    """2-D t-SNE of L2-normalised features (the geometry KNN and contrastive losses use).

    Features wider than ``pca_dim`` are first reduced with PCA, the usual
    speed-up that barely changes the map. ``perplexity`` is capped below the
    number of samples, which scikit-learn requires.
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or len(x) < 3:
        raise ValueError(f"t-SNE needs (N >= 3, D) features, got shape {x.shape}")
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    if pca_dim is not None and x.shape[1] > pca_dim and len(x) > pca_dim:
        x = PCA(n_components=pca_dim, random_state=seed).fit_transform(x)
    perplexity = float(min(perplexity, max(1.0, (len(x) - 1) / 3)))
    # Barnes-Hut's tree and thread start-up cost more than the exact O(N^2)
    # gradient for small maps (seconds vs. well under one for a few hundred points).
    method = "exact" if len(x) <= 1000 else "barnes_hut"
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed, method=method)
    return tsne.fit_transform(x)


def plot_tsne(
    features: np.ndarray,
    labels: np.ndarray,
    out_png: str | Path,
    *,
    class_names: Sequence[str] | None = None,
    title: str | None = None,
    perplexity: float = 30.0,
    seed: int = 0,
    max_samples: int | None = 5000,
) -> Path:
    """Embed ``features`` with t-SNE and save a scatter plot coloured by ``labels``, with a legend.

    At most ``max_samples`` points are drawn (a seeded random subset): t-SNE is
    quadratic-ish in N and a denser plot shows no more.
    """
    # A bare Figure renders with the Agg canvas: no display, and no change to
    # pyplot's global backend in the caller's process.
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    features = np.asarray(features)
    labels = np.asarray(labels)
    if max_samples is not None and len(features) > max_samples:
        keep = np.sort(np.random.default_rng(seed).choice(len(features), size=max_samples, replace=False))
        features, labels = features[keep], labels[keep]
    xy = tsne_embed(features, perplexity=perplexity, seed=seed)
    classes = np.unique(labels)
    cmap = colormaps["tab20" if len(classes) > 10 else "tab10"]
    fig = Figure(figsize=(8, 7), dpi=120)
    ax = fig.subplots()
    for i, c in enumerate(classes):
        sel = labels == c
        name = class_names[int(c)] if class_names is not None and 0 <= int(c) < len(class_names) else str(int(c))
        ax.scatter(xy[sel, 0], xy[sel, 1], s=6, color=cmap(i % cmap.N), label=name, alpha=0.8, linewidths=0)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    # Many classes (NTU-120) make an unreadable legend; put it beside the plot in columns.
    ncol = 1 if len(classes) <= 20 else int(np.ceil(len(classes) / 30))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, markerscale=2, ncol=ncol, frameon=False)
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, bbox_inches="tight")
    return out


def run_tsne(
    encoder: Any,
    test_ds: Any,
    cfg: Any,
    out_dir: str | Path,
    *,
    context: Any,
    device: Any = None,
) -> dict[str, Any]:
    """Embed the test set's features and write ``tsne.png`` and ``results.json`` (no accuracy: a picture)."""
    import json

    from skelssl.data.canonical import atomic_write_text
    from skelssl.protocols.features import extract_features
    from skelssl.protocols.training import as_config, protocol_device

    cfg = as_config(cfg)
    p = cfg.protocol
    feats = extract_features(encoder, test_ds, batch_size=int(p.get("eval_batch_size", 256)),
                             device=protocol_device(device), num_workers=int(cfg.data.get("num_workers", 0)))
    out = Path(out_dir)
    seed = int(p.get("seed", 0))
    title = " / ".join(str(x) for x in (context.method, context.view, context.dataset) if x)
    png = plot_tsne(feats.features.numpy(), feats.labels.numpy(), out / "tsne.png", class_names=context.class_names,
                    title=f"t-SNE: {title}" if title else None, perplexity=float(p.get("perplexity", 30.0)),
                    seed=seed, max_samples=p.get("max_samples"))
    context.seed = seed
    context.epochs = 0
    num_points = min(len(feats), p.get("max_samples") or len(feats))
    results = {**context.to_json(), "figure": png.name, "num_points": num_points}
    atomic_write_text(out / "results.json", json.dumps(results, indent=1, default=str) + "\n")
    return results
