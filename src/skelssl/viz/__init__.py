"""Pictures: skeleton sequences (GIF / PNG strip, optional per-joint weights) and run plots.

* :mod:`skelssl.viz.skeleton`: :func:`render_gif`, :func:`render_strip` (``skelssl show``).
* :mod:`skelssl.viz.plots`: the training curve and the probe-against-floor bars of ``skelssl run``.

matplotlib is imported on first use.
"""

from skelssl.viz.skeleton import prepare_sequence, render_gif, render_strip

__all__ = ["prepare_sequence", "render_gif", "render_strip"]
