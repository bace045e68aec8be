"""embedding as an autograd op over the C++ kernels (``_C.embedding_forward`` / ``_C.embedding_backward``),
with ``torch.nn.functional.embedding``'s arguments and semantics, and ``SparseGrad``: the gradient that
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
from ..autograd import Function
from ..tensor import Tensor


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


class Embedding(Function):
    """y = weight[ids]; the table's gradient is the scatter-add of grad_output rows by id (dense, or SparseGrad)."""

    @staticmethod
    def forward(ctx, weight, ids, padding_idx, scale_grad_by_freq, sparse):
        ctx.ids, ctx.table_shape = ids, weight.shape
        ctx.options = dict(padding_idx=padding_idx, scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)
        return _C.embedding_forward(weight, ids)

    @staticmethod
    def backward(ctx, grad_output):
        grad = _C.embedding_backward(grad_output, ctx.ids, ctx.table_shape[0], **ctx.options)
        if ctx.options["sparse"]:
            grad = SparseGrad(grad[0], grad[1], ctx.table_shape)
        return grad, None


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


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False, sparse=False):
    """Rows of ``weight`` (num_embeddings, dim) for int32/int64 ids ``input`` of any shape:
    ``torch.nn.functional.embedding``. ``padding_idx`` (negative counts from the end) gets no gradient;
    ``max_norm`` renormalises looked-up rows in place first; ``sparse=True`` leaves a ``SparseGrad`` on weight."""
    ids = input.data if isinstance(input, Tensor) else np.asarray(input)
    num_embeddings = np.shape(weight)[0] if np.ndim(weight) == 2 else 0
    padding_idx = padding_row(padding_idx, num_embeddings, "embedding")
    if max_norm is not None:
        table = weight.data if isinstance(weight, Tensor) else weight
        _C.embedding_forward(table, ids)  # validates dtype and id range before the table is modified
        _renorm_rows(table, ids, float(max_norm), float(norm_type))
    return Embedding.apply(weight, ids, padding_idx, bool(scale_grad_by_freq), bool(sparse))
