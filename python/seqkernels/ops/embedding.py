"""embedding over the C++ kernels (``_C.embedding_forward`` / ``_C.embedding_backward``), with
``torch.nn.functional.embedding``'s arguments and semantics, and ``SparseGrad``: the gradient that
``sparse=True`` leaves on the table.

SparseGrad contract (what optimizers rely on): ``rows`` int64 (k,) holds distinct row indices in ascending
order, ``values`` (k, dim) their summed gradients, ``shape`` the table's shape; every other row's gradient is
zero. ``.data``, ``to_dense()`` and ``np.asarray(grad)`` give the dense array, so code unaware of sparsity stays
correct (at dense cost); an optimizer that checks ``isinstance(p.grad, SparseGrad)`` can update ``p.data[rows]``
only. Gradients from several backward passes add up into one SparseGrad whose rows stay distinct and sorted.
"""
from __future__ import annotations

import numpy as np

from .. import _C


class SparseGrad:
    """Gradient of a (num_embeddings, dim) table that is zero outside ``rows``; see the module docstring."""

    is_sparse = True
    __slots__ = ("rows", "values", "shape")

    def __init__(self, rows: np.ndarray, values: np.ndarray, shape):
        self.rows, self.values, self.shape = rows, values, tuple(shape)

    @property
    def dtype(self):
        return self.values.dtype

    def to_dense(self) -> np.ndarray:
        dense = np.zeros(self.shape, dtype=self.values.dtype)
        dense[self.rows] = self.values  # rows are distinct
        return dense

    @property
    def data(self) -> np.ndarray:
        return self.to_dense()

    def numpy(self) -> np.ndarray:
        return self.to_dense()

    def __array__(self, dtype=None, copy=None):
        dense = self.to_dense()
        return dense if dtype is None else dense.astype(dtype, copy=False)

    def __add__(self, other):
        """SparseGrad + SparseGrad stays sparse (rows merged, their values summed); + an array is dense."""
        if isinstance(other, SparseGrad):
            rows = np.concatenate([self.rows, other.rows])
            values = np.concatenate([self.values, other.values])
            merged_rows, summed = _C.embedding_backward(values, rows, self.shape[0], sparse=True)
            return SparseGrad(merged_rows, summed, self.shape)
        dense = np.array(other, dtype=self.values.dtype, copy=True)
        dense[self.rows] += self.values
        return dense

    __radd__ = __add__

    def __repr__(self) -> str:
        return f"SparseGrad(shape={self.shape}, rows={len(self.rows)})"


def padding_row(padding_idx, num_embeddings: int, op: str):
    """padding_idx as torch normalises it: None, or a row in [0, num_embeddings) (negative counts from the end)."""
    if padding_idx is None:
        return None
    if not isinstance(padding_idx, (int, np.integer)) or isinstance(padding_idx, bool):
        raise TypeError(f"{op}: argument 'padding_idx' must be an int or None, got {padding_idx!r}")
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"{op}: argument 'padding_idx' must be within [-{num_embeddings}, {num_embeddings}), "
                         f"got {padding_idx}")
    return int(padding_idx) % num_embeddings


def _renorm_rows(weight: np.ndarray, ids: np.ndarray, max_norm: float, norm_type: float) -> None:
    """torch's max_norm: rows looked up whose norm exceeds max_norm are rescaled in place to norm max_norm."""
    rows = np.unique(ids)
    norms = np.linalg.norm(weight[rows], ord=norm_type, axis=1)
    too_long = norms > max_norm
    weight[rows[too_long]] *= (max_norm / (norms[too_long] + 1e-7))[:, None].astype(weight.dtype)


def embedding_forward(weight, ids, padding_idx=None, max_norm=None, norm_type: float = 2.0):
    """y = weight[ids]: weight (num_embeddings, dim), ids int32/int64 of any shape -> (y (*ids.shape, dim),);
    saved: none (backward takes ids). ``max_norm`` first renormalises the looked-up rows of weight *in place*
    (torch's semantics); ``padding_idx`` is only checked here (it matters to backward)."""
    padding_row(padding_idx, np.shape(weight)[0] if np.ndim(weight) == 2 else 0, "embedding")
    if max_norm is not None:
        _C.embedding_forward(weight, ids)  # validates dtype and id range before the table is modified
        _renorm_rows(weight, ids, float(max_norm), float(norm_type))
    return (_C.embedding_forward(weight, ids),)


def embedding_backward(dy, ids, num_embeddings: int, padding_idx=None, scale_grad_by_freq: bool = False,
                       sparse: bool = False):
    """dweight[i] = sum of dy rows whose id is i (padding_idx gets none; scaled by 1/count with
    scale_grad_by_freq). -> (dweight,): dense (num_embeddings, dim), or a SparseGrad with ``sparse``."""
    padding_idx = padding_row(padding_idx, num_embeddings, "embedding")
    grad = _C.embedding_backward(dy, ids, num_embeddings, padding_idx=padding_idx,
                                 scale_grad_by_freq=bool(scale_grad_by_freq), sparse=bool(sparse))
    if sparse:
        return (SparseGrad(grad[0], grad[1], (num_embeddings, dy.shape[-1])),)
    return (grad,)


def one_hot_forward(ids, num_classes: int = -1):
    """ids (*) of class indices -> (y (*, num_classes) int64,) with y[..., ids] = 1 (``num_classes`` -1: the
    largest id + 1), as torch.nn.functional.one_hot. No gradient."""
    if not isinstance(ids, np.ndarray) or ids.dtype.kind not in "iu":
        raise TypeError(f"one_hot: argument 'input' must be an integer (int64) tensor, got "
                        f"{getattr(ids, 'dtype', type(ids).__name__)}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise TypeError(f"one_hot: argument 'num_classes' must be an int, got {num_classes!r}")
    if ids.size and ids.min() < 0:
        raise ValueError("one_hot: class values must be non-negative")
    if num_classes == -1:
        if not ids.size:
            raise ValueError("one_hot: can not infer the total number of classes from an empty tensor")
        num_classes = int(ids.max()) + 1
    elif num_classes < 1 or (ids.size and ids.max() >= num_classes):
        raise ValueError(f"one_hot: class values must be smaller than num_classes ({num_classes})")
    y = np.zeros(ids.shape + (int(num_classes),), np.int64)
    np.put_along_axis(y, ids[..., None].astype(np.int64), 1, axis=-1)
    return (y,)
