"""The autocast state and torch 2.13's op categories (the public API is :mod:`fnn.amp`).

This module sits below :mod:`fnn.nn` and :mod:`fnn.losses`: their ops are decorated with
:func:`autocast_op` and consult the state here at trace time; :func:`fnn.amp.autocast`
sets it. Outside an autocast region the decorator calls the op unchanged.

Under autocast an op of a listed category casts its floating-point array arguments as
torch's autocast wrapper does (only "eligible" arrays: floating point and not float64),
runs with autocast switched off inside (as torch's wrapper excludes the autocast key, so
the op's internals do not cast again), and returns:

- ``"lower"``: inputs cast to the autocast dtype (bfloat16/float16): matmul-like ops.
- ``"float32"``: inputs cast to float32: numerically sensitive ops (losses, softmax on CUDA).
- ``"promote"``: inputs cast to the widest floating dtype among them.
- ``"norm"``: computed in float32, the output returned in the input's dtype: torch's
  mixed-dtype normalization kernels (a bfloat16 input with float32 weights gives a
  bfloat16 output). Only the first output is cast (``batch_norm``'s running statistics
  keep their dtype).
- ``"banned"``: raises torch's error (``binary_cross_entropy`` under CUDA autocast).
- ``None``: not listed; the op runs in the dtypes it is given (JAX promotion, as torch's).

Ops not decorated (activations, pooling, dropout, embedding, jnp functions called by the
user) run in whatever dtype they receive, as unlisted ops do in torch. torch's
``exp``/``log``/``sum``/``cumsum``... float32 entries on CUDA are aten ops that fnn does not
own (they are ``jnp`` functions), so only fnn's ops follow the lists.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import jax
import jax.numpy as jnp
import numpy as np

from ._precision import matmul_precision

__all__ = ["AutocastPolicy", "OP_CATEGORIES", "autocast_op", "category", "current_policy",
           "set_policy", "reset_policy", "cast_for"]

LOWER, FLOAT32, PROMOTE, NORM, BANNED = "lower", "float32", "promote", "norm", "banned"

#: op -> (CPU category, CUDA category), from torch 2.13's ``aten/src/ATen/autocast_mode.cpp``
#: (``KERNEL_CPU`` lists) and ``autocast_mode.h`` (``AT_FORALL_*`` lists, CUDA), checked on
#: the CPU side by running each op under ``torch.autocast("cpu", torch.bfloat16)``.
#: Composite torch ops (not listed in torch, built from listed ones) carry the category
#: their result has in torch: e.g. CUDA ``cross_entropy`` is ``log_softmax`` (float32)
#: then ``nll_loss`` (float32).
OP_CATEGORIES: dict[str, tuple[str | None, str | None]] = {
    # matmul-like: the low dtype on both
    "linear": (LOWER, LOWER),
    # conv1d/2d/3d and conv_transpose1d/2d (torch lists each, and _convolution)
    "convolution": (LOWER, LOWER),
    "prelu": (LOWER, LOWER),
    "scaled_dot_product_attention": (LOWER, LOWER),
    # composite in torch (its linear/bmm/sdpa are listed): precision scope only
    "multi_head_attention_forward": (None, None),
    # lstm_cell/gru_cell/rnn_tanh_cell/rnn_relu_cell: CUDA lists them; on CPU they are
    # composite: the two affine maps run as `linear` (low dtype), the gates then promote
    # with the float32 state (torch CPU: LSTMCell/GRUCell return float32, RNNCell bfloat16)
    "rnn_cell": (None, LOWER),
    # whole RNN/LSTM/GRU layers: torch CPU's mkldnn_rnn_layer is listed (LSTM); fnn runs
    # every mode in the low dtype on both (torch CPU's GRU is composite: float32 output)
    "rnn_layer": (LOWER, LOWER),
    "bilinear": (None, PROMOTE),
    # float32 on CUDA only (CPU runs them in the input dtype)
    "softmax": (None, FLOAT32), "log_softmax": (None, FLOAT32), "softplus": (None, FLOAT32),
    "cosine_similarity": (None, FLOAT32), "pairwise_distance": (None, FLOAT32),
    "multilabel_soft_margin_loss": (None, FLOAT32), "gaussian_nll_loss": (None, FLOAT32),
    "triplet_margin_with_distance_loss": (None, FLOAT32),
    # normalization: float32 math, output in the input's dtype (CPU's mixed kernels)
    "batch_norm": (NORM, NORM), "layer_norm": (NORM, FLOAT32), "group_norm": (NORM, FLOAT32),
    "rms_norm": (NORM, FLOAT32),
    # losses: float32 on both
    "cross_entropy": (FLOAT32, FLOAT32), "nll_loss": (FLOAT32, FLOAT32),
    "mse_loss": (FLOAT32, FLOAT32), "l1_loss": (FLOAT32, FLOAT32),
    "smooth_l1_loss": (FLOAT32, FLOAT32), "huber_loss": (FLOAT32, FLOAT32),
    "kl_div": (FLOAT32, FLOAT32), "poisson_nll_loss": (FLOAT32, FLOAT32),
    "binary_cross_entropy_with_logits": (FLOAT32, FLOAT32),
    "soft_margin_loss": (FLOAT32, FLOAT32), "multi_margin_loss": (FLOAT32, FLOAT32),
    "multilabel_margin_loss": (FLOAT32, FLOAT32), "hinge_embedding_loss": (FLOAT32, FLOAT32),
    "cosine_embedding_loss": (FLOAT32, FLOAT32), "margin_ranking_loss": (FLOAT32, FLOAT32),
    "triplet_margin_loss": (FLOAT32, FLOAT32),
    "ctc_loss": (FLOAT32, None),
    "binary_cross_entropy": (FLOAT32, BANNED),
}

_BANNED_MESSAGE = (
    "torch.nn.functional.binary_cross_entropy and torch.nn.BCELoss are unsafe to autocast.\n"
    "Many models use a sigmoid layer right before the binary cross entropy layer.\n"
    "In this case, combine the two layers using torch.nn.functional.binary_cross_entropy_with_"
    "logits\nor torch.nn.BCEWithLogitsLoss.  binary_cross_entropy_with_logits and "
    "BCEWithLogits are\nsafe to autocast.")


@dataclass(frozen=True)
class AutocastPolicy:
    """The active autocast: the low dtype and which list (``"cpu"`` or ``"cuda"``)."""

    dtype: Any
    device_type: str


_POLICY: contextvars.ContextVar[AutocastPolicy | None] = contextvars.ContextVar(
    "fnn_autocast", default=None)


def current_policy() -> AutocastPolicy | None:
    """The autocast in effect at trace time, or ``None``."""
    return _POLICY.get()


def set_policy(policy: AutocastPolicy | None) -> contextvars.Token:
    return _POLICY.set(policy)


def reset_policy(token: contextvars.Token) -> None:
    _POLICY.reset(token)


def category(op: str, device_type: str) -> str | None:
    """``op``'s autocast category on ``device_type`` (``"cpu"`` or ``"cuda"``)."""
    cpu, cuda = OP_CATEGORIES.get(op, (None, None))
    return cpu if device_type == "cpu" else cuda


def _eligible(x: Any) -> bool:
    return (isinstance(x, (jax.Array, np.ndarray)) and jnp.issubdtype(x.dtype, jnp.floating)
            and x.dtype != jnp.float64)


def _cast_tree(tree: Any, dtype: Any) -> Any:
    return jax.tree.map(lambda x: x.astype(dtype) if _eligible(x) and x.dtype != dtype else x,
                        tree)


def _widest(tree: Any) -> Any:
    dtypes = [x.dtype for x in jax.tree.leaves(tree) if isinstance(x, (jax.Array, np.ndarray))
              and jnp.issubdtype(x.dtype, jnp.floating)]
    return jnp.result_type(*dtypes) if dtypes else None


def cast_for(op: str, *arrays: Any) -> tuple[Any, ...]:
    """``arrays`` (pytrees) cast as ``op``'s category asks under the active autocast
    (unchanged outside autocast, or for an unlisted op; ``"norm"`` casts to float32)."""
    policy = _POLICY.get()
    cat = None if policy is None else category(op, policy.device_type)
    if cat is None or policy is None:
        return arrays
    if cat == BANNED:
        raise RuntimeError(_BANNED_MESSAGE)
    dtype = {LOWER: policy.dtype, FLOAT32: jnp.float32, NORM: jnp.float32}.get(cat)
    if cat == PROMOTE:
        dtype = _widest(arrays)
    return arrays if dtype is None else _cast_tree(arrays, dtype)


F = TypeVar("F", bound=Callable[..., Any])


def autocast_op(op: str) -> Callable[[F], F]:
    """Decorate a functional op so that it follows its category in :data:`OP_CATEGORIES`
    under :func:`fnn.amp.autocast`, and traces its products at the float32 matmul
    precision of :mod:`fnn._precision` (full float32 by default, as torch).

    The wrapper adds exactly one stack frame (warnings raised by a decorated op use
    ``stacklevel`` one higher)."""
    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            policy = _POLICY.get()
            cat = None if policy is None else category(op, policy.device_type)
            with matmul_precision():
                if cat is None:
                    return fn(*args, **kwargs)
                first = args[0] if args else next(iter(kwargs.values()), None)
                args, kwargs = cast_for(op, args, kwargs)
                token = _POLICY.set(None)      # torch's wrapper: no autocast inside the op
                try:
                    out = fn(*args, **kwargs)
                finally:
                    _POLICY.reset(token)
            return _norm_output(out, first) if cat == NORM else out
        return wrapper  # type: ignore[return-value]
    return decorate


def _norm_output(out: Any, first: Any) -> Any:
    """The ``"norm"`` category's output in the input's dtype (only the first output)."""
    if not _eligible(first):
        return out
    if isinstance(out, tuple):
        return (out[0].astype(first.dtype),) + out[1:]
    return out.astype(first.dtype)
