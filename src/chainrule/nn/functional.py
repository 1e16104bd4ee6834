"""``cr.nn.functional``: the functional forms, as in ``torch.nn.functional``."""

from ..functional import (  # noqa: F401
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    half_sse_loss,
    leaky_relu,
    linear,
    log_softmax,
    logsigmoid,
    mse_loss,
    relu,
    sigmoid,
    softmax,
    softplus,
    tanh,
)
