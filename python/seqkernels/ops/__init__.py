"""The op layer: every kernel family's array-level forward and backward, written once.

Each front end is a thin wrapper over these functions: the sk autograd ``Function``s
(``seqkernels/functions/``), the ``torch.library`` custom ops (``seqkernels.torch``), and anything later.
Nothing here knows about ``Tensor``, autograd or torch: numpy arrays in, numpy arrays out.

Convention (one module per family, ``ops/<family>.py``)::

    <op>_forward(inputs..., options...) -> (outputs..., saved...)
    <op>_backward(dy, saved..., options..., needs) -> (gradients...)

- ``<op>_forward`` checks and normalises every argument before any compute (dtype, shape, padding, masks,
  grouped-query heads, reductions, seeds), raising TypeError / ValueError / IndexError that name the op and
  the argument. It returns one tuple: the op's outputs first (their count is fixed per op and given in its
  docstring), then the arrays its backward needs ("saved", possibly none). A torch custom op returns the whole
  tuple and keeps the saved part in ``setup_context``.
- Options are what a ``torch.library`` schema can carry: int, float, bool, str, tuples of ints, None.
- Randomness: an op that draws (dropout, attention dropout) takes ``seed=None``; None draws one from
  ``sk.manual_seed``'s generator. The seed used is returned among the saved arrays as a 0-d int64 array,
  so backward replays the same mask.
- ``<op>_backward`` takes the upstream gradient ``dy`` first (``dy_<output>`` when several outputs carry
  one), then the saved arrays in forward's order, then the same options forward took, then ``needs``: one
  bool per differentiable input, in forward's order, saying which gradients are wanted. It returns one
  gradient per differentiable input, in that order, None where not wanted (or not defined).
- Arrays are float32 for compute, int32/int64 for ids and indices, bool for masks; outputs are fresh
  arrays or views of inputs (never of a saved buffer a later call may overwrite).
"""
