"""``fnn.optim``: torch.optim as optax transformations, numerically identical to torch.

Lower-case factories take torch's arguments (minus ``params``) and return an
``optax.GradientTransformationExtraArgs``::

    opt = optim.adam(lr=1e-3)                    # torch.optim.Adam(model.parameters(), lr=1e-3)
    state = opt.init(params)
    updates, state = opt.update(grads, state, params)
    params = optim.apply_updates(params, updates)

or, for any optimizer (L-BFGS and AdaHessian included), torch's ``optimizer.step(closure)``::

    params, state, loss = optim.step(opt, loss_fn, params, state)

``optim.nonfinite_guard(opt)`` wraps any of them so that a step with NaN/Inf gradients or
loss is skipped and counted (torch's ``GradScaler`` behaviour) or raises
(``policy="raise"``); see :mod:`fnn.optim.nonfinite`. ``optim.describe(opt)`` says what an
optimizer is (torch's class name, its groups, how torch stores its state: an
:class:`OptimizerSpec`); ``optim.set_scalar_dtype`` is ``torch.set_default_dtype`` for the
scalar state torch keeps in its default dtype.
"""

from __future__ import annotations

from optax import apply_updates

from . import lr_scheduler, swa_utils
from ._engine import OptState, Rule, build, scalar_dtype, set_scalar_dtype
from .adabelief import adabelief
from .adabound import adabound
from .adadelta import adadelta
from .adafactor import adafactor
from .adagrad import adagrad
from .adahessian import adahessian
from .adam import adam
from .adamax import adamax
from .adamw import adamw
from .asgd import asgd, asgd_averaged
from .hyperparams import get_hyperparam, get_hyperparams, get_lr, set_hyperparam, set_lr
from .lbfgs import lbfgs
from .madgrad import madgrad
from .muon import muon
from .nadam import nadam
from .nonfinite import NonFiniteState, check_finite, nonfinite_guard, nonfinite_stats
from .qhadam import qhadam
from .radam import radam
from .rmsprop import rmsprop
from .rprop import rprop
from .sgd import sgd
from .sparse_adam import sparse_adam
from .spec import OptimizerSpec, StateSpec, describe
from .step import step
from .swats import swats
from .yogi import yogi

__all__ = [
    # torch.optim
    "sgd", "adam", "adamw", "adamax", "nadam", "radam", "adagrad", "adadelta", "rmsprop",
    "rprop", "asgd", "asgd_averaged", "adafactor", "muon", "sparse_adam", "lbfgs",
    # the extended family (torchopt / torch-optimizer)
    "adabelief", "adabound", "adahessian", "madgrad", "qhadam", "swats", "yogi",
    # stepping, updates, hyperparameters
    "step", "apply_updates", "get_lr", "set_lr", "get_hyperparam", "get_hyperparams",
    "set_hyperparam",
    # NaN/Inf gradients and losses: skip the step (counted) or raise
    "nonfinite_guard", "nonfinite_stats", "check_finite", "NonFiniteState",
    # torch's default dtype for scalar state (torch.set_default_dtype)
    "set_scalar_dtype", "scalar_dtype",
    # the engine (to write your own optimizer), descriptions, and the submodules
    "build", "Rule", "OptState", "describe", "OptimizerSpec", "StateSpec", "lr_scheduler",
    "swa_utils",
]
