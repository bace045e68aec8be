"""``Module``: the base class of layers and models, with torch.nn.Module's semantics.

Assigning a ``Parameter`` or a ``Module`` to an attribute registers it; ``register_buffer`` registers
non-learnable state. ``state_dict()`` returns an OrderedDict of numpy arrays under torch's dotted names
(the arrays share memory with the parameters, as torch's tensors do: ``copy.deepcopy`` it to keep a
snapshot), and ``load_state_dict`` copies arrays back in place, so a converted PyTorch state dict loads.
``compile`` / ``fit`` / ``evaluate`` / ``predict`` give the Keras workflow (``seqkernels.training``).
"""
from __future__ import annotations

from collections import OrderedDict, namedtuple
from typing import Callable, Dict, Iterator, Optional, Tuple

import numpy as np

from ..tensor import Tensor, clear_grad
from .parameter import Parameter

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _as_numpy(value, key: str) -> np.ndarray:
    """A state-dict entry as a numpy array: numpy arrays, Tensors, and torch tensors (via their numpy())."""
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch.Tensor
        return value.detach().cpu().numpy()
    try:
        return np.asarray(value)
    except Exception as exc:
        raise TypeError(f"load_state_dict: entry '{key}' must be an array, got {type(value).__name__}") from exc


def _loadable(source: np.dtype, target: np.dtype) -> bool:
    """Floats load into floats (any width), integers into integers or floats, bools into bools."""
    if target.kind == "f":
        return source.kind in "fiu"
    if target.kind in "iu":
        return source.kind in "iu"
    return source.kind == target.kind



class StateDictError(ValueError, RuntimeError):
    """A state_dict that does not fit the module: a ValueError (the promised type for bad input) that is also
    the RuntimeError torch raises, so code written for either catches it."""

class Module:
    """Base class of every layer and model; subclasses set attributes in ``__init__`` and define ``forward``."""

    training: bool

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ---- registration -----------------------------------------------------------------------------
    def __setattr__(self, name: str, value) -> None:
        if "_parameters" not in self.__dict__ and isinstance(value, (Parameter, Module)):
            raise AttributeError(f"cannot assign {type(value).__name__} '{name}' before Module.__init__() call")
        params, modules, buffers = self.__dict__.get("_parameters"), self.__dict__.get("_modules"), \
            self.__dict__.get("_buffers")
        if isinstance(value, Parameter):
            self._forget(name, keep=params)
            params[name] = value
        elif isinstance(value, Module):
            self._forget(name, keep=modules)
            modules[name] = value
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter '{name}' "
                                "(a Parameter or None is expected)")
            params[name] = None
        elif modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module '{name}' "
                                "(a Module or None is expected)")
            modules[name] = None
        elif buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} as buffer '{name}' "
                                "(a Tensor or None is expected)")
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str, keep) -> None:
        """Removes ``name`` from every place but ``keep`` (so re-assigning keeps its position there)."""
        self.__dict__.pop(name, None)
        for registry in (self._parameters, self._buffers, self._modules):
            if registry is not keep:
                registry.pop(name, None)
        self._non_persistent.discard(name)

    def __getattr__(self, name: str):
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry in d and name in d[registry]:
                return d[registry][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                self._non_persistent.discard(name)
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Optional[Parameter]) -> None:
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: '{name}' must be a Parameter or None, got {type(param).__name__}")
        self._check_name(name, "register_parameter")
        self._forget(name, keep=self._parameters)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Optional[Tensor], persistent: bool = True) -> None:
        """Non-learnable state (running statistics, masks) that follows the module; persistent buffers
        appear in ``state_dict``."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: '{name}' must be a Tensor or None, got {type(tensor).__name__}")
        self._check_name(name, "register_buffer")
        self._forget(name, keep=self._buffers)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Optional["Module"]) -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: '{name}' must be a Module or None, got {type(module).__name__}")
        self._check_name(name, "add_module")
        self._forget(name, keep=self._modules)
        self._modules[name] = module

    register_module = add_module

    def _check_name(self, name: str, op: str) -> None:
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"{op}: name must be a non-empty string without '.', got {name!r}")
        if name in self.__dict__ and name not in self._parameters and name not in self._buffers \
                and name not in self._modules:
            raise KeyError(f"{op}: attribute '{name}' already exists")

    # ---- traversal --------------------------------------------------------------------------------
    def named_modules(self, memo=None, prefix: str = "") -> Iterator[Tuple[str, "Module"]]:
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(memo, f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[Tuple[str, "Module"]]:
        seen = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self) -> Iterator["Module"]:
        for _, child in self.named_children():
            yield child

    def _named_members(self, registry: str, prefix: str, recurse: bool):
        seen = set()
        owners = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for owner_prefix, module in owners:
            for name, value in getattr(module, registry).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{owner_prefix}.{name}" if owner_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[Tuple[str, Parameter]]:
        """(name, Parameter) pairs, each shared parameter once, in registration order."""
        return self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[Tuple[str, Tensor]]:
        return self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ---- modes and gradients ------------------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        if not isinstance(mode, bool):
            raise TypeError(f"train: argument 'mode' must be a bool, got {type(mode).__name__}")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            clear_grad(p, set_to_none)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def apply(self, fn: Callable[["Module"], None]) -> "Module":
        """Calls ``fn`` on every submodule (children first) and then on self, as torch."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ---- calling ----------------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ---- state dict -------------------------------------------------------------------------------
    def state_dict(self, prefix: str = "", keep_vars: bool = False) -> "OrderedDict[str, np.ndarray]":
        """Parameters and persistent buffers by dotted name, as numpy arrays (Tensors with keep_vars)."""
        out: "OrderedDict[str, np.ndarray]" = OrderedDict()
        self._save_to(out, prefix, keep_vars)
        return out

    def _save_to(self, out, prefix, keep_vars) -> None:
        for name, p in self._parameters.items():
            if p is not None:
                out[prefix + name] = p if keep_vars else p.data
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent:
                out[prefix + name] = b if keep_vars else b.data
        for name, child in self._modules.items():
            if child is not None:
                child._save_to(out, f"{prefix}{name}.", keep_vars)

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copies arrays into the parameters and buffers in place (optimizers keep their references).

        Raises RuntimeError listing every missing key, unexpected key (both only when ``strict``) and
        wrongly shaped key (always) before anything is copied. Returns ``(missing_keys, unexpected_keys)``.
        """
        if not hasattr(state_dict, "items"):
            raise TypeError(f"load_state_dict: expected a mapping of names to arrays, got {type(state_dict).__name__}")
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        arrays: Dict[str, np.ndarray] = {}
        wrong_shape, wrong_dtype = [], []
        for key, target in own.items():
            if key in state_dict:
                arr = _as_numpy(state_dict[key], key)
                if arr.shape != target.shape:
                    wrong_shape.append(f"{key}: expected shape {target.shape}, got {arr.shape}")
                if not _loadable(arr.dtype, target.data.dtype):
                    wrong_dtype.append(f"{key}: a {arr.dtype} array cannot be loaded into a {target.data.dtype} tensor")
                arrays[key] = arr
        errors = []
        if strict and missing:
            errors.append("missing keys: " + ", ".join(missing))
        if strict and unexpected:
            errors.append("unexpected keys: " + ", ".join(unexpected))
        if wrong_shape:
            errors.append("wrong shapes: " + "; ".join(wrong_shape))
        if wrong_dtype:
            errors.append("wrong dtypes: " + "; ".join(wrong_dtype))
        if errors:
            raise StateDictError(f"Error(s) in loading state_dict for {type(self).__name__}:\n  " + "\n  ".join(errors))
        for key, arr in arrays.items():
            np.copyto(own[key].data, arr, casting="unsafe")
        return IncompatibleKeys(missing, unexpected)

    # ---- Keras workflow ---------------------------------------------------------------------------
    def compile(self, *args, **kwargs):
        """Keras ``compile`` (optimizer, loss, metrics); see ``seqkernels.training.compile``."""
        from .. import training
        return training.compile(self, *args, **kwargs)

    def fit(self, *args, **kwargs):
        """Keras ``fit``; see ``seqkernels.training.fit``."""
        from .. import training
        return training.fit(self, *args, **kwargs)

    def evaluate(self, *args, **kwargs):
        """Keras ``evaluate``; see ``seqkernels.training.evaluate``."""
        from .. import training
        return training.evaluate(self, *args, **kwargs)

    def predict(self, *args, **kwargs):
        """Keras ``predict``; see ``seqkernels.training.predict``."""
        from .. import training
        return training.predict(self, *args, **kwargs)

    # ---- repr ---------------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The layer's settings, shown inside its parentheses in ``repr``."""
        return ""

    def __repr__(self) -> str:
        lines = []
        extra = self.extra_repr()
        if extra:
            lines.extend(extra.split("\n"))
        for name, child in self._modules.items():
            child_repr = repr(child).replace("\n", "\n  ")
            lines.append(f"({name}): {child_repr}")
        if not lines:
            return f"{type(self).__name__}()"
        if len(lines) == 1 and not self._modules:
            return f"{type(self).__name__}({lines[0]})"
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))
