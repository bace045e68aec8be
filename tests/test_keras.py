"""seqkernels.keras without TensorFlow: the functional API, Sequential, summary, weights' order and layouts,
Keras's default initialisers, saving, masks, training with compile/fit, and bad input.
(Parity with TF-Keras itself is in test_keras_tf_parity.py.)"""
import numpy as np
import pytest

import seqkernels as sk
from seqkernels import keras
from seqkernels.keras import layers as L
from seqkernels.keras.engine import keras_mask
from seqkernels.keras.models import Model, Sequential, load_model


def _rng():
    return np.random.default_rng(0)


def _two_in_two_out():
    ids = keras.Input(shape=(7,), dtype=sk.int32, name="ids")
    feats = keras.Input(shape=(3,), name="feats")
    x = L.Embedding(20, 4, mask_zero=True, name="emb")(ids)
    x = L.LSTM(5, name="lstm")(x)
    x = L.Concatenate(name="cat")([x, L.Dense(2, name="proj")(feats)])
    out_a = L.Dense(3, activation="softmax", name="head_a")(x)
    out_b = L.Dense(1, name="head_b")(x)
    return Model(inputs=[ids, feats], outputs=[out_a, out_b], name="two")


def test_functional_shapes_layers_and_eager_call():
    model = _two_in_two_out()
    assert [l.name for l in model.layers] == ["ids", "feats", "emb", "lstm", "proj", "cat", "head_a", "head_b"]
    assert model.get_layer("lstm").output.shape == (None, 5)
    assert model.outputs[0].shape == (None, 3) and model.outputs[1].shape == (None, 1)
    ids = _rng().integers(0, 20, (4, 7))
    feats = _rng().standard_normal((4, 3)).astype(np.float32)
    a, b = model([ids, feats])
    assert a.shape == (4, 3) and b.shape == (4, 1)
    np.testing.assert_allclose(a.numpy().sum(axis=1), 1.0, rtol=1e-5)
    a2, _ = model(ids, feats)                       # fit's calling convention: model(*inputs)
    np.testing.assert_array_equal(a.numpy(), a2.numpy())
    with pytest.raises(ValueError, match="no layer named"):
        model.get_layer("nope")


def test_unknown_lengths_and_symbolic_shapes():
    ids = keras.Input(shape=(None,), dtype="int32")
    x = L.Embedding(10, 6)(ids)
    x = L.Conv1D(4, 3, padding="same")(x)
    assert x.shape == (None, None, 4)
    x = L.MaxPooling1D(2)(x)
    pooled = L.GlobalAveragePooling1D()(x)
    assert pooled.shape == (None, 4)
    model = Model(ids, pooled)
    for steps in (2, 9):
        assert model(np.ones((3, steps), np.int32)).shape == (3, 4)


def test_sequential_add_builds_lazily_and_eagerly():
    model = Sequential([L.Dense(8, activation="relu")])
    model.add(L.Dropout(0.2))
    model.add(L.Dense(2))
    assert not model.weights
    out = model(np.ones((5, 3), np.float32))
    assert out.shape == (5, 2)
    assert [w.shape for w in model.get_weights()] == [(3, 8), (8,), (8, 2), (2,)]
    built = Sequential([keras.Input((4,)), L.Dense(3)])
    assert built.count_params() == 15 and built.layers[0].output.shape == (None, 3)


def test_summary_table():
    model = _two_in_two_out()
    lines = []
    model.summary(print_fn=lines.append)
    text = lines[0]
    assert text.startswith('Model: "two"')
    total = model.count_params()
    assert f"Total params: {total:,}" in text
    assert "lstm (LSTM)" in text and "(None, 5)" in text and "Connected to" in text
    lstm_params = 4 * 5 * (4 + 5 + 1)
    assert model.get_layer("lstm").count_params() == lstm_params and f"{lstm_params:,}" in text


def test_weights_order_layouts_and_set_weights():
    model = _two_in_two_out()
    shapes = [w.shape for w in model.get_weights()]
    assert shapes == [(20, 4), (4, 20), (5, 20), (20,), (3, 2), (2,), (7, 3), (3,), (7, 1), (1,)]
    new = [np.full(s, i, np.float32) for i, s in enumerate(shapes)]
    model.set_weights(new)
    for got, want in zip(model.get_weights(), new):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="expected 10 arrays"):
        model.set_weights(new[:-1])
    with pytest.raises(ValueError, match="shape"):
        model.set_weights(new[:-1] + [np.zeros((2, 2), np.float32)])
    bn = L.BatchNormalization()
    bn(np.ones((2, 3), np.float32))
    assert [w.shape for w in bn.get_weights()] == [(3,)] * 4
    assert len(bn.trainable_weights) == 2 and len(bn.non_trainable_weights) == 2


def test_keras_default_initialisers():
    sk.manual_seed(0)
    emb = L.Embedding(1000, 64)
    emb(np.zeros((1, 1), np.int64))
    e = emb.get_weights()[0]
    assert e.min() >= -0.05 and e.max() <= 0.05 and e.std() > 0.025
    dense = L.Dense(300)
    dense(np.zeros((1, 200), np.float32))
    kernel, bias = dense.get_weights()
    limit = np.sqrt(6 / 500)
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.95 * limit and not bias.any()
    lstm = L.LSTM(16)
    lstm(np.zeros((1, 2, 8), np.float32))
    k, r, b = lstm.get_weights()
    np.testing.assert_allclose(r @ r.T, np.eye(16), atol=1e-5)  # (16, 64) with orthonormal rows
    assert (b[16:32] == 1).all() and not b[:16].any() and not b[32:].any()
    gru = L.GRU(4)
    gru(np.zeros((1, 2, 3), np.float32))
    assert gru.get_weights()[2].shape == (2, 12)
    he = keras.initializers.get("he_normal")((400, 300))
    assert abs(he.std() - np.sqrt(2 / 400)) < 0.1 * np.sqrt(2 / 400)
    assert abs(np.abs(he).max() - 2 * np.sqrt(2 / 400) / 0.87962566103423978) < 0.01


def test_masks_propagate_eagerly_and_in_graphs():
    emb = L.Embedding(10, 3, mask_zero=True)
    ids = np.array([[0, 0, 4, 5], [1, 2, 0, 0]])
    x = emb(ids)
    np.testing.assert_array_equal(keras_mask(x), ids != 0)
    seq = L.LSTM(2, return_sequences=True)(x)
    np.testing.assert_array_equal(keras_mask(seq), ids != 0)
    # a masked LSTM over pre-padded ids equals the same LSTM over the unpadded ids
    lstm = L.LSTM(3)
    lstm.build((None, 4, 3))
    lstm.built = True
    full = lstm(x, mask=ids != 0).numpy()
    first = lstm(emb(ids[:1, 2:])).numpy()
    np.testing.assert_allclose(full[0], first[0], rtol=1e-5, atol=1e-6)
    inp = keras.Input((4,), dtype="int32")
    h = L.Embedding(10, 3, mask_zero=True)(inp)
    assert h.has_mask and L.LSTM(2, return_sequences=True)(h).has_mask and not L.LSTM(2)(h).has_mask


def _classifier():
    ids = keras.Input(shape=(6,), dtype="int32")
    x = L.Embedding(30, 8, mask_zero=True)(ids)
    x = L.Bidirectional(L.LSTM(4, return_sequences=True))(x)
    x = L.Conv1D(5, 2, padding="causal", activation="relu")(x)
    x = L.GlobalMaxPooling1D()(x)
    x = L.LayerNormalization()(x)
    x = L.Dense(3, activation="softmax", kernel_regularizer=keras.regularizers.l2(1e-3))(x)
    return Model(ids, x)


def test_save_and_load_model_round_trip(tmp_path):
    model = _classifier()
    ids = _rng().integers(0, 30, (5, 6))
    expected = model.predict(ids, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict(ids, verbose=0), expected)
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
    seq = Sequential([keras.Input((4,)), L.Dense(3, activation="tanh"), L.BatchNormalization(), L.Dense(2)])
    x = _rng().standard_normal((3, 4)).astype(np.float32)
    seq.save(tmp_path / "s.keras")
    np.testing.assert_array_equal(load_model(tmp_path / "s.keras").predict(x, verbose=0), seq.predict(x, verbose=0))
    other = _classifier()
    other.save_weights(tmp_path / "w.weights.safetensors")
    model.load_weights(tmp_path / "w.weights.safetensors")
    np.testing.assert_array_equal(model.predict(ids, verbose=0), other.predict(ids, verbose=0))
    with pytest.raises(ValueError, match="do not fit"):
        Sequential([keras.Input((4,)), L.Dense(3)]).load_weights(tmp_path / "w.weights.safetensors")
    with pytest.raises(ValueError, match="not a model saved"):
        load_model(tmp_path / "w.weights.safetensors")


def test_lambda_needs_custom_objects(tmp_path):
    def double(x):
        return x * 2.0

    inp = keras.Input((3,))
    model = Model(inp, L.Lambda(double)(L.Dense(2)(inp)))
    model.save(tmp_path / "l.keras")
    with pytest.raises(ValueError, match="custom_objects"):
        load_model(tmp_path / "l.keras")
    loaded = load_model(tmp_path / "l.keras", custom_objects={"double": double})
    x = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_compile_fit_evaluate_predict_callbacks_and_regularizers():
    sk.manual_seed(1)
    rng = _rng()
    ids = rng.integers(1, 30, (96, 6))
    labels = (ids[:, 0] % 3).astype(np.int64)   # learnable from the first token
    model = _classifier()
    assert model.losses and float(model.regularization_loss().item()) > 0
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.02), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(ids, labels, epochs=8, batch_size=16, verbose=0, validation_split=0.25,
                        callbacks=[keras.callbacks.EarlyStopping(monitor="loss", patience=3)])
    assert history.history["loss"][-1] < history.history["loss"][0]
    loss, acc = model.evaluate(ids, labels, verbose=0)
    assert acc > 0.8
    probs = model.predict(ids, verbose=0)
    assert probs.shape == (96, 3)


def test_trainable_false_freezes():
    model = _classifier()
    model.get_layer(model.layers[1].name).trainable = False
    frozen = model.layers[1]
    assert not frozen.trainable_weights and len(frozen.non_trainable_weights) == 1
    before = frozen.get_weights()[0].copy()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(np.ones((8, 6), np.int64), np.zeros(8, np.int64), epochs=1, verbose=0)
    np.testing.assert_array_equal(frozen.get_weights()[0], before)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="units"):
        L.Dense(0)
    with pytest.raises(ValueError, match="padding"):
        L.Conv1D(3, 2, padding="full")
    with pytest.raises(ValueError, match="recurrent_dropout"):
        L.LSTM(3, recurrent_dropout=0.1)
    with pytest.raises(TypeError, match="inputs must be tensors from Input"):
        Model(np.zeros(3), L.Dense(2)(keras.Input((3,))))
    with pytest.raises(ValueError, match="unknown initializer"):
        L.Dense(2, kernel_initializer="glorot_magic")
    inp = keras.Input((3,))
    with pytest.raises(ValueError, match="expects shape"):
        Model(inp, L.Dense(2)(inp))(np.ones((2, 4), np.float32))
    with pytest.raises(ValueError, match="fewer than the kernel"):
        L.Conv1D(2, 5)(np.ones((1, 3, 2), np.float32))


def test_tf_style_names():
    import seqkernels as tf
    assert tf.keras.layers.Dense is L.Dense and tf.keras.Model is Model and tf.int32 is np.int32
    from seqkernels.keras.preprocessing.sequence import pad_sequences
    from seqkernels.keras.preprocessing.text import Tokenizer
    assert pad_sequences([[1, 2]], maxlen=3).tolist() == [[0, 1, 2]] and Tokenizer


def test_textcnn_reaches_keras_accuracy_on_bbc():
    """The issue's case: a functional TextCNN from Keras's default initialisers on the BBC articles. TF-Keras
    2.21 / Keras 3.15, same data, split and model: validation accuracy 0.27, 0.51, 0.76, 0.84 over 4 epochs
    (ours: 0.41, 0.63, 0.80, 0.87 in the run this test was written with)."""
    from seqkernels.data import load_bbc_news
    from seqkernels.keras.preprocessing.sequence import pad_sequences
    from seqkernels.keras.preprocessing.text import Tokenizer
    sk.manual_seed(0)
    texts, topics = load_bbc_news()
    names = sorted(set(topics))
    y = np.array([names.index(t) for t in topics])
    order = np.random.default_rng(0).permutation(len(texts))
    texts, y = [texts[i] for i in order], y[order]
    tok = Tokenizer(num_words=10000, oov_token="<unk>")
    tok.fit_on_texts(texts[:1780])
    x = pad_sequences(tok.texts_to_sequences(texts), maxlen=150)
    ids = keras.Input(shape=(150,), dtype="int32")
    h = L.Embedding(10000, 64)(ids)
    h = L.Concatenate()([L.GlobalMaxPooling1D()(L.Conv1D(64, k, activation="relu")(h)) for k in (3, 4, 5)])
    out = L.Dense(5, activation="softmax")(L.Dropout(0.5)(h))
    model = Model(ids, out)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x[:1780], y[:1780], validation_data=(x[1780:], y[1780:]), epochs=4, batch_size=32,
                        verbose=0)
    assert history.history["val_accuracy"][-1] >= 0.8
