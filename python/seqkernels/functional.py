"""``seqkernels.functional``: differentiable ops with ``torch.nn.functional``'s names, arguments,
defaults and semantics. Each op is a ``Function`` in ``seqkernels/ops/``; this module gathers them."""

from .ops.attention import scaled_dot_product_attention
