"""Keras's optimizers with Keras's argument names and defaults, over ``seqkernels.optim``.

``Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7)``, ``AdamW(..., weight_decay=0.004)``,
``SGD(learning_rate=0.01, momentum=0.0, nesterov=False)``, ``RMSprop`` is not provided (``"rmsprop"`` maps to
Adam with a warning). Made before the model, they bind its parameters at ``compile``. The update is
``seqkernels.optim``'s (torch's form: epsilon added to the bias-corrected sqrt(v)); Keras adds epsilon before the
bias correction, a difference of epsilon's scale only.
"""
from __future__ import annotations

import warnings

from .. import optim


class Adam(optim.Adam):
    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, **kwargs):
        _no_extras("Adam", kwargs)
        super().__init__(None, lr=float(learning_rate), betas=(beta_1, beta_2), eps=epsilon, amsgrad=amsgrad)

    @property
    def learning_rate(self) -> float:
        return self.param_groups[0]["lr"] if self.param_groups else self.defaults["lr"]


class AdamW(optim.AdamW):
    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, **kwargs):
        _no_extras("AdamW", kwargs)
        super().__init__(None, lr=float(learning_rate), betas=(beta_1, beta_2), eps=epsilon,
                         weight_decay=weight_decay, amsgrad=amsgrad)


class SGD(optim.SGD):
    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        _no_extras("SGD", kwargs)
        super().__init__(None, lr=float(learning_rate), momentum=momentum, nesterov=nesterov)


def _no_extras(name, kwargs):
    ignored = {"name", "global_clipnorm", "clipnorm", "clipvalue", "use_ema", "jit_compile"}
    unknown = set(kwargs) - ignored
    if unknown:
        raise TypeError(f"{name}: unexpected keyword argument(s) {sorted(unknown)}")
    if any(kwargs.get(k) for k in ("clipnorm", "clipvalue", "global_clipnorm", "use_ema")):
        raise ValueError(f"{name}: gradient clipping and EMA are not supported")


def get(identifier):
    """A name (``"adam"``, ``"adamw"``, ``"sgd"``; ``"rmsprop"``, compile's default, becomes Adam with a
    warning) or an optimizer object."""
    if isinstance(identifier, str):
        key = identifier.lower()
        if key == "rmsprop":
            warnings.warn("seqkernels.keras has no RMSprop; compiling with Adam(learning_rate=0.001) instead",
                          stacklevel=3)
            return Adam()
        table = {"adam": Adam, "adamw": AdamW, "sgd": SGD}
        if key not in table:
            raise ValueError(f"unknown optimizer {identifier!r}; expected one of adam, adamw, sgd")
        return table[key]()
    return identifier


__all__ = ["Adam", "AdamW", "SGD", "get"]
