"""seqkernels.keras against TensorFlow-Keras: the same layer configuration built in both, TF's weights copied with
``set_weights(tf_layer.get_weights())``, outputs and one step's gradients (``tf.GradientTape``) compared.

Needs ``tensorflow`` (a reference, never a dependency: run in a venv that has it, e.g.
``PYTHONPATH=python /work/venv-tf/bin/python -m pytest tests/test_keras_tf_parity.py``); skips without it.
Tolerances: float32 outputs of O(1) after at most a few hundred accumulations (1e-5 relative, 2e-5 absolute);
recurrences over a few steps and their gradients, where both sides sum in different orders, 1e-4.
"""
import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

import seqkernels as sk  # noqa: E402
from seqkernels import keras as skk  # noqa: E402
from seqkernels.keras import layers as L  # noqa: E402

RNG = np.random.default_rng(0)


def _close(ours, theirs, tol, what):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} vs TF {theirs.shape}"
    np.testing.assert_allclose(ours, theirs, rtol=tol, atol=2 * tol, err_msg=what)


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def check(tf_layer, our_layer, inputs, tol=1e-5, call_kwargs=None, grads=True, training=False):
    """Builds both on ``inputs`` (a list of arrays: the positional arguments), copies TF's weights into ours,
    compares outputs, then the gradients of sum(output * r) with respect to every weight and float input."""
    call_kwargs = dict(call_kwargs or {})
    tf_inputs = [tf.constant(x) for x in inputs]
    tf_layer(*tf_inputs, **call_kwargs, training=training) if _takes_training(tf_layer) else \
        tf_layer(*tf_inputs, **call_kwargs)
    our_layer(*[sk.tensor(x) for x in inputs], **_ours(call_kwargs))
    our_layer.set_weights(tf_layer.get_weights())
    with tf.GradientTape(persistent=True) as tape:
        for t in tf_inputs:
            if t.dtype.is_floating:
                tape.watch(t)
        kw = dict(call_kwargs, training=training) if _takes_training(tf_layer) else call_kwargs
        tf_out = _as_list(tf_layer(*tf_inputs, **kw))
        probes = [RNG.standard_normal(tuple(o.shape)).astype(np.float32) for o in tf_out]
        tf_loss = sum(tf.reduce_sum(o * p) for o, p in zip(tf_out, probes))
    our_inputs = [sk.tensor(x, requires_grad=x.dtype == np.float32) for x in inputs]
    our_layer.train(training)
    our_out = _as_list(our_layer(*our_inputs, **_ours(call_kwargs)))
    assert len(our_out) == len(tf_out)
    for i, (o, t) in enumerate(zip(our_out, tf_out)):
        _close(o.numpy(), t.numpy(), tol, f"output {i}")
    if not grads:
        return
    loss = None
    for o, p in zip(our_out, probes):
        term = (o * sk.tensor(p)).sum()
        loss = term if loss is None else loss + term
    loss.backward()
    tf_weight_grads = tape.gradient(tf_loss, tf_layer.trainable_weights)
    ours = our_layer.trainable_weights
    assert len(ours) == len(tf_weight_grads)
    for i, (w, g) in enumerate(zip(ours, tf_weight_grads)):
        ours_g = np.zeros(w.shape, np.float32) if w.grad is None else w.grad.numpy()
        _close(ours_g, np.zeros(w.shape) if g is None else tf.convert_to_tensor(g).numpy(), tol, f"weight grad {i}")
    for i, (x, t) in enumerate(zip(our_inputs, tf_inputs)):
        if t.dtype.is_floating:
            g = tape.gradient(tf_loss, t)
            _close(x.grad.numpy(), g.numpy(), tol, f"input grad {i}")


def _takes_training(layer):
    import inspect
    return "training" in inspect.signature(layer.call).parameters


def _ours(kwargs):
    return {k: (np.asarray(v) if hasattr(v, "numpy") else v) for k, v in kwargs.items()}


def x3(batch, steps, features):
    return RNG.standard_normal((batch, steps, features)).astype(np.float32)


# ---- core layers --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3, 7), (2, 5, 7), (1, 1, 1)])
@pytest.mark.parametrize("activation", [None, "relu", "softmax", "tanh", "gelu"])
def test_dense(shape, activation):
    check(keras.layers.Dense(5, activation=activation), L.Dense(5, activation=activation),
          [RNG.standard_normal(shape).astype(np.float32)])


def test_embedding_and_mask():
    ids = np.array([[0, 3, 9, 0], [5, 0, 0, 0]], np.int32)
    theirs, ours = keras.layers.Embedding(10, 4, mask_zero=True), L.Embedding(10, 4, mask_zero=True)
    check(theirs, ours, [ids])
    np.testing.assert_array_equal(ours.compute_mask(sk.tensor(ids)), theirs.compute_mask(tf.constant(ids)).numpy())


@pytest.mark.parametrize("cls", ["Flatten", "Activation", "Reshape", "Permute"])
def test_shape_layers(cls):
    args = {"Activation": ("sigmoid",), "Reshape": ((3, 4),), "Permute": ((2, 1),)}.get(cls, ())
    check(getattr(keras.layers, cls)(*args), getattr(L, cls)(*args), [x3(2, 4, 3)])


@pytest.mark.parametrize("cls", ["Concatenate", "Add", "Multiply", "Subtract", "Average", "Maximum"])
def test_merge(cls):
    a, b = x3(2, 3, 4), x3(2, 3, 4)
    theirs, ours = getattr(keras.layers, cls)(), getattr(L, cls)()
    ta, tb = tf.Variable(a), tf.Variable(b)
    with tf.GradientTape() as tape:
        out = theirs([ta, tb])
        loss = tf.reduce_sum(out * out)
    ga, gb = tape.gradient(loss, [ta, tb])
    sa, sb = sk.tensor(a, requires_grad=True), sk.tensor(b, requires_grad=True)
    mine = ours([sa, sb])
    (mine * mine).sum().backward()
    _close(mine.numpy(), out.numpy(), 1e-5, "output")
    _close(sa.grad.numpy(), ga.numpy(), 1e-5, "grad a")
    _close(sb.grad.numpy(), gb.numpy(), 1e-5, "grad b")


# ---- convolution and pooling ------------------------------------------------------------------------------
@pytest.mark.parametrize("padding", ["valid", "same", "causal"])
@pytest.mark.parametrize("kernel,strides,dilation,steps", [(3, 1, 1, 7), (5, 2, 1, 11), (3, 1, 2, 9), (1, 1, 1, 1),
                                                           (4, 3, 1, 13), (2, 1, 3, 5)])
def test_conv1d(padding, kernel, strides, dilation, steps):
    if padding == "valid" and (kernel - 1) * dilation + 1 > steps:
        pytest.skip("no output step")
    kw = dict(strides=strides, dilation_rate=dilation, padding=padding, activation="relu")
    if strides > 1 and dilation > 1:
        pytest.skip("TF does not combine strides and dilation")
    check(keras.layers.Conv1D(6, kernel, **kw), L.Conv1D(6, kernel, **kw), [x3(2, steps, 5)])


@pytest.mark.parametrize("cls", ["MaxPooling1D", "AveragePooling1D"])
@pytest.mark.parametrize("pool,strides,padding,steps", [(2, None, "valid", 7), (3, 2, "same", 8), (3, 1, "same", 5),
                                                        (2, 3, "same", 10), (1, None, "valid", 1)])
def test_pooling(cls, pool, strides, padding, steps):
    kw = dict(pool_size=pool, strides=strides, padding=padding)
    check(getattr(keras.layers, cls)(**kw), getattr(L, cls)(**kw), [x3(2, steps, 3)])


@pytest.mark.parametrize("cls", ["GlobalMaxPooling1D", "GlobalAveragePooling1D"])
def test_global_pooling(cls):
    check(getattr(keras.layers, cls)(), getattr(L, cls)(), [x3(3, 5, 4)])


def test_global_average_pooling_with_mask():
    mask = np.array([[1, 1, 0, 0, 1], [0, 0, 0, 1, 1]], bool)
    check(keras.layers.GlobalAveragePooling1D(), L.GlobalAveragePooling1D(), [x3(2, 5, 3)],
          call_kwargs={"mask": tf.constant(mask)})


# ---- recurrent layers -------------------------------------------------------------------------------------
MASKS = {
    "none": None,
    "post": np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0]], bool),
    "pre": np.array([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1], [0, 0, 0, 0, 1]], bool),
    "holes": np.array([[1, 0, 1, 0, 1], [0, 1, 1, 0, 0], [1, 1, 1, 1, 0]], bool),
    "empty_row": np.array([[1, 1, 0, 0, 0], [0, 0, 0, 0, 0], [1, 1, 1, 1, 1]], bool),
}


@pytest.mark.parametrize("cls", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("mask", list(MASKS))
@pytest.mark.parametrize("flags", [dict(), dict(return_sequences=True), dict(return_state=True),
                                   dict(go_backwards=True), dict(return_sequences=True, go_backwards=True,
                                                                 return_state=True)])
def test_recurrent(cls, mask, flags):
    kwargs = {} if MASKS[mask] is None else {"mask": tf.constant(MASKS[mask])}
    check(getattr(keras.layers, cls)(4, **flags), getattr(L, cls)(4, **flags), [x3(3, 5, 3)], tol=1e-4,
          call_kwargs=kwargs)


@pytest.mark.parametrize("cls", ["SimpleRNN", "LSTM", "GRU"])
def test_recurrent_length_one_and_initial_state(cls):
    check(getattr(keras.layers, cls)(3, return_sequences=True), getattr(L, cls)(3, return_sequences=True),
          [x3(2, 1, 4)], tol=1e-4)
    states = [RNG.standard_normal((2, 3)).astype(np.float32) for _ in range(2 if cls == "LSTM" else 1)]
    theirs, ours = getattr(keras.layers, cls)(3, return_state=True), getattr(L, cls)(3, return_state=True)
    x = x3(2, 4, 4)
    theirs(x, initial_state=[tf.constant(s) for s in states])
    ours(x, initial_state=states)
    ours.set_weights(theirs.get_weights())
    for a, b in zip(ours(x, initial_state=states), theirs(x, initial_state=[tf.constant(s) for s in states])):
        _close(a.numpy(), b.numpy(), 1e-4, "output with initial_state")


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("mask", ["none", "post", "pre", "empty_row"])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional(merge_mode, mask, return_sequences):
    kwargs = {} if MASKS[mask] is None else {"mask": tf.constant(MASKS[mask])}
    theirs = keras.layers.Bidirectional(keras.layers.LSTM(3, return_sequences=return_sequences), merge_mode=merge_mode)
    ours = L.Bidirectional(L.LSTM(3, return_sequences=return_sequences), merge_mode=merge_mode)
    check(theirs, ours, [x3(3, 5, 2)], tol=1e-4, call_kwargs=kwargs)


def test_bidirectional_gru_return_state():
    theirs = keras.layers.Bidirectional(keras.layers.GRU(3, return_state=True))
    ours = L.Bidirectional(L.GRU(3, return_state=True))
    check(theirs, ours, [x3(2, 4, 2)], tol=1e-4)


# ---- normalization and attention ----------------------------------------------------------------------------
def test_layer_normalization():
    check(keras.layers.LayerNormalization(), L.LayerNormalization(), [x3(2, 3, 7)])


@pytest.mark.parametrize("training", [False, True])
def test_batch_normalization(training):
    theirs, ours = keras.layers.BatchNormalization(), L.BatchNormalization()
    x = x3(4, 3, 5)
    theirs(x)
    ours(x)
    theirs.set_weights([w + RNG.uniform(0.1, 0.5, w.shape).astype(np.float32) for w in theirs.get_weights()])
    ours.set_weights(theirs.get_weights())
    ours.train(training)
    _close(ours(sk.tensor(x)).numpy(), theirs(x, training=training).numpy(), 1e-5, "output")
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        _close(a, b, 1e-5, "moving statistics after the step")


@pytest.mark.parametrize("case", ["plain", "attention_mask", "causal", "keras_masks", "cross"])
def test_multi_head_attention(case):
    q, v = x3(2, 4, 6), x3(2, 5 if case == "cross" else 4, 6)
    kwargs = {}
    if case == "attention_mask":
        m = RNG.random((2, 4, 4)) > 0.4
        m[1, 2] = False  # a query row with no key: uniform attention, as Keras
        kwargs["attention_mask"] = tf.constant(m)
    if case == "causal":
        kwargs["use_causal_mask"] = True
    theirs, ours = keras.layers.MultiHeadAttention(3, 2, value_dim=4), L.MultiHeadAttention(3, 2, value_dim=4)
    if case == "keras_masks":
        qm = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], bool)
        check(theirs, ours, [q, v], tol=1e-5, call_kwargs={"value_mask": tf.constant(qm)})
        return
    check(theirs, ours, [q, v], tol=1e-5, call_kwargs=kwargs)


# ---- whole models -----------------------------------------------------------------------------------------
def _text_cnn(api, vocab=50, steps=12):
    ids = api.Input(shape=(steps,), dtype="int32")
    x = api.layers.Embedding(vocab, 8)(ids)
    branches = [api.layers.GlobalMaxPooling1D()(api.layers.Conv1D(5, k, activation="relu")(x)) for k in (2, 3, 4)]
    x = api.layers.Concatenate()(branches)
    x = api.layers.Dropout(0.5)(x)
    return api.Model(ids, api.layers.Dense(3, activation="softmax")(x))


def _bilstm(api, vocab=50, steps=12):
    ids = api.Input(shape=(steps,), dtype="int32")
    x = api.layers.Embedding(vocab, 8, mask_zero=True)(ids)
    x = api.layers.Bidirectional(api.layers.LSTM(6, return_sequences=True))(x)
    x = api.layers.Bidirectional(api.layers.GRU(4))(x)
    return api.Model(ids, api.layers.Dense(3, activation="softmax")(x))


@pytest.mark.parametrize("build", [_text_cnn, _bilstm])
def test_whole_models_match_after_copying_weights(build):
    theirs, ours = build(keras), build(skk)
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
    ours.set_weights(theirs.get_weights())
    ids = RNG.integers(1, 50, (4, 12)).astype(np.int32)
    ids[1, 8:] = 0
    ids[2, :5] = 0
    _close(ours.predict(ids, verbose=0), theirs.predict(ids, verbose=0), 1e-5, "predictions")
    labels = np.array([0, 1, 2, 1])
    with tf.GradientTape() as tape:
        loss = keras.losses.SparseCategoricalCrossentropy()(labels, theirs(ids, training=False))
    tf_grads = tape.gradient(loss, theirs.trainable_weights)
    ours.eval()
    our_loss = sk.losses.SparseCategoricalCrossentropy()(ours(sk.tensor(ids)), labels)
    our_loss.backward()
    _close(our_loss.item(), loss.numpy(), 1e-5, "loss")
    for i, (w, g) in enumerate(zip(ours.trainable_weights, tf_grads)):
        _close(w.grad.numpy(), tf.convert_to_tensor(g).numpy(), 1e-4, f"grad of weight {i}")
