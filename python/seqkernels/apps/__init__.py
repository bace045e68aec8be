"""The applications behind the ``seqkernels`` command line, one module each, all registered in
``registry`` (``COMMANDS``, ``TASKS``). Importing this package imports every application module (cheap: they
import their heavy parts inside their run functions), which registers them.

    classify   train / predict --task classify: text classification (BBC News, fine-food reviews, any CSV)
    ner        train / predict --task tag: named-entity recognition (BiLSTM-CRF, MiniLM token classifier)
    sentiment  train / predict --task sentiment: fine-food reviews (TextCNN, BiLSTM, fine-tuned MiniLM)
    qa         search: question answering by retrieval (MiniLM sentence embeddings, exact top-k)
    explain    explain: gradient x input, integrated gradients and attention maps of a BERT classifier
    translate  translate train | text: English -> French (seqkernels.translation)
    generate   generate "prompt" | chat: a Llama-architecture LLM (SmolLM2-135M-Instruct GGUF by default)
    bench      build info, FMA peak, GEMM speed
"""
from importlib import import_module

from .registry import COMMANDS, TASKS, Command, Task, register_command, register_task

# One line per application module; each registers its commands and tasks when imported.
APPLICATIONS = ("train_predict", "classify", "ner", "sentiment", "qa", "explain", "translate", "generate", "bench")

for _name in APPLICATIONS:
    import_module(f"{__name__}.{_name}")

__all__ = ["APPLICATIONS", "COMMANDS", "TASKS", "Command", "Task", "register_command", "register_task"]
