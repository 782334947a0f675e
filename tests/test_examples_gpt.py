"""examples/char_gpt.py: the loss falls, and the first steps are torch's (same weights, same
batches, AdamW with weight-decay groups, clip_grad_norm_, warm-up + cosine schedule)."""

from __future__ import annotations

import fnmatch
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
import torch

from fnn.interop.torch import state_dict

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

import char_gpt  # noqa: E402

SMALL = ["--steps", "60", "--d-model", "32", "--heads", "2", "--layers", "2", "--block", "32",
         "--batch-size", "16", "--sample-every", "0", "--sample-len", "20", "--no-progress",
         "--dropout", "0", "--warmup", "5", "--lr", "1e-2"]


@pytest.mark.slow
def test_char_gpt_learns(capsys):
    out = char_gpt.main(SMALL)
    first, last = np.mean(out["losses"][:5]), np.mean(out["losses"][-5:])
    assert first > 2.5 and last < first - 0.8, (first, last)
    assert len(out["sample"]) == 16 + 20
    assert "trained 60 steps" in capsys.readouterr().out


class TorchGPT(torch.nn.Module):
    def __init__(self, vocab, block, d, h, n_layer):
        super().__init__()
        self.tok_emb = torch.nn.Embedding(vocab, d)
        self.pos_emb = torch.nn.Embedding(block, d)
        self.drop = torch.nn.Dropout(0.0)
        layer = torch.nn.TransformerEncoderLayer(d, h, 4 * d, 0.0, activation="gelu",
                                                 batch_first=True, norm_first=True)
        self.blocks = torch.nn.TransformerEncoder(layer, n_layer, enable_nested_tensor=False)
        self.ln_f = torch.nn.LayerNorm(d)
        self.head = torch.nn.Linear(d, vocab, bias=False)

    def forward(self, idx):
        T = idx.shape[1]
        x = self.drop(self.tok_emb(idx) + self.pos_emb(torch.arange(T)))
        mask = torch.nn.Transformer.generate_square_subsequent_mask(T)
        return self.head(self.ln_f(self.blocks(x, mask=mask, is_causal=True)))


# float64: torch's numbers to 1e-10; float32: both sides round differently at every op and
# AdamW's first steps (update ~ lr * sign(grad) for small gradients) amplify that
@pytest.mark.parametrize("dtype,loss_tol,param_tol", [
    (np.float64, dict(rtol=1e-10), dict(rtol=1e-9, atol=1e-12)),
    (np.float32, dict(rtol=2e-4), dict(rtol=2e-3, atol=2e-4))], ids=["float64", "float32"])
def test_first_steps_match_torch(dtype, loss_tol, param_tol):
    vocab, block, d, h, n_layer, steps, warmup, lr = 20, 16, 32, 2, 2, 4, 2, 1e-2
    model = char_gpt.GPT(vocab, block, d, h, n_layer, 0.0)
    params = jax.jit(lambda k: model.init(k, dtype=dtype))(jax.random.key(0))
    opt, sched = char_gpt.make_optimizer(lr, steps, warmup)
    opt_state = opt.init(params)
    sched_state, opt_state = sched.init(opt_state)
    step = char_gpt.make_step(model, opt, sched)

    tm = TorchGPT(vocab, block, d, h, n_layer).to(torch.float64 if dtype == np.float64
                                                  else torch.float32)
    tm.load_state_dict(state_dict(params))
    no_decay = [n for n, _ in tm.named_parameters()
                if any(fnmatch.fnmatchcase(n, g["params"]) for g in char_gpt.NO_DECAY)]
    named = dict(tm.named_parameters())
    topt = torch.optim.AdamW(
        [{"params": [p for n, p in named.items() if n not in no_decay], "weight_decay": 0.1},
         {"params": [named[n] for n in no_decay], "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.99))
    tsched = torch.optim.lr_scheduler.SequentialLR(topt, [
        torch.optim.lr_scheduler.LinearLR(topt, 0.01, total_iters=warmup),
        torch.optim.lr_scheduler.CosineAnnealingLR(topt, steps - warmup, eta_min=lr / 10)],
        [warmup])
    rng = np.random.default_rng(0)
    ids = rng.integers(0, vocab, 500).astype(np.int32)
    f_losses, t_losses = [], []
    for i in range(steps):
        x, y = char_gpt.batches(ids, block, 8, rng)
        params, opt_state, sched_state, loss = step(params, opt_state, sched_state, x, y,
                                                    jax.random.key(i))
        f_losses.append(float(loss))
        logits = tm(torch.tensor(x, dtype=torch.long))
        tl = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab),
                                               torch.tensor(y, dtype=torch.long).reshape(-1))
        topt.zero_grad()
        tl.backward()
        torch.nn.utils.clip_grad_norm_(tm.parameters(), 1.0)
        topt.step()
        tsched.step()
        t_losses.append(tl.item())
    np.testing.assert_allclose(f_losses, t_losses, **loss_tol)
    assert f_losses[-1] < f_losses[0]
    final = state_dict(params)
    for n, p in tm.named_parameters():
        assert final[n].dtype == p.dtype, n
        np.testing.assert_allclose(final[n].numpy(), p.detach().numpy(), **param_tol, err_msg=n)
