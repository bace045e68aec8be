"""Differentiable ops, one module per kernel family; ``seqkernels.functional`` re-exports them."""
