"""``fnn.optim``: torch.optim as optax transformations, numerically identical to torch.

Lower-case factories take torch's arguments (minus ``params``) and return an
``optax.GradientTransformationExtraArgs``::

    opt = optim.adam(lr=1e-3)                    # torch.optim.Adam(model.parameters(), lr=1e-3)
    state = opt.init(params)
    updates, state = opt.update(grads, state, params)
    params = optim.apply_updates(params, updates)

or, for any optimizer (L-BFGS and AdaHessian included), torch's ``optimizer.step(closure)``::

    params, state, loss = optim.step(opt, loss_fn, params, state)
"""

from __future__ import annotations

from optax import apply_updates

from .._lazy import lazy_getattr
from ._engine import OptState, Rule, build
from .hyperparams import get_hyperparam, get_hyperparams, get_lr, set_hyperparam, set_lr

_TABLE = {
    # torch.optim
    "sgd": ".sgd", "adam": ".adam", "adamw": ".adamw", "adamax": ".adamax", "nadam": ".nadam",
    "radam": ".radam", "adagrad": ".adagrad", "adadelta": ".adadelta", "rmsprop": ".rmsprop",
    "rprop": ".rprop", "asgd": ".asgd", "adafactor": ".adafactor", "muon": ".muon",
    "sparse_adam": ".sparse_adam", "lbfgs": ".lbfgs",
    # the extended family (torchopt / torch-optimizer)
    "adabelief": ".adabelief", "adabound": ".adabound", "adahessian": ".adahessian",
    "madgrad": ".madgrad", "qhadam": ".qhadam", "swats": ".swats", "yogi": ".yogi",
    # closure-style stepping
    "step": ".step",
    # submodules
    "lr_scheduler": ".lr_scheduler", "swa_utils": ".swa_utils",
}
__getattr__, _dir = lazy_getattr(__name__, _TABLE)


def __dir__() -> list[str]:
    return sorted(set(_dir()) | set(__all__))


__all__ = ["apply_updates", "build", "Rule", "OptState", "get_lr", "set_lr", "get_hyperparam",
           "get_hyperparams", "set_hyperparam", *_TABLE]
