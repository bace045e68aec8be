"""``seqkernels.optim``: ``SGD``, ``Adam``, ``AdamW`` on fused C++ update kernels, ``clip_grad_norm_`` and the
learning-rate schedulers ``StepLR``, ``LambdaLR``, ``CosineAnnealingLR`` and BERT's linear warmup/decay
(``get_linear_schedule_with_warmup``), with torch.optim's names, defaults and step semantics.

A parameter is anything with a float32 ``.data`` array (updated in place, so modules keep their references)
and a ``.grad`` (a Tensor, or None: the parameter is skipped). A ``SparseGrad`` (``Embedding(sparse=True)``)
updates only its rows where the rule allows: SGD without momentum exactly as dense, Adam/AdamW lazily as
torch.optim.SparseAdam (moments and decay of the rows present only; the step count is the parameter's);
SGD with momentum uses the dense gradient. The kernels follow torch's single-tensor update
formulas operation by operation, so trajectories agree with torch.optim to float32 rounding.
"""
from __future__ import annotations

import math
import numbers
from typing import Callable, Dict, List

import numpy as np

from . import _C
from .ops.embedding import SparseGrad
from .tensor import Tensor, clear_grad

_F32 = np.dtype(np.float32)


def _check_param(p, optimizer: str) -> None:
    data = getattr(p, "data", None)
    if not isinstance(data, np.ndarray) or not hasattr(p, "grad"):
        raise TypeError(f"{optimizer}: parameters must be Tensors (with .data and .grad), got {type(p).__name__}")
    if data.dtype != _F32:
        raise TypeError(f"{optimizer}: parameters must be float32, got {data.dtype}")


def _grad_array(p, optimizer: str) -> np.ndarray:
    g = p.grad.data if isinstance(p.grad, Tensor) else np.asarray(p.grad)
    if g.shape != p.data.shape:
        raise ValueError(f"{optimizer}: gradient of shape {g.shape} for a parameter of shape {p.data.shape}")
    return g if g.dtype == _F32 else g.astype(_F32)


def _writable(p) -> np.ndarray:
    """The parameter's array, made C-contiguous and writable in place once if it is not."""
    if not (p.data.flags.c_contiguous and p.data.flags.writeable):
        p.data = np.array(p.data, dtype=_F32, order="C")
    return p.data


def _non_negative(value, name: str, optimizer: str) -> None:
    if not value >= 0.0:
        raise ValueError(f"{optimizer}: invalid {name}: {value} (must be >= 0)")


def _keras_style(params, lr):
    """``Adam(1e-3)`` (Keras: the learning rate first, no parameters yet) as well as torch's
    ``Adam(model.parameters(), lr=1e-3)``: a number in the first place is the learning rate."""
    if isinstance(params, numbers.Real) and not isinstance(params, bool):
        return None, float(params)
    return params, lr


class Optimizer:
    """Base class: ``param_groups`` (each a dict with "params" and the hyperparameters), ``defaults``,
    per-parameter ``state``, ``zero_grad``, ``step``, ``state_dict`` / ``load_state_dict`` in torch's layout
    (state keyed by the parameter's index over all groups)."""

    def __init__(self, params, defaults: Dict):
        self.defaults = dict(defaults)
        self.state: Dict = {}
        self.param_groups: List[Dict] = []
        if params is not None:
            self.bind(params)

    def bind(self, params) -> "Optimizer":
        """Gives an optimizer made without parameters (Keras style, ``Adam(1e-3)``) the parameters it
        updates; ``model.compile`` calls it with ``model.parameters()``."""
        if self.param_groups:
            raise RuntimeError(f"{type(self).__name__}: already has parameters; bind() is for an optimizer made "
                               "without them")
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of Tensors or dicts, got a Tensor")
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: Dict) -> None:
        group = dict(param_group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        name = type(self).__name__
        for p in group["params"]:
            _check_param(p, name)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in group["params"]) or len({id(p) for p in group["params"]}) != len(group["params"]):
            raise ValueError(f"{name}: some parameters appear in more than one parameter group")
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                clear_grad(p, set_to_none)

    def _params_with_grad(self):
        """(group, parameter, its writable array, its dense gradient) for each parameter with a gradient; the
        dense gradient of a SparseGrad is made only when the rule will not use the rows alone."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if isinstance(p.grad, SparseGrad) and self._updates_rows(group):
                    if p.grad.shape != p.data.shape:
                        raise ValueError(f"{type(self).__name__}: gradient of shape {p.grad.shape} for a parameter "
                                         f"of shape {p.data.shape}")
                    yield group, p, _writable(p), None
                else:
                    yield group, p, _writable(p), _grad_array(p, type(self).__name__)

    def step(self, closure: Callable | None = None):
        """One update of every parameter that has a gradient; ``closure`` (re-evaluating the loss) is called
        first when given, and its loss returned."""
        if not self.param_groups:
            raise RuntimeError(f"{type(self).__name__}: no parameters to update; pass them when creating it or "
                               "use it in model.compile(optimizer=...), which binds the model's parameters")
        loss = closure() if closure is not None else None
        for group, p, data, grad in self._params_with_grad():
            state = self.state.setdefault(p, {})
            if isinstance(p.grad, SparseGrad) and self._updates_rows(group):
                self._update_rows(group, state, data, p.grad)
            else:
                self._update(group, state, data, grad)
        return loss

    def _updates_rows(self, group: Dict) -> bool:
        """Whether this optimizer applies a SparseGrad to its rows only (lazily) under group's settings."""
        return False

    def _update_rows(self, group: Dict, state: Dict, data: np.ndarray, grad: SparseGrad) -> None:
        """The update rule on the gathered rows of the parameter and of its per-element state, scattered back."""
        rows = grad.rows
        if not state:
            self._init_state(group, state, data)
        full = {k for k, v in state.items() if isinstance(v, np.ndarray) and v.shape == data.shape}
        gathered = {k: (v[rows] if k in full else v) for k, v in state.items()}
        values = data[rows]
        self._update(group, gathered, values, np.ascontiguousarray(grad.values, dtype=_F32))
        data[rows] = values
        for k, v in gathered.items():
            if k in full:
                state[k][rows] = v
            else:
                state[k] = v

    def _init_state(self, group: Dict, state: Dict, data: np.ndarray) -> None:
        """Fills an empty per-parameter state (the rules that keep one)."""

    def _update(self, group: Dict, state: Dict, data: np.ndarray, grad: np.ndarray) -> None:
        raise NotImplementedError

    def state_dict(self) -> Dict:
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    state[index[id(p)]] = {k: (v.copy() if isinstance(v, np.ndarray) else v)
                                           for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Dict) -> None:
        name = type(self).__name__
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the state has {len(saved_groups)} parameter groups, "
                             f"the optimizer {len(self.param_groups)}")
        params = {}
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"{name}.load_state_dict: parameter group {i} has {len(saved['params'])} "
                                 f"parameters in the state but {len(group['params'])} in the optimizer")
            params.update(zip(saved["params"], group["params"]))
        self.state = {}
        for key, values in state_dict["state"].items():
            p = params[int(key)]
            entry = {}
            for k, v in values.items():
                if isinstance(v, np.ndarray) and v.ndim:
                    if v.shape != p.data.shape:
                        raise ValueError(f"{name}.load_state_dict: state '{k}' of parameter {key} has shape "
                                         f"{v.shape}, the parameter {p.data.shape}")
                    v = np.array(v, dtype=_F32, order="C")
                entry[k] = v
            self.state[p] = entry
        for saved, group in zip(saved_groups, self.param_groups):
            group.update({k: v for k, v in saved.items() if k != "params"})

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params")
        return "\n".join(lines) + "\n)"


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum (torch's buffer rule: the first step's buffer is the
    gradient itself), dampening, Nesterov momentum and L2 weight decay."""

    def __init__(self, params=None, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):
        params, lr = _keras_style(params, lr)
        for name, value in (("learning rate", lr), ("momentum value", momentum), ("weight_decay value", weight_decay)):
            _non_negative(value, name, "SGD")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov))

    def _updates_rows(self, group):
        return group["momentum"] == 0  # with momentum every row's buffer moves each step: dense

    def _update(self, group, state, data, grad):
        momentum = group["momentum"]
        first = momentum != 0 and state.get("momentum_buffer") is None
        if first:
            state["momentum_buffer"] = np.empty_like(data)
        _C.sgd_step(data, grad, state.get("momentum_buffer") if momentum != 0 else None, lr=group["lr"],
                    momentum=momentum, dampening=group["dampening"], weight_decay=group["weight_decay"],
                    nesterov=group["nesterov"], first_step=first)


class Adam(Optimizer):
    """Adam (Kingma & Ba) with torch's bias correction, optional AMSGrad, and L2 ``weight_decay`` added to the
    gradient (AdamW decouples it)."""

    _decoupled = False

    def __init__(self, params=None, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False):
        params, lr = _keras_style(params, lr)
        name = type(self).__name__
        _non_negative(lr, "learning rate", name)
        _non_negative(eps, "epsilon value", name)
        _non_negative(weight_decay, "weight_decay value", name)
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"{name}: invalid beta parameter at index {i}: {beta} (must be in [0, 1))")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad))

    def _updates_rows(self, group):
        return True

    def _init_state(self, group, state, data):
        state["step"] = 0
        state["exp_avg"] = np.zeros_like(data)
        state["exp_avg_sq"] = np.zeros_like(data)
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = np.zeros_like(data)

    def _update(self, group, state, data, grad):
        if not state:
            self._init_state(group, state, data)
        state["step"] += 1
        beta1, beta2 = group["betas"]
        _C.adam_step(data, grad, state["exp_avg"], state["exp_avg_sq"],
                     state.get("max_exp_avg_sq") if group["amsgrad"] else None, step=state["step"], lr=group["lr"],
                     beta1=beta1, beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
                     decoupled_weight_decay=self._decoupled)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): ``p *= 1 - lr * weight_decay`` each step."""

    _decoupled = True

    def __init__(self, params=None, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """Scales the gradients in place so that their joint ``norm_type``-norm is at most ``max_norm``, as
    ``torch.nn.utils.clip_grad_norm_`` (coefficient ``max_norm / (total + 1e-6)``, clamped to 1). Returns the
    total norm before clipping as a 0-d Tensor."""
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    norm_type = float(norm_type)
    if not grads:
        return Tensor(np.array(0.0, dtype=_F32))

    def norm(values: np.ndarray) -> np.float32:
        a = np.abs(values.astype(np.float64, copy=False)).ravel()
        if math.isinf(norm_type):
            return np.float32(a.max(initial=0.0))
        return np.float32(np.sum(a ** norm_type) ** (1.0 / norm_type))

    # a SparseGrad's zero rows add nothing to any norm: its values stand for it
    total = norm(np.array([norm(g.values if isinstance(g, SparseGrad) else g.data) for g in grads], dtype=np.float32))
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is non-finite, "
                           "so they cannot be clipped")
    coefficient = np.float32(min(np.float32(max_norm) / (total + np.float32(1e-6)), np.float32(1.0)))
    if coefficient == 1.0:  # within the bound (the usual step): nothing to scale
        return Tensor(np.array(total, dtype=_F32))
    for g in grads:
        if isinstance(g, SparseGrad):
            g.values = g.values * coefficient
        else:
            g.data = g.data * coefficient
    return Tensor(np.array(total, dtype=_F32))


class LRScheduler:
    """Base of the schedulers: ``step()`` advances ``last_epoch`` and writes ``get_lr()`` into every parameter
    group's "lr"; ``get_last_lr()`` returns the values last written. Built with ``last_epoch=-1``, the
    constructor performs the initial step (epoch 0), as torch."""

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        for i, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] when resuming a scheduler")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._initial = True
        self.step()
        self._initial = False

    def get_lr(self) -> List[float]:
        raise NotImplementedError

    def _current_lrs(self) -> List[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def step(self) -> None:
        self._step_count += 1
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = self._current_lrs()

    def get_last_lr(self) -> List[float]:
        return list(self._last_lr)

    def state_dict(self) -> Dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")}

    def load_state_dict(self, state_dict: Dict) -> None:
        self.__dict__.update(state_dict)


class StepLR(LRScheduler):
    """Multiplies the learning rate by ``gamma`` every ``step_size`` epochs."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]


class LambdaLR(LRScheduler):
    """``lr = initial_lr * lr_lambda(epoch)``; one function, or one per parameter group."""

    def __init__(self, optimizer: Optimizer, lr_lambda, last_epoch: int = -1):
        groups = len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != groups:
                raise ValueError(f"LambdaLR: expected {groups} lr_lambdas, got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * groups
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base_lr * fn(self.last_epoch) for fn, base_lr in zip(self.lr_lambdas, self.base_lrs)]


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing from the initial lr to ``eta_min`` over ``T_max`` epochs (torch's recursive form)."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        lrs, t, T = self._current_lrs(), self.last_epoch, self.T_max
        if self._initial:
            return lrs
        if (t - 1 - T) % (2 * T) == 0:
            return [lr + (base - self.eta_min) * (1 - math.cos(math.pi / T)) / 2 for lr, base in zip(lrs, self.base_lrs)]
        return [(1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T)) * (lr - self.eta_min)
                + self.eta_min for lr in lrs]


def get_linear_schedule_with_warmup(optimizer: Optimizer, num_warmup_steps: int, num_training_steps: int,
                                    last_epoch: int = -1) -> LambdaLR:
    """BERT's schedule (as ``transformers``): linear warmup from 0 over ``num_warmup_steps``, then linear decay to
    0 at ``num_training_steps``."""

    def lr_lambda(step: int) -> float:
        if step < num_warmup_steps:
            return float(step) / float(max(1, num_warmup_steps))
        return max(0.0, float(num_training_steps - step) / float(max(1, num_training_steps - num_warmup_steps)))

    return LambdaLR(optimizer, lr_lambda, last_epoch)


__all__ = ["Adam", "AdamW", "CosineAnnealingLR", "LRScheduler", "LambdaLR", "Optimizer", "SGD", "StepLR",
           "clip_grad_norm_", "get_linear_schedule_with_warmup"]
