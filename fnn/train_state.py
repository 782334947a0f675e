"""``fnn.train_state``: :class:`TrainState`, the pytree a training loop carries.

It sits below :mod:`fnn.train` and :mod:`fnn.parallel`, which both use it (the training
steps build it, the sharding helpers lay it out); import it from :mod:`fnn.train`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax

__all__ = ["TrainState"]


class TrainState(NamedTuple):
    """Everything that changes during training, as one pytree (a ``jit``/``scan`` carry).

    ``params`` and ``buffers`` (nested dicts), ``opt_state`` (``opt.init(params)``),
    ``step`` (int32, optimizer steps taken) and ``key`` (the run's ``jax.random.key``).
    Its fields are :func:`fnn.checkpoint.save`'s arguments.
    """

    params: Any
    opt_state: Any
    buffers: Any
    step: jax.Array
    key: jax.Array

