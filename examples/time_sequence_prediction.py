"""pytorch/examples' ``time_sequence_prediction``: two LSTMCells learn sine waves with L-BFGS.

torch (``time_sequence_prediction/train.py``)::

    class Sequence(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm1 = nn.LSTMCell(1, 51)
            self.lstm2 = nn.LSTMCell(51, 51)
            self.linear = nn.Linear(51, 1)

        def forward(self, input, future=0):
            outputs = []
            h_t = c_t = h_t2 = c_t2 = torch.zeros(input.size(0), 51, dtype=torch.double)
            for input_t in input.split(1, dim=1):
                h_t, c_t = self.lstm1(input_t, (h_t, c_t))
                h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
                output = self.linear(h_t2)
                outputs += [output]
            for i in range(future):  # feed the prediction back
                ...
            return torch.cat(outputs, dim=1)

    optimizer = optim.LBFGS(seq.parameters(), lr=0.8)
    for i in range(15):
        def closure():
            optimizer.zero_grad()
            loss = criterion(seq(input), target)
            loss.backward()
            return loss
        optimizer.step(closure)

In fnn the Python loops over time become ``lax.scan`` (one compiled step for the 999 time
steps), the closure is the loss function of the parameters, and ``optim.step`` runs
L-BFGS's up to 20 evaluations per step inside one jitted call. The data is the original's
``generate_sine_wave.py`` (100 sine waves of 1000 points, seed 2), computed in place.

Run: ``python examples/time_sequence_prediction.py`` (``--steps 15``, ``--out predict.png``).
"""

from __future__ import annotations

import argparse
import functools

import jax
import jax.numpy as jnp
import numpy as np

from fnn import losses, nn, optim


def generate_sine_wave(T: int = 20, L: int = 1000, N: int = 100) -> np.ndarray:
    """The original's ``generate_sine_wave.py``: ``N`` shifted sine waves of ``L`` points."""
    rs = np.random.RandomState(2)
    x = np.empty((N, L), "int64")
    x[:] = np.array(range(L)) + rs.randint(-4 * T, 4 * T, N).reshape(N, 1)
    return np.sin(x / 1.0 / T).astype("float64")


class Sequence(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm1 = nn.LSTMCell(1, 51)
        self.lstm2 = nn.LSTMCell(51, 51)
        self.linear = nn.Linear(51, 1)

    def forward(self, params, input, future: int = 0):
        zeros = jnp.zeros((input.shape[0], 51), input.dtype)

        def step(state, input_t):  # one time step: input_t (batch, 1)
            h_t, c_t, h_t2, c_t2 = state
            h_t, c_t = self.lstm1(params["lstm1"], input_t, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(params["lstm2"], h_t, (h_t2, c_t2))
            output = self.linear(params["linear"], h_t2)
            return (h_t, c_t, h_t2, c_t2), output

        state, outputs = jax.lax.scan(step, (zeros,) * 4, input.T[:, :, None])
        if future:  # if we should predict the future: feed each output back as the input
            def predict(carry, _):
                state, output = step(*carry)
                return (state, output), output

            _, more = jax.lax.scan(predict, (state, outputs[-1]), None, length=future)
            outputs = jnp.concatenate([outputs, more])
        return outputs[:, :, 0].T  # (batch, time), torch.cat(outputs, dim=1)


def save_plot(y: np.ndarray, n_input: int, future: int, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.figure(figsize=(30, 10))
    plt.title("Predict future values for time sequences\n(Dashlines are predicted values)",
              fontsize=30)
    plt.xlabel("x", fontsize=20)
    plt.ylabel("y", fontsize=20)
    for yi, color in zip(y, "rgb"):
        plt.plot(np.arange(n_input), yi[:n_input], color, linewidth=2.0)
        plt.plot(np.arange(n_input, n_input + future), yi[n_input:], color + ":", linewidth=2.0)
    plt.savefig(path)
    plt.close()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=15, help="L-BFGS steps to run")
    parser.add_argument("--length", type=int, default=1000, help="points per sine wave")
    parser.add_argument("--future", type=int, default=1000, help="points to predict")
    parser.add_argument("--out", default="predict.png", help="plot of the last step ('' for none)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    jax.config.update("jax_enable_x64", True)  # the original trains in float64

    data = jnp.asarray(generate_sine_wave(L=args.length))
    input, target = data[3:, :-1], data[3:, 1:]
    test_input, test_target = data[:3, :-1], data[:3, 1:]
    seq = Sequence()
    params = seq.init(jax.random.key(args.seed), jnp.float64)
    criterion = losses.mse_loss
    optimizer = optim.lbfgs(lr=0.8)
    state = optimizer.init(params)

    def closure(params):
        return criterion(seq(params, input), target)

    step = jax.jit(functools.partial(optim.step, optimizer, closure))
    predict = jax.jit(functools.partial(seq, future=args.future))
    history: dict[str, list[float]] = {"loss": [], "test_loss": []}
    y = None
    for i in range(args.steps):
        print("STEP: ", i)
        params, state, loss = step(params, state)
        pred = predict(params, test_input)  # begin to predict
        test_loss = criterion(pred[:, :-args.future] if args.future else pred, test_target)
        history["loss"].append(float(loss))
        history["test_loss"].append(float(test_loss))
        print("loss:", float(loss), " test loss:", float(test_loss))
        y = np.asarray(pred)
    if args.out and y is not None:
        save_plot(y, input.shape[1], args.future, args.out)
        print(f"prediction plot saved to {args.out}")
    return {"params": params, **history}


if __name__ == "__main__":
    main()
