"""AdaHessian: Adam with a Hutchinson estimate of the Hessian diagonal (Yao et al., 2021)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import optax

from ._engine import Rule, build, cast, is_concrete
from ._extended import check_positive_lr
from ._validation import check, check_betas, check_min, check_weight_decay, fmt

__all__ = ["adahessian", "hutchinson_diagonal"]


def _spatial_average(d: jax.Array) -> jax.Array:
    """Average |Hz| over the kernel (spatial) dims of conv weights (ndim >= 3), keepdims.

    The paper's reference averages a 4-D ``OIHW`` kernel over ``H, W``; fnn does the same
    for every conv kernel (``OIL``, ``OIHW``, ``OIDHW``): dims 2 and up.
    """
    if d.ndim <= 2:
        return d
    return jnp.mean(d, axis=tuple(range(2, d.ndim)), keepdims=True)


def hutchinson_diagonal(value_fn, params, z) -> Any:
    r"""Hutchinson's estimate of the Hessian diagonal, :math:`D = |z \odot Hz|`, spatially
    averaged for conv kernels; ``z`` is a pytree of Rademacher (+-1) probes shaped like
    ``params``. :math:`Hz` is one forward-over-reverse product
    (``jax.jvp(jax.grad(value_fn), (params,), (z,))``)."""
    _, hz = jax.jvp(jax.grad(value_fn), (params,), (z,))
    return jax.tree_util.tree_map(lambda h, v: _spatial_average(jnp.abs(v * h)), hz, z)


def _prepare(grads, params, extra):
    value_fn = extra.get("value_fn")
    z = extra.get("hutchinson_vectors")
    if value_fn is None:
        raise ValueError(
            "adahessian needs the loss function for its Hessian-vector product: use "
            "optim.step(opt, loss_fn, params, state, key=key), or call "
            "opt.update(grads, state, params, value_fn=loss_of_params, key=key)")
    if z is None:
        key = extra.get("key")
        if key is None:
            raise ValueError(
                "adahessian needs a PRNG key for its Rademacher probe vectors: pass key= to "
                "optim.step (or to opt.update), a new one each step, or hutchinson_vectors=")
        leaves, treedef = jax.tree_util.tree_flatten(params)
        keys = jax.random.split(key, len(leaves))
        z = treedef.unflatten([jax.random.rademacher(k, jnp.shape(p), jnp.result_type(p))
                               for k, p in zip(keys, leaves)])
    return hutchinson_diagonal(value_fn, params, z)


def _init(p, hp):
    return {"exp_avg": jnp.zeros_like(p), "exp_hessian_diag_sq": jnp.zeros_like(p)}


def _update(p, g, s, hp, t, d):
    lr, (beta1, beta2), eps, k = hp["lr"], hp["betas"], hp["eps"], hp["hessian_power"]
    m = cast(beta1, p) * s["exp_avg"] + cast(1 - beta1, p) * g
    h = cast(beta2, p) * s["exp_hessian_diag_sq"] + cast(1 - beta2, p) * d * d
    bias_correction1 = 1 - beta1**t
    bias_correction2 = 1 - beta2**t
    denom = jnp.sqrt(h) ** cast(k, p) / cast(jnp.sqrt(bias_correction2) ** k, p) + cast(eps, p)
    new_p = p - cast(lr, p) * (m / cast(bias_correction1, p) / denom + cast(hp["weight_decay"], p) * p)
    return new_p, {"exp_avg": m, "exp_hessian_diag_sq": h}


RULE = Rule("Adahessian", _init, _update, prepare=_prepare,
            sequences=("betas",))


def _validate(hp: Mapping[str, Any]) -> None:
    """torch_optimizer.Adahessian's checks, in its order (plus weight_decay >= 0)."""
    check_positive_lr(hp["lr"])
    check_min(hp["eps"], "Invalid epsilon value: {}", strict=True)
    check_betas(hp["betas"])
    k = hp["hessian_power"]
    check(not is_concrete(k) or 0.0 <= float(k) <= 1.0, f"Invalid Hessian power value: {fmt(k)}")
    check_weight_decay(hp["weight_decay"])


def adahessian(
    lr: Any = 0.15,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-4,
    weight_decay: float = 0,
    hessian_power: float = 0.5,
    *,
    param_groups: Sequence[Mapping[str, Any]] | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""AdaHessian: Adam whose second moment is the squared Hessian diagonal.

    Every update draws Rademacher probes :math:`z` (:math:`\pm 1`) from the ``key`` it is
    given and estimates the Hessian diagonal with one Hessian-vector product
    (Hutchinson): :math:`D_t = |z \odot H z|`, averaged over the kernel dims of conv
    weights (spatial averaging, as in the paper's reference code). Then

    .. math::
        m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
        h_t = \beta_2 h_{t-1} + (1-\beta_2) D_t^2 \\
        \theta_t &= \theta_{t-1} - \gamma\Bigl(\frac{m_t/(1-\beta_1^t)}
              {(\sqrt{h_t})^k / (\sqrt{1-\beta_2^t})^k + \epsilon} + \lambda\theta_{t-1}\Bigr)

    with :math:`k` = ``hessian_power``. State: ``exp_avg``, ``exp_hessian_diag_sq``.

    The update needs the loss as a function of the parameters and a key, as extra
    arguments; :func:`fnn.optim.step` passes both
    (``optim.step(opt, loss_fn, params, state, key=key)``), or call
    ``opt.update(grads, state, params, value_fn=f, key=key)``. ``hutchinson_vectors=z``
    (a pytree of +-1 shaped like the params) replaces the key by given probes, e.g. the
    ones torch drew, for an exact comparison.

    Reference: ``torch_optimizer.Adahessian`` (0.3.0, from amirgholami/adahessian), same
    arguments and defaults; the probes come from an explicit JAX key instead of torch's
    global RNG. Paper: Yao, Gholami, Shen, Mustafa, Keutzer, Mahoney, "ADAHESSIAN: An
    Adaptive Second Order Optimizer for Machine Learning", AAAI 2021, arXiv:2006.00719.
    """
    defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                    hessian_power=hessian_power)
    return build(RULE, defaults, param_groups, _validate)
