"""Pictures of what the engine computes: the network with values and gradients (``draw_network``),
the recorded computational graph of any tensor (``draw_graph``), a small network's step scalar by
scalar (``draw_scalars``, micrograd's draw_dot style), training curves (``plot_loss``)
and one step of a tiny convolution as grids of numbers (``draw_conv``); one batch-norm step as a table
and its three gradient terms as bars (``draw_batchnorm``); an RNN unrolled over time (``draw_rnn``).

matplotlib only, on the Agg canvas: no display, no Graphviz, no system binaries. Chinese labels use
the Noto Sans CJK font from the ``noto-cjk-sans-otc`` package. Every function returns a
``Drawing`` (``.figure``, ``save(path)``, and inline display in notebooks).
"""

from ._base import Drawing
from .batchnorm import draw_batchnorm
from .conv import draw_conv
from .graph import draw_graph
from .loss import plot_loss
from .network import draw_network
from .rnn import draw_rnn
from .scalars import draw_scalars

__all__ = ["Drawing", "draw_batchnorm", "draw_conv", "draw_graph", "draw_network", "draw_rnn", "draw_scalars",
           "plot_loss"]
