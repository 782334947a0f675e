"""Fleuret's MNIST CNN, unchanged, trained with fnn: on the UCI digits by default, or MNIST.

torch (Fleuret, "Deep learning" 5.3)::

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, kernel_size=5)
            self.conv2 = nn.Conv2d(32, 64, kernel_size=5)
            self.fc1 = nn.Linear(256, 200)
            self.fc2 = nn.Linear(200, 10)

        def forward(self, x):
            x = F.relu(F.max_pool2d(self.conv1(x), kernel_size=3))
            x = F.relu(F.max_pool2d(self.conv2(x), kernel_size=2))
            x = x.view(x.size(0), -1)
            x = F.relu(self.fc1(x))
            return self.fc2(x)

    optimizer = torch.optim.SGD(model.parameters(), lr=1e-1)   # batch 100, CrossEntropyLoss
    mu, std = train_input.mean(), train_input.std(); train_input.sub_(mu).div_(std)

The fnn model is the same class with ``params`` passed to ``forward``. The digits (1,797
8x8 images, shipped with scikit-learn, no download) are resized to 28x28 so that the net
runs unchanged; ``--mnist DIR`` trains on MNIST's IDX files instead (torchvision's
``MNIST/raw`` layout works). ``fnn.train.fit`` runs the epochs, one jitted, donating step
per batch dispatched asynchronously, with a progress bar; the loss curve is saved as a PNG.

Run: ``python examples/cnn.py`` (``--epochs N``, ``--mnist DIR``, ``--out loss_curve.png``).
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np

import fnn.nn.functional as F
from fnn import data, losses, nn, optim, train


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, kernel_size=5)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=5)
        self.fc1 = nn.Linear(256, 200)
        self.fc2 = nn.Linear(200, 10)

    def forward(self, params, x):
        x = F.relu(F.max_pool2d(self.conv1(params["conv1"], x), kernel_size=3))
        x = F.relu(F.max_pool2d(self.conv2(params["conv2"], x), kernel_size=2))
        x = x.reshape(x.shape[0], -1)
        x = F.relu(self.fc1(params["fc1"], x))
        return self.fc2(params["fc2"], x)


def load(mnist: str | None, seed: int = 0):
    """Normalised ``((x_train, y_train), (x_test, y_test))`` (train statistics, as Fleuret)."""
    if mnist:
        train_set, test_set = data.load_mnist(mnist, train=True), data.load_mnist(mnist, train=False)
    else:
        x, y = data.load_digits(size=28)
        train_set, test_set = data.train_test_split(x, y, test_fraction=0.2,
                                                    key=jax.random.key(seed))
    mu, std = data.mean_std(train_set[0])
    return ((data.normalize(train_set[0], mu, std), train_set[1]),
            (data.normalize(test_set[0], mu, std), test_set[1]))


def save_curve(history: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = np.arange(1, len(history["step_loss"]) + 1)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(steps, history["step_loss"], lw=0.8, label="training loss (per batch)")
    per_epoch = len(steps) // len(history["epoch"])
    ax.plot(np.asarray(history["epoch"]) * per_epoch, history["val_loss"], "o-",
            label="test loss")
    ax.set_xlabel("step")
    ax.set_ylabel("cross entropy")
    ax.set_yscale("log")
    ax.legend()
    ax.set_title(f"Fleuret's CNN, test accuracy {history['val_accuracy'][-1]:.2%}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs (default: 30 on the digits, 10 on MNIST as Fleuret)")
    parser.add_argument("--mnist", metavar="DIR", default=None,
                        help="train on MNIST's IDX files in DIR instead of the digits")
    parser.add_argument("--out", default="loss_curve.png", help="where to save the loss curve")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    epochs = args.epochs or (10 if args.mnist else 30)

    t0 = time.perf_counter()
    (x_train, y_train), (x_test, y_test) = load(args.mnist, args.seed)
    lr, batch_size = 1e-1, 100
    model = Net()
    params = jax.jit(model.init)(jax.random.key(args.seed))
    optimizer = optim.sgd(lr=lr)
    criterion = losses.cross_entropy
    state = train.init_state(params, optimizer, key=jax.random.key(args.seed + 1))
    state, history = train.fit(model, optimizer, state, (x_train, y_train), epochs=epochs,
                               batch_size=batch_size, loss=criterion,
                               eval_data=(x_test, y_test), progress=not args.no_progress)
    elapsed = time.perf_counter() - t0
    save_curve(history, args.out)
    acc = history["val_accuracy"][-1]
    print(f"test accuracy {acc:.2%} after {epochs} epochs ({len(x_train)} training images), "
          f"{elapsed:.1f} s including compilation; loss curve saved to {args.out}")
    return {"accuracy": acc, "seconds": elapsed, "history": history}


if __name__ == "__main__":
    main()
