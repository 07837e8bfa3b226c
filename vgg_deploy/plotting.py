"""What every chart of vgg-deploy shares, below both the bench and the precision packages."""

from __future__ import annotations

__all__ = ["PLOT_HINT"]

# The note a report carries instead of its charts when matplotlib (an optional extra) is missing.
PLOT_HINT = "charts not drawn: matplotlib is not installed (pip install 'vgg-deploy[plot]')"
