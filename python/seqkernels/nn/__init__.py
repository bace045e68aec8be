"""``seqkernels.nn``: layers mirroring ``torch.nn`` (same parameter names and layouts)."""
from . import init
from .activation import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Softplus, Tanh
from .container import ModuleDict, ModuleList, Sequential
from .dropout import Dropout
from .linear import Identity, Linear
from .loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from .module import Module
from .normalization import LayerNorm
from .parameter import Parameter
from .conv import Conv1d
from .padding import CircularPad1d, ConstantPad1d, ReflectionPad1d, ReplicationPad1d, ZeroPad1d
from .pooling import AdaptiveMaxPool1d, AvgPool1d, MaxPool1d
from .sparse import Embedding
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from .crf import CRF
from .attention import MultiheadAttention
from .transformer import (DecoderCache, Transformer, TransformerDecoder, TransformerDecoderLayer, TransformerEncoder,
                          TransformerEncoderLayer)
from . import utils
