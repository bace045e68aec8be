"""Ready-made models for text: TextCNN, RNN classifiers and taggers, Transformer encoder, BERT, Llama LLMs."""
from .textcnn import TextCNN
from .rnn import RNNClassifier, RNNTagger
from .bert import (BertConfig, BertForQuestionAnswering, BertForSequenceClassification, BertForTokenClassification,
                   BertModel)
from .bert_tokenizer import BertTokenizer
from .llama import CausalLMOutput, LlamaCache, LlamaConfig, LlamaForCausalLM
from .llama_tokenizer import LlamaTokenizer
from .seq2seq import Seq2SeqLSTM, Seq2SeqTransformer
from .sentence_encoder import SentenceEncoder
