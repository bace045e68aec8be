"""``seqkernels.functional``: differentiable ops with ``torch.nn.functional``'s names, arguments,
defaults and semantics. Each op is a ``Function`` in ``seqkernels/ops/``; this module gathers them."""

from .ops.conv import conv1d
from .ops.embedding import embedding
from .ops.pooling import adaptive_max_pool1d, avg_pool1d, max_pool1d
from .ops.attention import scaled_dot_product_attention
from .ops.activation import dropout, gelu, log_softmax, softmax
from .ops.linear import linear
from .ops.loss import binary_cross_entropy_with_logits, cross_entropy, mse_loss
from .ops.norm import layer_norm
