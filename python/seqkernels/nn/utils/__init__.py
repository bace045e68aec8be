"""``seqkernels.nn.utils``: ``clip_grad_norm_`` (defined in ``seqkernels.optim``), as ``torch.nn.utils``."""
from ...optim import clip_grad_norm_

__all__ = ["clip_grad_norm_"]
