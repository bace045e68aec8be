"""``seqkernels.keras``: Keras's layer and model API on seqkernels' kernels — usable where code writes ``tf.keras``.

    import seqkernels as tf                      # tf.int32, tf.float32, tf.keras
    from seqkernels.keras.layers import Input, Dense, LSTM, Bidirectional, Embedding
    from seqkernels.keras.models import Model, Sequential, load_model

    ids = Input(shape=(100,), dtype=tf.int32)
    h = Bidirectional(LSTM(64))(Embedding(20000, 128, mask_zero=True)(ids))
    model = Model(ids, Dense(5, activation="softmax")(h))
    model.summary()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, validation_data=(x_val, y_val), epochs=3)

Layers are channels-last with Keras's names, arguments, defaults (Glorot-uniform kernels, orthogonal recurrent
kernels, uniform(+-0.05) embeddings, zero biases, the LSTM forget bias at 1), weight layouts and ``get_weights`` /
``set_weights`` order, so ``layer.set_weights(tf_layer.get_weights())`` copies a TensorFlow-Keras layer. Models
are ``seqkernels.nn.Module``s: ``compile`` / ``fit`` / ``evaluate`` / ``predict`` and the callbacks are
``seqkernels.training``'s.
"""
import numpy as _np

from . import activations, backend, callbacks, initializers, layers, losses, metrics, models, optimizers
from . import preprocessing, regularizers
from .bert import BertModel, TFBertModel
from .engine import Input, KerasTensor, Layer, Model, Sequential, clear_session, keras_mask
from .saving import load_model

int32, int64, float32, float64, bool_ = _np.int32, _np.int64, _np.float32, _np.float64, _np.bool_

__all__ = ["BertModel", "Input", "KerasTensor", "Layer", "Model", "Sequential", "TFBertModel", "activations",
           "backend", "callbacks", "clear_session", "initializers", "keras_mask", "layers", "load_model", "losses",
           "metrics", "models", "optimizers", "preprocessing", "regularizers"]
