"""``seqkernels.functional``: differentiable ops with ``torch.nn.functional``'s names, arguments,
defaults and semantics. Each op is a ``Function`` in ``seqkernels/ops/``; this module gathers them."""

from .ops.conv import conv1d
from .ops.embedding import embedding
from .ops.pooling import adaptive_max_pool1d, avg_pool1d, max_pool1d
from .ops.attention import scaled_dot_product_attention
