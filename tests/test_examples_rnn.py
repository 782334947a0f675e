"""The recurrent examples' first training steps equal the torch originals' (same weights)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from fnn.interop import torch as interop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

import time_sequence_prediction as ex_tsp  # noqa: E402
import word_language_model as ex_wlm  # noqa: E402


class TorchSequence(torch.nn.Module):
    """pytorch/examples time_sequence_prediction's model, as written there."""

    def __init__(self):
        super().__init__()
        self.lstm1 = torch.nn.LSTMCell(1, 51)
        self.lstm2 = torch.nn.LSTMCell(51, 51)
        self.linear = torch.nn.Linear(51, 1)

    def forward(self, input, future=0):
        outputs = []
        h_t = torch.zeros(input.size(0), 51, dtype=torch.double)
        c_t = torch.zeros(input.size(0), 51, dtype=torch.double)
        h_t2 = torch.zeros(input.size(0), 51, dtype=torch.double)
        c_t2 = torch.zeros(input.size(0), 51, dtype=torch.double)
        for input_t in input.split(1, dim=1):
            h_t, c_t = self.lstm1(input_t, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        for _ in range(future):
            h_t, c_t = self.lstm1(output, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        return torch.cat(outputs, dim=1)


@pytest.mark.slow
def test_time_sequence_prediction_matches_torch(tmp_path):
    steps, length, future = 2, 30, 10
    out = tmp_path / "predict.png"
    result = ex_tsp.main(["--steps", str(steps), "--length", str(length), "--future", str(future),
                          "--out", str(out)])
    assert out.exists()
    import jax

    seq = TorchSequence().double()
    params0 = ex_tsp.Sequence().init(jax.random.key(0), np.float64)
    seq.load_state_dict(interop.state_dict(params0))
    data = torch.from_numpy(ex_tsp.generate_sine_wave(L=length))
    input, target = data[3:, :-1], data[3:, 1:]
    test_input, test_target = data[:3, :-1], data[:3, 1:]
    criterion = torch.nn.MSELoss()
    optimizer = torch.optim.LBFGS(seq.parameters(), lr=0.8)
    losses, test_losses = [], []
    for _ in range(steps):
        def closure():
            optimizer.zero_grad()
            loss = criterion(seq(input), target)
            loss.backward()
            return loss
        losses.append(optimizer.step(closure).item())
        with torch.no_grad():
            pred = seq(test_input, future=future)
            test_losses.append(criterion(pred[:, :-future], test_target).item())
    np.testing.assert_allclose(result["loss"], losses, rtol=1e-9)
    np.testing.assert_allclose(result["test_loss"], test_losses, rtol=1e-7)
    assert result["loss"][1] < 0.1 * result["loss"][0]


class TorchRNNModel(torch.nn.Module):
    """pytorch/examples word_language_model's RNNModel, as written there (no tying)."""

    def __init__(self, rnn_type, ntoken, ninp, nhid, nlayers, dropout=0.5):
        super().__init__()
        self.ntoken = ntoken
        self.drop = torch.nn.Dropout(dropout)
        self.encoder = torch.nn.Embedding(ntoken, ninp)
        self.rnn = getattr(torch.nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = torch.nn.Linear(nhid, ntoken)

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        decoded = self.decoder(output).view(-1, self.ntoken)
        return torch.nn.functional.log_softmax(decoded, dim=1), hidden


def _torch_word_lm(rnn_type, params, corpus, steps, bsz=4, bptt=6, lr=20.0, clip=0.25):
    ntokens = len(corpus.dictionary)
    model = TorchRNNModel(rnn_type, ntokens, 8, 8, 2, dropout=0.0).double()
    model.load_state_dict(interop.state_dict(params))
    nbatch = corpus.train.shape[0] // bsz
    train_data = torch.from_numpy(corpus.train[:nbatch * bsz]).view(bsz, -1).t().contiguous()
    zeros = torch.zeros(2, bsz, 8, dtype=torch.float64)
    hidden = (zeros, zeros) if rnn_type == "LSTM" else zeros
    out = []
    for i in range(0, bptt * steps, bptt):
        data, targets = train_data[i:i + bptt], train_data[i + 1:i + 1 + bptt].reshape(-1)
        hidden = tuple(h.detach() for h in hidden) if isinstance(hidden, tuple) else hidden.detach()
        model.zero_grad()
        output, hidden = model(data, hidden)
        loss = torch.nn.functional.nll_loss(output, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-lr)
        out.append(loss.item())
    return out


@pytest.mark.slow
def test_word_language_model_matches_torch(capsys):
    steps = 4
    for rnn_type in ("LSTM", "GRU"):
        result = ex_wlm.main(["--model", rnn_type, "--epochs", "1", "--max-batches", str(steps),
                              "--emsize", "8", "--nhid", "8", "--batch_size", "4", "--bptt", "6",
                              "--dropout", "0", "--double", "--no-progress"])
        model = result["model"]
        import jax

        params0 = model.init(jax.random.key(1111), np.float64)
        corpus = ex_wlm.Corpus(ex_wlm.DATA)
        want = _torch_word_lm(rnn_type, params0, corpus, steps)
        np.testing.assert_allclose(result["step_loss"], want, rtol=1e-10)
        assert result["step_loss"][-1] < result["step_loss"][0]
    out = capsys.readouterr().out
    assert "valid ppl" in out and "test ppl" in out
