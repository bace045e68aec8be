"""PyTorch twins of the applications' models and training loops (the references of examples/*.py and the
README's results table): the same data split, encoders (vocabulary / WordPiece alignment from
seqkernels.apps), architecture, hyper-parameters, optimiser, schedule and epoch count, in torch and
transformers. Only the random initialisation differs (each framework's own generator)."""
from __future__ import annotations

import copy
import time

import numpy as np
import torch

from seqkernels.apps import ner
from seqkernels.apps.training import epoch_plan


class TorchCRF(torch.nn.Module):
    """Linear-chain CRF (pytorch-crf's parameters): batched forward algorithm and Viterbi in torch ops."""

    def __init__(self, num_tags):
        super().__init__()
        self.transitions = torch.nn.Parameter(torch.empty(num_tags, num_tags).uniform_(-0.1, 0.1))
        self.start_transitions = torch.nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
        self.end_transitions = torch.nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))

    def forward(self, e, tags, mask):  # mean NLL over sequences
        batch, steps, _ = e.shape
        idx = torch.arange(batch)
        score = self.start_transitions[tags[:, 0]] + e[idx, 0, tags[:, 0]]
        alpha = self.start_transitions + e[:, 0]
        for t in range(1, steps):
            m = mask[:, t]
            score = score + m * (self.transitions[tags[:, t - 1], tags[:, t]] + e[idx, t, tags[:, t]])
            nxt = torch.logsumexp(alpha[:, :, None] + self.transitions, dim=1) + e[:, t]
            alpha = torch.where(m[:, None].bool(), nxt, alpha)
        last = tags[idx, mask.sum(1).long() - 1]
        score = score + self.end_transitions[last]
        return (torch.logsumexp(alpha + self.end_transitions, dim=1) - score).mean()

    def decode(self, e, lengths):
        out = []
        for b in range(e.shape[0]):
            delta, back = self.start_transitions + e[b, 0], []
            for t in range(1, int(lengths[b])):
                v, i = (delta[:, None] + self.transitions).max(0)
                delta = v + e[b, t]
                back.append(i)
            best = [int((delta + self.end_transitions).argmax())]
            for i in reversed(back):
                best.append(int(i[best[-1]]))
            out.append(best[::-1])
        return out


class TorchBiLSTMCRF(torch.nn.Module):
    def __init__(self, vocab_size, embed_dim, hidden, num_tags, dropout):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab_size, embed_dim, padding_idx=ner.PAD)
        self.rnn = torch.nn.LSTM(embed_dim, hidden, batch_first=True, bidirectional=True)
        self.dropout = torch.nn.Dropout(dropout)
        self.fc = torch.nn.Linear(2 * hidden, num_tags)
        self.crf = TorchCRF(num_tags)

    def emissions(self, ids):
        lengths = (ids != ner.PAD).sum(1).clamp(min=1)
        packed = torch.nn.utils.rnn.pack_padded_sequence(self.embedding(ids), lengths, batch_first=True,
                                                         enforce_sorted=False)
        out, _ = self.rnn(packed)
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=ids.shape[1])
        return self.fc(self.dropout(out)), lengths

    def loss(self, ids, tags):
        e, lengths = self.emissions(ids)
        mask = (torch.arange(ids.shape[1])[None] < lengths[:, None]).float()
        return self.crf(e, tags.clamp(min=0), mask)

    def decode(self, ids):
        e, lengths = self.emissions(ids)
        return self.crf.decode(e, lengths)


def train_torch_tagger(data, model="bilstm-crf", epochs=None, batch_size=None, lr=None, embed_dim=100, hidden=100,
                       dropout=0.5, max_len=128, seed=0, log=print):
    """ner.train_tagger's loop in torch: -> {"val_f1", "test", "train_seconds", "epochs"}."""
    torch.manual_seed(seed)
    defaults = ner.DEFAULTS[model]
    epochs, batch_size, lr = epochs or defaults["epochs"], batch_size or defaults["batch_size"], lr or defaults["lr"]
    train_words, train_tags = data["train"]
    tags = ner.tag_set(train_tags)
    tag_ids = {t: i for i, t in enumerate(tags)}
    if model == "bilstm-crf":
        vocab = ner.build_vocab(train_words)
        net = TorchBiLSTMCRF(len(vocab), embed_dim, hidden, len(tags), dropout)
        arrays = ner.encode_words(train_words, vocab, tag_ids, train_tags)
        opt = torch.optim.Adam(net.parameters(), lr=lr)
    else:
        import transformers
        from seqkernels.models import BertTokenizer

        folder = ner.minilm_folder()
        tokenizer = BertTokenizer.from_pretrained(folder)
        net = transformers.BertForTokenClassification.from_pretrained(folder, num_labels=len(tags))
        arrays = ner.encode_pieces(tokenizer, train_words, tag_ids, train_tags, max_len)[:3]
        opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.01)
    plan = epoch_plan(len(train_words), batch_size, epochs, seed)
    total = epochs * len(plan[0])
    sched = torch.optim.lr_scheduler.LambdaLR(opt, (lambda s: 1.0) if model == "bilstm-crf"
                                              else (lambda s: max(0.0, 1.0 - s / total)))
    def tag(sentences):
        net.eval()
        out = []
        with torch.no_grad():
            for i in range(0, len(sentences), 64):
                chunk = sentences[i:i + 64]
                if model == "bilstm-crf":
                    ids, _ = ner.encode_words(chunk, vocab)
                    out += [[tags[k] for k in row] for row in net.decode(torch.from_numpy(ids))]
                    continue
                ids, mask, _, firsts = ner.encode_pieces(tokenizer, chunk, max_len=max_len)
                best = net(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).logits.argmax(-1)
                out += [[tags[best[n, p]] if p >= 0 else "O" for p in first] for n, first in enumerate(firsts)]
        return out

    best_f1, best_state, seconds = -1.0, None, 0.0
    for epoch in range(epochs):
        net.train()
        start = time.perf_counter()
        for b in plan[epoch]:
            batch = [a[b] for a in arrays]
            keep = max(1, int((batch[0] != ner.PAD).sum(1).max())) if model == "bilstm-crf" else int(batch[1].sum(1).max())
            batch = [torch.from_numpy(a[:, :keep]).contiguous() for a in batch]  # transformers .view()s the labels
            if model == "bilstm-crf":
                loss = net.loss(*batch)
            else:
                loss = net(input_ids=batch[0], attention_mask=batch[1], labels=batch[2]).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        seconds += time.perf_counter() - start
        val = ner.entity_report([ner._known(t, tags) for t in data["val"][1]], tag(data["val"][0]))
        f1 = val["micro avg"]["f1-score"]
        log(f"[torch] epoch {epoch + 1}/{epochs}: validation micro-F1 {f1:.4f} ({seconds:.1f} s training so far)")
        if f1 > best_f1:
            best_f1, best_state = f1, copy.deepcopy(net.state_dict())
    net.load_state_dict(best_state)
    test = ner.entity_report([ner._known(t, tags) for t in data["test"][1]], tag(data["test"][0]))
    return {"val_f1": best_f1, "test": test, "train_seconds": seconds, "epochs": epochs}


class TorchTextCNN(torch.nn.Module):
    def __init__(self, vocab_size, embed_dim=128, num_filters=100, kernel_sizes=(3, 4, 5), dropout=0.5):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.convs = torch.nn.ModuleList([torch.nn.Conv1d(embed_dim, num_filters, k) for k in kernel_sizes])
        self.dropout = torch.nn.Dropout(dropout)
        self.fc = torch.nn.Linear(num_filters * len(kernel_sizes), 2)

    def forward(self, ids):
        x = self.embedding(ids).transpose(1, 2)
        return self.fc(self.dropout(torch.cat([c(x).relu().amax(dim=2) for c in self.convs], dim=1)))


class TorchBiLSTMClassifier(torch.nn.Module):
    def __init__(self, vocab_size, embed_dim=128, hidden=64):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.rnn = torch.nn.LSTM(embed_dim, hidden, batch_first=True, bidirectional=True)
        self.fc = torch.nn.Linear(2 * hidden, 2)

    def forward(self, ids):
        lengths = (ids != 0).sum(1).clamp(min=1)
        packed = torch.nn.utils.rnn.pack_padded_sequence(self.embedding(ids), lengths, batch_first=True,
                                                         enforce_sorted=False)
        _, (h, _) = self.rnn(packed)
        return self.fc(torch.cat([h[-2], h[-1]], dim=1))


def train_torch_sentiment(model, seed=0, epochs=None, data=None, log=print):
    """sentiment.train_sentiment in torch / transformers: -> {"test", "train_seconds", "hyper"}."""
    from seqkernels.apps import sentiment as S
    torch.manual_seed(seed)
    hyper = dict(S.HYPER[model], **({"epochs": epochs} if epochs else {}))
    texts, labels, test_texts, test_labels = data or S.load_data()
    y = torch.tensor([S.CLASSES.index(s) for s in labels])
    encoder = S.Encoder(model, texts)
    x = encoder(texts)
    if model == "textcnn":
        net = TorchTextCNN(encoder.vocab_size())
    elif model == "bilstm":
        net = TorchBiLSTMClassifier(encoder.vocab_size())
    else:
        import transformers
        net = transformers.BertForSequenceClassification.from_pretrained(encoder.folder, num_labels=2)
    opt = (torch.optim.AdamW(net.parameters(), lr=hyper["lr"], weight_decay=0.01) if model == "minilm"
           else torch.optim.Adam(net.parameters(), lr=hyper["lr"]))
    plan = epoch_plan(len(texts), hyper["batch_size"], hyper["epochs"], seed)
    total = sum(map(len, plan))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, (lambda s: max(0.0, 1.0 - s / total)) if model == "minilm"
                                              else (lambda s: 1.0))

    def logits(inputs):
        inputs = [torch.from_numpy(a) for a in S.trim(inputs)]
        out = net(input_ids=inputs[0], attention_mask=inputs[1]).logits if model == "minilm" else net(inputs[0])
        return out

    seconds = 0.0
    for epoch, epoch_batches in enumerate(plan):
        net.train()
        start = time.perf_counter()
        for idx in epoch_batches:
            loss = torch.nn.functional.cross_entropy(logits([a[idx] for a in x]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        seconds += time.perf_counter() - start
        log(f"[torch] epoch {epoch + 1}/{hyper['epochs']}: last loss {loss.item():.4f} ({seconds:.1f} s training)")
    net.eval()
    with torch.no_grad():
        predicted = np.concatenate([logits(encoder(test_texts[s:s + 64])).argmax(-1).numpy()
                                    for s in range(0, len(test_texts), 64)])
    y_test = np.array([S.CLASSES.index(s) for s in test_labels])
    return {"test": S.scores(y_test, predicted), "train_seconds": seconds, "hyper": hyper}


def torch_sentence_encoder(folder):
    """transformers BertModel + mean pooling with the mask + L2 normalisation (the sentence-transformers
    definition of all-MiniLM-L6-v2), with the seqkernels tokenizer: -> (model, encode(texts), embed(ids, mask))."""
    import transformers
    from seqkernels.models import BertTokenizer

    tokenizer = BertTokenizer.from_pretrained(folder)
    bert = transformers.BertModel.from_pretrained(folder)

    def embed(texts, max_len):
        batch = tokenizer(list(texts), padding=True, truncation=True, max_length=max_len, return_tensors="np")
        ids, mask = (torch.from_numpy(batch[k].astype(np.int64)) for k in ("input_ids", "attention_mask"))
        h = bert(input_ids=ids, attention_mask=mask).last_hidden_state
        m = mask[..., None].float()
        return torch.nn.functional.normalize((h * m).sum(1) / m.sum(1).clamp(min=1e-9), dim=1)

    def encode(texts, batch_size=32, max_len=256):
        bert.eval()
        with torch.no_grad():
            return np.concatenate([embed(texts[i:i + batch_size], max_len).numpy()
                                   for i in range(0, len(texts), batch_size)])

    return bert, encode, embed


def torch_fine_tune(bert, embed, train_pairs, seed=0, log=print):
    """qa.fine_tune in torch: in-batch negatives, the same batches, AdamW and linear decay. -> seconds."""
    from seqkernels.apps import qa

    torch.manual_seed(seed)
    h = qa.HYPER
    opt = torch.optim.AdamW(bert.parameters(), lr=h["lr"], weight_decay=0.01)
    plan = epoch_plan(len(train_pairs), h["batch_size"], h["epochs"], seed)
    total = sum(map(len, plan))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, 1.0 - s / total))
    bert.train()
    seconds = 0.0
    for epoch, batches in enumerate(plan):
        start = time.perf_counter()
        for idx in batches:
            q = embed([train_pairs[i][0] for i in idx], h["max_len"])
            a = embed([train_pairs[i][1] for i in idx], h["max_len"])
            loss = torch.nn.functional.cross_entropy(q @ a.T * h["scale"], torch.arange(len(idx)))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        seconds += time.perf_counter() - start
        log(f"[torch] epoch {epoch + 1}/{h['epochs']}: last loss {loss.item():.4f} ({seconds:.1f} s training)")
    bert.eval()
    return seconds
