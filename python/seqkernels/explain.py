"""Explanations of a BERT classifier's prediction: per-token attributions and attention maps.

    from seqkernels import explain
    ex = explain.explain_text(model, tokenizer, "this coffee is wonderful")    # model: BertForSequenceClassification
    ex["tokens"], ex["gradient_x_input"], ex["integrated_gradients"], ex["attentions"]   # attentions (layers, heads, L, L)

- gradient x input: for the target class logit f, a_i = sum_d x_id df/dx_id over each token's word embedding
  x_i (the model adds the position and token-type embeddings) — Shrikumar et al. 2016.
- integrated gradients (Sundararajan et al. 2017): a_i = sum_d (x_id - x'_id) * mean_{s=1..m} df/dx_id at
  x' + ((s - 1/2) / m)(x - x'), the midpoint rule with m steps; the baseline x' is [PAD]'s word embedding at
  every position ([CLS] and [SEP] included), positions and token types unchanged.
  Completeness: sum_i a_i = f(x) - f(x') up to the quadrature error, which ``completeness_gap`` reports.
- attention maps: softmax(q k^T / sqrt(d) + mask) of every layer and head, as transformers'
  ``output_attentions=True``.
"""
from __future__ import annotations

from typing import Dict, List, Optional

import numpy as np

from .tensor import Tensor


def _word_embeddings(model, ids: np.ndarray) -> np.ndarray:
    """The word embeddings (N, L, H) of ``ids``: the input the attributions are taken over."""
    return model.bert.embeddings.word_embeddings.weight.data[ids].astype(np.float32)


def _logits_and_grads(model, embeds: np.ndarray, mask: np.ndarray, target: int):
    """Target-class logits (N,) for word embeddings (N, L, H) (positions and token types added by the model),
    and their gradient (N, L, H)."""
    x = Tensor(embeds, requires_grad=True)
    out = model.bert(np.zeros(embeds.shape[:2], np.int64), attention_mask=mask, inputs_embeds=x)
    logits = model.classifier(model.dropout(out.pooler_output))
    logits[:, target].sum().backward()
    return logits.data[:, target].copy(), x.grad.data if isinstance(x.grad, Tensor) else np.asarray(x.grad)


def gradient_x_input(model, ids: np.ndarray, target: int) -> np.ndarray:
    """(L,) attributions of one sequence ``ids`` (L,) to the ``target`` logit."""
    x = _word_embeddings(model, ids[None])
    _, grad = _logits_and_grads(model, x, np.ones_like(ids[None]), target)
    return (x * grad).sum(-1)[0]


def integrated_gradients(model, ids: np.ndarray, target: int, steps: int = 32, batch_size: int = 16):
    """-> (attributions (L,), f(x), f(baseline)) for one sequence ``ids`` (L,); see the module docstring."""
    if steps < 1:
        raise ValueError(f"integrated_gradients: steps must be >= 1, got {steps}")
    pad = model.config.pad_token_id
    x = _word_embeddings(model, ids[None])
    base = _word_embeddings(model, np.full_like(ids[None], pad))
    mask = np.ones((1, len(ids)), np.int64)
    alphas = (np.arange(steps, dtype=np.float32) + 0.5) / steps
    total = np.zeros_like(x[0])
    for s in range(0, steps, batch_size):
        a = alphas[s:s + batch_size, None, None]
        path = base + a * (x - base)
        _, grad = _logits_and_grads(model, path.astype(np.float32), np.repeat(mask, len(a), 0), target)
        total += grad.sum(0)
    f_x, _ = _logits_and_grads(model, x, mask, target)
    f_base, _ = _logits_and_grads(model, base, mask, target)
    return ((x[0] - base[0]) * total / steps).sum(-1), float(f_x[0]), float(f_base[0])


def completeness_gap(attributions: np.ndarray, f_x: float, f_base: float) -> float:
    """|sum of attributions - (f(x) - f(baseline))|: integrated gradients' quadrature error."""
    return abs(float(np.sum(attributions, dtype=np.float64)) - (f_x - f_base))


def attention_maps(model, ids: np.ndarray) -> np.ndarray:
    """(layers, heads, L, L) attention probabilities of one sequence."""
    from .autograd import no_grad

    with no_grad():
        out = model.bert(ids[None], attention_mask=np.ones((1, len(ids)), np.int64), output_attentions=True)
    return np.stack([a.data[0] for a in out.attentions])


def explain_text(model, tokenizer, text: str, target: Optional[int] = None, steps: int = 32,
                 max_length: int = 128) -> Dict:
    """Everything ``seqkernels explain`` shows for one text: tokens, the predicted (or given) class, its
    probability, both attributions, the completeness gap, and the attention maps."""
    from .autograd import no_grad

    model.eval()
    ids = np.asarray(tokenizer(text, truncation=True, max_length=max_length)["input_ids"], np.int64)
    with no_grad():
        logits = model(ids[None], attention_mask=np.ones((1, len(ids)), np.int64)).logits.data[0]
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    target = int(np.argmax(logits)) if target is None else int(target)
    ig, f_x, f_base = integrated_gradients(model, ids, target, steps)
    return {"tokens": tokenizer.convert_ids_to_tokens(ids.tolist()), "target": target,
            "probability": float(probs[target]), "gradient_x_input": gradient_x_input(model, ids, target),
            "integrated_gradients": ig, "logit": f_x, "baseline_logit": f_base,
            "completeness_gap": completeness_gap(ig, f_x, f_base), "attentions": attention_maps(model, ids)}


def save_heatmap(explanation: Dict, path: str, title: str = "") -> None:
    """A PNG: the tokens coloured by both attributions (rows), and the last layer's head-averaged attention."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tokens: List[str] = explanation["tokens"]
    rows = np.stack([explanation["gradient_x_input"], explanation["integrated_gradients"]])
    rows = rows / np.maximum(np.abs(rows).max(axis=1, keepdims=True), 1e-12)
    n = len(tokens)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(max(6, 0.45 * n + 2), 3 + 0.32 * n),
                                      gridspec_kw={"height_ratios": [1.2, max(3, 0.32 * n)]})
    top.imshow(rows, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    top.set_yticks([0, 1], ["grad x input", "integrated grad"])
    top.set_xticks(range(n), tokens, rotation=60, ha="right", fontsize=8)
    top.set_title(title or "attribution to the predicted class (red: for, blue: against; each row scaled)")
    att = explanation["attentions"][-1].mean(axis=0)
    bottom.imshow(att, cmap="viridis", aspect="auto")
    bottom.set_xticks(range(n), tokens, rotation=60, ha="right", fontsize=7)
    bottom.set_yticks(range(n), tokens, fontsize=7)
    bottom.set_title(f"last layer's attention, mean of {explanation['attentions'].shape[1]} heads (row: query)",
                     fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
