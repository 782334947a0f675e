"""``fnn.optim.lr_scheduler``: every ``torch.optim.lr_scheduler`` as pure functions.

A scheduler is a configuration object named as torch's class, built without the
optimizer; ``init`` attaches it to an optimizer *state* (torch's constructor, with its side
effects) and ``step`` is torch's ``scheduler.step()``. Both return new states; the
learning rates (and cycled momentum/betas) are written into ``opt_state.param_groups``,
where the optimizer reads them at its next update::

    # torch                                          # fnn
    opt = SGD(model.parameters(), 0.1, momentum=0.9) opt = optim.sgd(0.1, momentum=0.9)
                                                     opt_state = opt.init(params)
    sched = StepLR(opt, step_size=30, gamma=0.1)     sched = lr_scheduler.StepLR(30, gamma=0.1)
                                                     sched_state, opt_state = sched.init(opt_state)
    for epoch in range(100):                         for epoch in range(100):
        train(model, opt)                                params, opt_state = train(params, opt_state)
        sched.step()                                     sched_state, opt_state = sched.step(sched_state, opt_state)
        print(sched.get_last_lr())                       print(sched.get_last_lr(sched_state))

ReduceLROnPlateau takes the metric: ``sched.step(sched_state, opt_state, val_loss)``;
CosineAnnealingWarmRestarts accepts ``epoch=`` (fractional epochs, as torch's
``scheduler.step(epoch + i / iters)``). SequentialLR and ChainedScheduler take unbuilt
sub-schedulers: ``SequentialLR([LinearLR(0.1, total_iters=5), ExponentialLR(0.9)],
milestones=[5])``.

Exactness and jit
-----------------
torch computes most schedules *recursively* from the current group lr in Python doubles;
fnn reproduces the same recursion in float64 (under ``jax_enable_x64``; float32 otherwise),
matching torch to ~1e-15 relative over hundreds of steps. ``step`` is a pure function of
its arguments (``jnp.where``/``lax.switch``, no Python branching on the state), jit-compiled
once per scheduler, and can be called inside a user's jitted train step. Schedulers with
user callables (``LambdaLR``, ``MultiplicativeLR``, ``CyclicLR(scale_fn=...)``) run op by op
outside jit so their callables may use Python ``if`` on the (concrete) epoch; inside jit
those callables must be written with ``jnp``.

The closed-form schedulers also give an optax-style schedule of the update count,
``StepLR(30, 0.1).as_schedule(base_lr=0.1)``, to pass as ``lr=`` to any fnn optimizer
(no scheduler state at all: the lr is a function of ``opt_state.step``).

Differences from torch: fnn's SGD keeps no momentum buffer when built with ``momentum=0``,
so ``CyclicLR``/``OneCycleLR`` with ``cycle_momentum`` raise there (torch silently switches
momentum on); SequentialLR rejects non-increasing milestones (torch's bisect misbehaves);
stepping OneCycleLR past ``total_steps`` raises torch's error outside jit and writes NaN
lrs inside jit; the deprecated ``step(epoch)`` argument exists only for
CosineAnnealingWarmRestarts.
"""

from __future__ import annotations

from ._base import LRScheduler, SchedulerState, get_last_lr
from ._compose import ChainedScheduler, SequentialLR
from ._cosine import CosineAnnealingLR, CosineAnnealingWarmRestarts
from ._cyclic import CyclicLR, OneCycleLR
from ._multiplicative import (
    ConstantLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    MultiplicativeLR,
    MultiStepLR,
    PolynomialLR,
    StepLR,
)
from ._plateau import ReduceLROnPlateau
from ._swalr import SWALR

__all__ = ["LRScheduler", "SchedulerState", "get_last_lr", "LambdaLR", "MultiplicativeLR",
           "StepLR", "MultiStepLR", "ConstantLR", "LinearLR", "ExponentialLR", "PolynomialLR",
           "CosineAnnealingLR", "CosineAnnealingWarmRestarts", "CyclicLR", "OneCycleLR",
           "ReduceLROnPlateau", "SequentialLR", "ChainedScheduler",
           # torch.optim.swa_utils.SWALR, also fnn.optim.swa_utils.SWALR
           "SWALR"]
