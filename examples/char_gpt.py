"""A small character-level GPT, trained with fnn as one would in torch.

The model is minGPT's shape (Radford et al. 2018, *Improving Language Understanding by
Generative Pre-Training*): token + learned position embeddings, pre-norm Transformer blocks
with causal self-attention (``nn.TransformerEncoder`` of ``norm_first`` layers: one compiled
layer under ``lax.scan``), a final LayerNorm and a linear head. The torch script it ports::

    model = GPT(...)                                     # the same modules, torch.nn
    decay = [p for n, p in model.named_parameters() if n.endswith("weight") and "norm" not in n ...]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}], lr=3e-3, betas=(0.9, 0.99))
    sched = SequentialLR(opt, [LinearLR(opt, 0.01, total_iters=warmup),
                               CosineAnnealingLR(opt, T_max=steps - warmup)], [warmup])
    for step in range(steps):
        loss = F.cross_entropy(model(x).view(-1, V), y.view(-1))
        opt.zero_grad(); loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step(); sched.step()

In fnn the step (forward, backward, clipping, AdamW, scheduler) is one jitted function.
The text is the public-domain corpus shipped for ``examples/word_language_model.py``
(``examples/data/word_language_model/train.txt``) when present, else a short passage kept
in this file. Samples are printed during training.

Run: ``python examples/char_gpt.py`` (about a minute on 2 CPU cores; ``--help`` for sizes).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from fnn import losses, nn, optim
from fnn.nn.utils import clip_grad_norm
from fnn.optim import lr_scheduler

DATA = Path(__file__).resolve().parent / "data" / "word_language_model" / "train.txt"
FALLBACK = """four score and seven years ago our fathers brought forth on this continent a new
nation, conceived in liberty, and dedicated to the proposition that all men are created equal.
now we are engaged in a great civil war, testing whether that nation, or any nation so
conceived and so dedicated, can long endure. we are met on a great battle-field of that war.
we have come to dedicate a portion of that field, as a final resting place for those who here
gave their lives that that nation might live. it is altogether fitting and proper that we
should do this. but, in a larger sense, we can not dedicate, we can not consecrate, we can not
hallow this ground. the brave men, living and dead, who struggled here, have consecrated it,
far above our poor power to add or detract. the world will little note, nor long remember what
we say here, but it can never forget what they did here. it is for us the living, rather, to be
dedicated here to the unfinished work which they who fought here have thus far so nobly
advanced. it is rather for us to be here dedicated to the great task remaining before us, that
from these honored dead we take increased devotion to that cause for which they gave the last
full measure of devotion, that we here highly resolve that these dead shall not have died in
vain, that this nation, under god, shall have a new birth of freedom, and that government of
the people, by the people, for the people, shall not perish from the earth.
"""


class GPT(nn.Module):
    """Embeddings, ``n_layer`` pre-norm blocks (causal self-attention + GELU MLP), LayerNorm,
    head. ``forward(params, idx)``: logits ``(B, T, vocab)`` for token ids ``(B, T)``."""

    def __init__(self, vocab: int, block: int, d_model: int = 64, n_head: int = 4,
                 n_layer: int = 2, dropout: float = 0.0):
        self.block = block
        self.tok_emb = nn.Embedding(vocab, d_model)
        self.pos_emb = nn.Embedding(block, d_model)
        self.drop = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(d_model, n_head, 4 * d_model, dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, n_layer)
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab, bias=False)

    def init(self, key, *example, dtype=None):
        """GPT-2's initialisation: every matrix N(0, 0.02), biases zero, norms one (so the
        layers also differ, unlike the copies ``TransformerEncoder`` starts from)."""
        params = super().init(key, *example, dtype=dtype)
        leaves, treedef = jax.tree.flatten(params)
        keys = jax.random.split(key, len(leaves))
        leaves = [0.02 * jax.random.normal(k, a.shape, a.dtype) if a.ndim == 2 else a
                  for k, a in zip(keys, leaves)]
        return jax.tree.unflatten(treedef, leaves)

    def forward(self, params, idx):
        T = idx.shape[1]
        x = self.tok_emb(params["tok_emb"], idx) + self.pos_emb(params["pos_emb"], jnp.arange(T))
        x = self.drop({}, x)
        mask = nn.Transformer.generate_square_subsequent_mask(T, x.dtype)
        x = self.blocks(params["blocks"], x, mask=mask, is_causal=True)
        return self.head(params["head"], self.ln_f(params["ln_f"], x))


# no weight decay for biases, norms and embeddings (minGPT's groups; first match wins)
NO_DECAY = [{"params": p, "weight_decay": 0.0}
            for p in ("*bias", "*norm*", "ln_f.*", "tok_emb.*", "pos_emb.*")]


def make_optimizer(lr: float, steps: int, warmup: int):
    """AdamW with weight-decay groups and a linear warm-up followed by a cosine decay."""
    opt = optim.adamw(lr=lr, betas=(0.9, 0.99), weight_decay=0.1, param_groups=NO_DECAY)
    sched = lr_scheduler.SequentialLR(
        [lr_scheduler.LinearLR(0.01, total_iters=warmup),
         lr_scheduler.CosineAnnealingLR(max(steps - warmup, 1), eta_min=lr / 10)],
        milestones=[warmup])
    return opt, sched


def make_step(model: GPT, opt, sched, clip: float = 1.0):
    """One jitted training step: ``(params, opt_state, sched_state, x, y, key) -> (..., loss)``."""

    def loss_fn(params, x, y, key):
        logits = model(params, x, train=True, key=key)
        return losses.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))

    @jax.jit
    def step(params, opt_state, sched_state, x, y, key):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y, key)
        grads, _ = clip_grad_norm(grads, clip)
        updates, opt_state = opt.update(grads, opt_state, params)
        params = optim.apply_updates(params, updates)
        sched_state, opt_state = sched.step(sched_state, opt_state)
        return params, opt_state, sched_state, loss

    return step


def make_sampler(model: GPT, length: int, temperature: float = 0.8):
    """Sample ``length`` tokens after a prompt, sliding a ``block``-long window."""
    block = model.block

    @jax.jit
    def sample(params, buf, n, key):
        # buf: (block,) ids, the first n of them the prompt
        def body(i, carry):
            buf, n, out, key = carry
            key, sub = jax.random.split(key)
            logits = model(params, buf[None])[0, n - 1] / temperature
            tok = jax.random.categorical(sub, logits)
            full = n >= block
            buf = jnp.where(full, jnp.roll(buf, -1).at[-1].set(tok),
                            buf.at[jnp.minimum(n, block - 1)].set(tok))
            return buf, jnp.minimum(n + 1, block), out.at[i].set(tok), key

        out = jnp.zeros((length,), buf.dtype)
        return jax.lax.fori_loop(0, length, body, (buf, n, out, key))[2]

    return sample


def load_text(path: str | None = None) -> str:
    p = Path(path) if path else DATA
    return p.read_text() if p.exists() else FALLBACK


def batches(ids: np.ndarray, block: int, batch: int, rng: np.random.Generator):
    """Random windows: ``x = ids[i:i+block]``, ``y = ids[i+1:i+block+1]``."""
    start = rng.integers(0, len(ids) - block - 1, batch)
    x = np.stack([ids[s:s + block] for s in start])
    y = np.stack([ids[s + 1:s + block + 1] for s in start])
    return x, y


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--block", type=int, default=64)
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--sample-every", type=int, default=200)
    parser.add_argument("--sample-len", type=int, default=200)
    parser.add_argument("--data", default=None, help="a text file (default: the shipped corpus)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    text = load_text(args.data)
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    ids = np.array([stoi[c] for c in text], np.int32)
    print(f"{len(text):,} characters, vocabulary {len(chars)}")

    model = GPT(len(chars), args.block, args.d_model, args.heads, args.layers, args.dropout)
    key = jax.random.key(args.seed)
    params = model.init(key)
    print(f"{nn.num_parameters(params):,} parameters")
    opt, sched = make_optimizer(args.lr, args.steps, args.warmup)
    opt_state = opt.init(params)
    sched_state, opt_state = sched.init(opt_state)
    step = make_step(model, opt, sched)
    sample = make_sampler(model, args.sample_len)
    rng = np.random.default_rng(args.seed)
    skey = jax.random.key(args.seed + 1)

    def show(params, key):
        prompt = np.array([stoi[c] for c in text[:16]], np.int32)
        buf = np.zeros(args.block, np.int32)
        buf[:len(prompt)] = prompt
        out = sample(params, jnp.asarray(buf), len(prompt), key)
        return text[:16] + "".join(chars[i] for i in np.asarray(out))

    from tqdm.auto import tqdm

    loss_history = []
    t0 = time.perf_counter()
    bar = tqdm(range(args.steps), disable=args.no_progress, desc="char-gpt")
    for i in bar:
        x, y = batches(ids, args.block, args.batch_size, rng)
        params, opt_state, sched_state, loss = step(params, opt_state, sched_state, x, y,
                                                    jax.random.fold_in(key, i))
        loss_history.append(float(loss))
        if i % 10 == 0:
            bar.set_postfix(loss=f"{np.mean(loss_history[-10:]):.3f}")
        if args.sample_every and (i + 1) % args.sample_every == 0:
            tqdm.write(f"\n--- step {i + 1}, loss {np.mean(loss_history[-20:]):.3f}\n"
                       f"{show(params, jax.random.fold_in(skey, i))}\n")
    print(f"trained {args.steps} steps in {time.perf_counter() - t0:.1f} s; loss "
          f"{np.mean(loss_history[:10]):.3f} -> {np.mean(loss_history[-10:]):.3f}")
    return {"params": params, "losses": loss_history, "model": model, "chars": chars,
            "sample": show(params, jax.random.key(1)) if args.sample_len else ""}


if __name__ == "__main__":
    main()
