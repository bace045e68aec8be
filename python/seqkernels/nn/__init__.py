"""``seqkernels.nn``: layers mirroring ``torch.nn`` (same parameter names and layouts)."""
