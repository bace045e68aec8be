"""torch.compile of our RNN / LSTM / GRU subclasses without ``torch._dynamo.config.allow_rnn``.

Dynamo refuses to wrap any instance of torch.nn.RNN / LSTM / GRU unless ``allow_rnn`` is set, because their
stock forward calls cuDNN-style fused ops it cannot trace. Our subclasses' forward is one traceable custom op,
so while Dynamo wraps one of *our* modules the flag is on; for every other module it stays as the user left it.
Without Dynamo's VariableBuilder (another torch version), nothing is changed: compiling then needs the flag.
"""
from __future__ import annotations

import functools



def allow_our_rnns(classes: tuple) -> bool:
    try:
        from torch._dynamo import config
        from torch._dynamo.variables.builder import VariableBuilder
    except ImportError:  # pragma: no cover - other torch versions
        return False
    original = VariableBuilder.wrap_module
    if getattr(original, "_seqkernels", False):
        return True

    @functools.wraps(original)
    def wrap_module(self, value):
        if isinstance(value, classes) and not config.allow_rnn:
            with config.patch(allow_rnn=True):
                return original(self, value)
        return original(self, value)

    wrap_module._seqkernels = True
    VariableBuilder.wrap_module = wrap_module
    return True
