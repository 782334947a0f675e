"""pytorch/examples' ``word_language_model``: an LSTM (or GRU, RNN) language model in fnn.

torch (``word_language_model/model.py`` and ``main.py``)::

    class RNNModel(nn.Module):
        def __init__(self, rnn_type, ntoken, ninp, nhid, nlayers, dropout=0.5, tie_weights=False):
            self.drop = nn.Dropout(dropout)
            self.encoder = nn.Embedding(ntoken, ninp)
            self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
            self.decoder = nn.Linear(nhid, ntoken)

        def forward(self, input, hidden):
            emb = self.drop(self.encoder(input))
            output, hidden = self.rnn(emb, hidden)
            decoded = self.decoder(self.drop(output)).view(-1, self.ntoken)
            return F.log_softmax(decoded, dim=1), hidden

    hidden = model.init_hidden(args.batch_size)
    for batch, i in enumerate(range(0, train_data.size(0) - 1, args.bptt)):
        data, targets = get_batch(train_data, i)
        hidden = repackage_hidden(hidden)            # truncated BPTT: detach the state
        model.zero_grad()
        output, hidden = model(data, hidden)
        loss = criterion(output, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-lr)

In fnn the hidden state is carried between batches as a value, ``repackage_hidden`` is
``jax.lax.stop_gradient``, ``clip_grad_norm_`` is :func:`fnn.nn.utils.clip_grad_norm`
(returning the clipped gradients) and the whole step is one jitted function. Validation
perplexity is printed after each epoch, with the original's learning-rate annealing
(``lr /= 4`` when validation does not improve). The default corpus is a small public-domain
text shipped in ``examples/data/word_language_model`` (no download); ``--data DIR`` takes
any directory with ``train.txt``, ``valid.txt`` and ``test.txt`` (wikitext-2's layout).

Run: ``python examples/word_language_model.py`` (``--model GRU``, ``--epochs 6``, ...).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import fnn.nn.functional as F
from fnn import losses, nn

DATA = Path(__file__).resolve().parent / "data" / "word_language_model"


# ---------------------------------------------------------------------- data (data.py)
class Dictionary:
    def __init__(self):
        self.word2idx: dict[str, int] = {}
        self.idx2word: list[str] = []

    def add_word(self, word: str) -> int:
        if word not in self.word2idx:
            self.idx2word.append(word)
            self.word2idx[word] = len(self.idx2word) - 1
        return self.word2idx[word]

    def __len__(self) -> int:
        return len(self.idx2word)


class Corpus:
    def __init__(self, path: str | Path):
        self.dictionary = Dictionary()
        self.train = self.tokenize(Path(path) / "train.txt")
        self.valid = self.tokenize(Path(path) / "valid.txt")
        self.test = self.tokenize(Path(path) / "test.txt")

    def tokenize(self, path: Path) -> np.ndarray:
        """Word ids of a text file, ``<eos>`` after every line."""
        if not path.exists():
            raise FileNotFoundError(f"corpus file {path} does not exist")
        ids = []
        with open(path, encoding="utf8") as f:
            for line in f:
                ids.extend(self.dictionary.add_word(w) for w in line.split() + ["<eos>"])
        return np.asarray(ids, np.int64)


def batchify(data: np.ndarray, bsz: int) -> jax.Array:
    """``(nbatch, bsz)``: the token stream cut into ``bsz`` columns (remainder dropped)."""
    nbatch = data.shape[0] // bsz
    return jnp.asarray(data[:nbatch * bsz].reshape(bsz, -1).T)


def get_batch(source: jax.Array, i: int, bptt: int) -> tuple[jax.Array, jax.Array]:
    seq_len = min(bptt, len(source) - 1 - i)
    return source[i:i + seq_len], source[i + 1:i + 1 + seq_len].reshape(-1)


# ---------------------------------------------------------------------- model (model.py)
class RNNModel(nn.Module):
    """Container module with an encoder, a recurrent module, and a decoder."""

    def __init__(self, rnn_type, ntoken, ninp, nhid, nlayers, dropout=0.5, tie_weights=False):
        super().__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        if rnn_type in ["LSTM", "GRU"]:
            self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
        else:
            try:
                nonlinearity = {"RNN_TANH": "tanh", "RNN_RELU": "relu"}[rnn_type]
            except KeyError as e:
                raise ValueError("An invalid option for `--model` was supplied, options are "
                                 "['LSTM', 'GRU', 'RNN_TANH' or 'RNN_RELU']") from e
            self.rnn = nn.RNN(ninp, nhid, nlayers, nonlinearity=nonlinearity, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        if tie_weights and nhid != ninp:
            raise ValueError("When using the tied flag, nhid must be equal to emsize")
        self.tie_weights = tie_weights
        self.rnn_type, self.nhid, self.nlayers = rnn_type, nhid, nlayers

    def init(self, key, *example, dtype=None):
        """torch's init plus ``init_weights``: embedding and decoder U(-0.1, 0.1), bias 0."""
        params = super().init(key, *example, dtype=dtype)
        dtype = params["encoder"]["weight"].dtype
        k_enc, k_dec = jax.random.split(jax.random.fold_in(key, 1))
        initrange = 0.1
        params["encoder"]["weight"] = jax.random.uniform(
            k_enc, params["encoder"]["weight"].shape, dtype, -initrange, initrange)
        params["decoder"]["bias"] = jnp.zeros_like(params["decoder"]["bias"])
        params["decoder"]["weight"] = jax.random.uniform(
            k_dec, params["decoder"]["weight"].shape, dtype, -initrange, initrange)
        if self.tie_weights:  # one array: the decoder reads the encoder's weight
            del params["decoder"]["weight"]
        return params

    def forward(self, params, input, hidden):
        emb = self.drop(None, self.encoder(params["encoder"], input))
        output, hidden = self.rnn(params["rnn"], emb, hidden)
        output = self.drop(None, output)
        dec = params["decoder"]
        if self.tie_weights:
            dec = {"weight": params["encoder"]["weight"], "bias": dec["bias"]}
        decoded = self.decoder(dec, output).reshape(-1, self.ntoken)
        return F.log_softmax(decoded, dim=1), hidden

    def init_hidden(self, bsz, dtype=jnp.float32):
        zeros = jnp.zeros((self.nlayers, bsz, self.nhid), dtype)
        return (zeros, zeros) if self.rnn_type == "LSTM" else zeros


# ---------------------------------------------------------------------- training (main.py)
def make_steps(model: RNNModel, clip: float):
    criterion = losses.nll_loss

    @jax.jit
    def train_step(params, hidden, data, targets, key, lr):
        # Starting each batch, we detach the hidden state from how it was previously produced
        # (torch's repackage_hidden); otherwise we would backpropagate to the start of the data.
        hidden = jax.lax.stop_gradient(hidden)

        def loss_fn(p):
            output, new_hidden = model(p, data, hidden, train=True, key=key)
            return criterion(output, targets), new_hidden

        (loss, hidden), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        # `clip_grad_norm` helps prevent the exploding gradient problem in RNNs / LSTMs.
        grads, _ = nn.utils.clip_grad_norm(grads, clip)
        params = jax.tree.map(lambda p, g: p - lr * g, params, grads)
        return params, hidden, loss

    @jax.jit
    def eval_step(params, hidden, data, targets):
        output, hidden = model(params, data, hidden)
        return criterion(output, targets), hidden

    return train_step, eval_step


def evaluate(eval_step, model, params, data_source, bptt, bsz, dtype) -> float:
    total_loss = 0.0
    hidden = model.init_hidden(bsz, dtype)
    for i in range(0, data_source.shape[0] - 1, bptt):
        data, targets = get_batch(data_source, i, bptt)
        loss, hidden = eval_step(params, hidden, data, targets)
        total_loss += len(data) * float(loss)
    return total_loss / (len(data_source) - 1)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=str(DATA), help="directory of train/valid/test.txt")
    p.add_argument("--model", default="LSTM", help="RNN_TANH, RNN_RELU, LSTM or GRU")
    p.add_argument("--emsize", type=int, default=200, help="size of word embeddings")
    p.add_argument("--nhid", type=int, default=200, help="hidden units per layer")
    p.add_argument("--nlayers", type=int, default=2, help="number of layers")
    p.add_argument("--lr", type=float, default=20, help="initial learning rate")
    p.add_argument("--clip", type=float, default=0.25, help="gradient clipping")
    p.add_argument("--epochs", type=int, default=6, help="upper epoch limit")
    p.add_argument("--batch_size", type=int, default=20, help="batch size")
    p.add_argument("--bptt", type=int, default=35, help="sequence length")
    p.add_argument("--dropout", type=float, default=0.2, help="dropout (0 = no dropout)")
    p.add_argument("--tied", action="store_true", help="tie the embedding and softmax weights")
    p.add_argument("--seed", type=int, default=1111, help="random seed")
    p.add_argument("--max-batches", type=int, default=None, help="stop each epoch early")
    p.add_argument("--double", action="store_true", help="train in float64")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> dict:
    args = _parser().parse_args(argv)
    dtype = jnp.float64 if args.double else jnp.float32
    if args.double:
        jax.config.update("jax_enable_x64", True)
    corpus = Corpus(args.data)
    eval_batch_size = 10
    train_data = batchify(corpus.train, args.batch_size)
    val_data = batchify(corpus.valid, eval_batch_size)
    test_data = batchify(corpus.test, eval_batch_size)
    ntokens = len(corpus.dictionary)
    print(f"vocab size ({ntokens}), {len(corpus.train)} training tokens")

    model = RNNModel(args.model, ntokens, args.emsize, args.nhid, args.nlayers, args.dropout,
                     args.tied)
    key = jax.random.key(args.seed)
    params = model.init(key, dtype)
    train_step, eval_step = make_steps(model, args.clip)
    lr, best_val_loss, best_params = args.lr, None, params
    history: dict[str, list[float]] = {"step_loss": [], "val_loss": []}
    starts = list(range(0, train_data.shape[0] - 1, args.bptt))[:args.max_batches]
    for epoch in range(1, args.epochs + 1):
        epoch_start_time = time.time()
        hidden = model.init_hidden(args.batch_size, dtype)
        bar = starts if args.no_progress else _progress(starts, epoch)
        for batch, i in enumerate(bar):
            data, targets = get_batch(train_data, i, args.bptt)
            step_key = jax.random.fold_in(key, epoch * 100_000 + batch)
            params, hidden, loss = train_step(params, hidden, data, targets, step_key, lr)
            history["step_loss"].append(float(loss))
            if not args.no_progress:
                bar.set_postfix(loss=f"{float(loss):5.2f}", ppl=f"{math.exp(float(loss)):8.2f}")
        val_loss = evaluate(eval_step, model, params, val_data, args.bptt, eval_batch_size, dtype)
        history["val_loss"].append(val_loss)
        print("-" * 89)
        print(f"| end of epoch {epoch:3d} | time: {time.time() - epoch_start_time:5.2f}s | "
              f"valid loss {val_loss:5.2f} | valid ppl {math.exp(val_loss):8.2f}")
        print("-" * 89)
        if best_val_loss is None or val_loss < best_val_loss:
            best_val_loss, best_params = val_loss, params
        else:  # anneal the learning rate if no improvement has been seen on validation
            lr /= 4.0
    test_loss = evaluate(eval_step, model, best_params, test_data, args.bptt, eval_batch_size, dtype)
    print("=" * 89)
    print(f"| End of training | test loss {test_loss:5.2f} | test ppl {math.exp(test_loss):8.2f}")
    print("=" * 89)
    return {"params": best_params, "test_loss": test_loss, "model": model, **history}


def _progress(starts, epoch):
    from tqdm.auto import tqdm

    return tqdm(starts, desc=f"epoch {epoch}", unit="batch", leave=False)


if __name__ == "__main__":
    main()
