"""``seqkernels.keras.layers``: Keras's layers (names, arguments, defaults, weight layouts), channels-last."""
from ..engine import Input, InputLayer, Layer
from .attention import MultiHeadAttention
from .conv import (AveragePooling1D, AvgPool1D, Conv1D, GlobalAveragePooling1D, GlobalAvgPool1D, GlobalMaxPool1D,
                   GlobalMaxPooling1D, MaxPool1D, MaxPooling1D)
from .core import (Activation, Dense, Dropout, Embedding, Flatten, Lambda, Masking, Permute, RepeatVector, Reshape,
                   SpatialDropout1D)
from .merge import (Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract, add, concatenate,
                    multiply)
from .normalization import BatchNormalization, LayerNormalization
from .rnn import GRU, LSTM, Bidirectional, SimpleRNN

Convolution1D = Conv1D

__all__ = ["Activation", "Add", "Average", "AveragePooling1D", "AvgPool1D", "BatchNormalization", "Bidirectional",
           "Concatenate", "Conv1D", "Convolution1D", "Dense", "Dot", "Dropout", "Embedding", "Flatten", "GRU",
           "GlobalAveragePooling1D", "GlobalAvgPool1D", "GlobalMaxPool1D", "GlobalMaxPooling1D", "Input", "InputLayer",
           "LSTM", "Lambda", "Layer", "LayerNormalization", "Masking", "MaxPool1D", "MaxPooling1D", "Maximum",
           "Minimum", "MultiHeadAttention", "Multiply", "Permute", "RepeatVector", "Reshape", "SimpleRNN",
           "SpatialDropout1D", "Subtract", "add", "concatenate", "multiply"]
