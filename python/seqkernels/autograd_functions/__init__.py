"""The sk autograd front end: one ``Function`` per differentiable op, one module per op-layer family
(``seqkernels/ops/<family>.py``). Each ``forward`` calls the op layer's ``<op>_forward`` and keeps on ``ctx``
what it returned for backward; each ``backward`` calls ``<op>_backward`` with ``ctx.needs_input_grad``. No
argument handling or math lives here: that is the op layer's. ``shape.py`` alone has no op layer beneath it
(views, indexing and joins are numpy glue, not kernels).
"""
