"""Muon (momentum orthogonalized by Newton-Schulz): ``torch.optim.Muon``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import optax

from ._engine import Rule, build, cast, lerp
from ._validation import check, check_min, check_tensor_lr
from .spec import StateSpec

__all__ = ["muon", "zeropower_via_newtonschulz"]

_ADJUST_LR_FNS = (None, "original", "match_rms_adamw")


def zeropower_via_newtonschulz(g: jax.Array, ns_coefficients: Any, ns_steps: int,
                               eps: Any) -> jax.Array:
    """torch's ``_zeropower_via_newtonschulz``: an approximate ``U V^T`` of ``g = U S V^T``
    by ``ns_steps`` quintic Newton-Schulz iterations, **in bfloat16** as torch does
    (products accumulate in float32 and round to bfloat16, as torch's CPU bf16 matmul).

    The bf16 values are held in float32 and rounded with ``lax.reduce_precision``: under
    ``jit``, XLA:CPU computes bf16 elementwise ops in float32 and drops the intermediate
    roundings (``xla_allow_excess_precision``), which torch does not; the explicit rounding
    survives compilation. torch's ``addmm`` takes ``alpha``/``beta`` in float32 (not bf16)."""
    f32 = jnp.float32
    bf = lambda v: jax.lax.reduce_precision(v, exponent_bits=8, mantissa_bits=7)  # to bf16
    a, b, c = (jnp.asarray(v).astype(f32) for v in ns_coefficients)
    x = bf(g).astype(f32)  # rounded once from g's dtype, as torch's grad.bfloat16()
    tall = g.shape[0] > g.shape[1]
    if tall:
        x = x.T
    norm = bf(jnp.sqrt(jnp.sum(jnp.square(x))))
    x = bf(x / jnp.maximum(norm, bf(jnp.asarray(eps, f32))))
    for _ in range(ns_steps):
        gram = bf(x @ x.T)
        gram_update = bf(b * gram + c * (gram @ gram))
        x = bf(a * x + gram_update @ x)
    return (x.T if tall else x).astype(jnp.bfloat16)


def _init(p, hp):
    if p.ndim != 2:
        raise ValueError("Muon only supports 2D parameters whereas we found a parameter with "
                         f"size: torch.Size({list(p.shape)})")
    return {"momentum_buffer": jnp.zeros_like(p)}


def _update(p, g, s, hp, t):
    lr, wd, mu = hp["lr"], hp["weight_decay"], hp["momentum"]
    buf = lerp(s["momentum_buffer"], g, 1 - mu)
    update = lerp(g, buf, mu) if hp["nesterov"] else buf
    ortho = zeropower_via_newtonschulz(update, hp["ns_coefficients"], hp["ns_steps"], hp["eps"])
    rows, cols = p.shape
    if hp["adjust_lr_fn"] == "match_rms_adamw":
        adjusted_lr = lr * 0.2 * max(rows, cols) ** 0.5
    else:
        adjusted_lr = lr * max(1.0, rows / cols) ** 0.5
    p = p * cast(1 - lr * wd, p)
    return p - cast(adjusted_lr, p) * ortho.astype(p.dtype), {"momentum_buffer": buf}


RULE = Rule("Muon", _init, _update, static=("nesterov", "ns_steps", "adjust_lr_fn"),
            sequences=("ns_coefficients",), spec=StateSpec(step="none"))


def _validate(hp: Mapping[str, Any]) -> None:
    check_tensor_lr(hp["lr"])
    check_min(hp["lr"], "Learning rate should be >= 0 but is: {}")
    check_min(hp["momentum"], "momentum should be >= 0 but is: {}")
    check_min(hp["weight_decay"], "weight decay should be >= 0 but is: {}")
    fn = hp["adjust_lr_fn"]
    check(fn in _ADJUST_LR_FNS, f"Adjust learning rate function {fn} is not supported")
    # torch checks these two at step time, in Newton-Schulz; fnn checks them up front
    ns = hp["ns_steps"]
    check(isinstance(ns, int) and not isinstance(ns, bool) and ns >= 0,
          f"Invalid ns_steps: {ns!r} (the number of Newton-Schulz steps, a non-negative int)")
    check(hp["ns_steps"] < 100, "Number of steps must be less than 100 for computational efficiency")
    check(len(hp["ns_coefficients"]) == 3, "Coefficients must be a tuple of exactly 3 values")


def muon(
    lr: Any = 1e-3,
    weight_decay: float = 0.1,
    momentum: float = 0.95,
    nesterov: bool = True,
    ns_coefficients: tuple[float, float, float] = (3.4445, -4.7750, 2.0315),
    eps: float = 1e-7,
    ns_steps: int = 5,
    adjust_lr_fn: str | None = None,
    *,
    param_groups: Sequence[Mapping[str, Any]] | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""Muon, exactly ``torch.optim.Muon`` (2-D parameters only, as in torch).

    .. math::
        B_t &= \mu B_{t-1} + (1-\mu) G_t, \qquad
        M_t = (1-\mu) G_t + \mu B_t \text{ (nesterov) or } B_t \\
        O_t &= \mathrm{NewtonSchulz}_{a,b,c}(M_t)
             \quad(X \leftarrow aX + (bA + cA^2)X,\ A = XX^\top,\ X_0 = M_t/\|M_t\|_F) \\
        \theta_t &= \theta_{t-1}(1-\gamma\lambda) - \tilde\gamma\,O_t, \qquad
        \tilde\gamma = \gamma\sqrt{\max(1, A/B)} \text{ (``original``)} \text{ or }
        0.2\gamma\sqrt{\max(A, B)} \text{ (``match_rms_adamw``)}

    for an ``A x B`` parameter. The buffer is an EMA (torch's code, not its docstring's
    ``B = mu*B + G``). Newton-Schulz runs in bfloat16 as in torch, so parity with torch is
    at bfloat16 precision. Weight decay is decoupled and uses the unadjusted lr. There is
    no ``maximize``. ``init`` raises for parameters that are not 2-D (torch's message);
    use ``optax.partition`` to give other parameters another optimizer.
    State: ``momentum_buffer``.

    torch: ``torch.optim.Muon(params, lr=1e-3, weight_decay=0.1, momentum=0.95,
    nesterov=True, ns_coefficients=(3.4445, -4.775, 2.0315), eps=1e-7, ns_steps=5,
    adjust_lr_fn=None)``. Source: Jordan et al., "Muon: An optimizer for hidden layers in
    neural networks" (2024); Liu et al., "Muon is Scalable for LLM Training" (2025).
    """
    defaults = dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                    ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps,
                    adjust_lr_fn=adjust_lr_fn)
    return build(RULE, defaults, param_groups, _validate)
