"""Ready-made models for text: TextCNN, RNN classifiers and taggers, Transformer encoder, BERT."""
from .textcnn import TextCNN
from .rnn import RNNClassifier, RNNTagger
