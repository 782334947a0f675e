"""``torch.nn.utils.parametrizations``: ``weight_norm`` and ``spectral_norm``.

As in torch, the module is changed in place (its class becomes ``Parametrized<Class>``) and
returned; its parameter ``name`` is replaced by the *original* tensors under torch's names,
and the layer computes ``name`` from them on every call::

    fc = weight_norm(nn.Linear(20, 40))
    fc.init(key)       # {"bias", "parametrizations": {"weight": {"original0": g, "original1": v}}}

    sn = spectral_norm(nn.Linear(20, 40))
    params = sn.init(key)
    buffers = sn.init_buffers(params=params)     # parametrizations.weight.0._u/_v, warmed up
    y, buffers = sn.apply(params, x, buffers=buffers, train=True)   # one power iteration

Flattened names are torch's ``state_dict`` keys (``parametrizations.weight.original0``,
``parametrizations.weight.0._u``), so ``fnn.interop`` and checkpoints move them unchanged.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from ..module import Module

__all__ = ["weight_norm", "spectral_norm"]


def _normalize(x: jax.Array, eps: float) -> jax.Array:
    """torch's ``F.normalize(x, dim=0, eps=eps)`` of a vector."""
    return x / jnp.maximum(jnp.sqrt(jnp.sum(x * x)), eps)


class _WeightNorm:
    """``w = g * v / ||v||`` with the norm over every dim but ``dim`` (all dims for -1)."""

    buffers = False

    def __init__(self, dim: int | None):
        self.dim = -1 if dim is None else dim

    def _norm(self, v: jax.Array) -> jax.Array:
        if self.dim == -1:
            return jnp.sqrt(jnp.sum(v * v))
        axes = tuple(a for a in range(v.ndim) if a != self.dim % v.ndim)
        return jnp.sqrt(jnp.sum(v * v, axis=axes, keepdims=True))

    def originals(self, w: jax.Array) -> dict[str, jax.Array]:
        return {"original0": self._norm(w), "original1": w}

    def init_buffers(self, shape: tuple[int, ...], dtype: Any) -> dict:
        return {}

    def weight(self, orig: dict, buffers: dict, training: bool) -> tuple[jax.Array, dict]:
        g, v = orig["original0"], orig["original1"]
        return v * (g / self._norm(v)), {}


class _SpectralNorm:
    """``w / sigma`` with ``sigma ~ u^T W v`` estimated by power iteration on ``u``, ``v``."""

    def __init__(self, ndim: int, n_power_iterations: int, dim: int, eps: float):
        self.dim = dim if dim >= 0 else dim + ndim
        self.n, self.eps = n_power_iterations, eps
        self.buffers = ndim > 1

    def _matrix(self, w: jax.Array) -> jax.Array:
        if self.dim != 0:
            w = jnp.moveaxis(w, self.dim, 0)
        return w.reshape(w.shape[0], -1)

    def originals(self, w: jax.Array) -> dict[str, jax.Array]:
        return {"original": w}

    def init_buffers(self, shape: tuple[int, ...], dtype: Any) -> dict:
        if len(shape) <= 1:
            return {}
        h = shape[self.dim]
        w = 1
        for i, s in enumerate(shape):
            w = w * s if i != self.dim else w
        ku, kv = jax.random.split(jax.random.key(0))
        return {"0": {"_u": _normalize(jax.random.normal(ku, (h,), dtype), self.eps),
                      "_v": _normalize(jax.random.normal(kv, (w,), dtype), self.eps)}}

    def warm_up(self, orig: dict, buffers: dict) -> dict:
        """torch's registration: 15 power iterations on the initial weight."""
        mat = self._matrix(orig["original"])
        u, v = buffers["0"]["_u"], buffers["0"]["_v"]
        for _ in range(15):
            u = _normalize(mat @ v, self.eps)
            v = _normalize(mat.T @ u, self.eps)
        return {"0": {"_u": u, "_v": v}}

    def weight(self, orig: dict, buffers: dict, training: bool) -> tuple[jax.Array, dict]:
        w = orig["original"]
        if w.ndim <= 1:
            return _normalize(w, self.eps), {}
        u, v = buffers["0._u"], buffers["0._v"]
        if training:  # torch's _power_method, under no_grad
            mat = jax.lax.stop_gradient(self._matrix(w))
            for _ in range(self.n):
                u = _normalize(mat @ v, self.eps)
                v = _normalize(mat.T @ u, self.eps)
        sigma = jnp.vdot(u, self._matrix(w) @ v)
        return w / sigma, {"0._u": u, "0._v": v}


_CLASSES: dict[type, type] = {}


def _parametrized_class(cls: type) -> type:
    """``Parametrized<cls>``: computes the parametrized tensors before ``cls.forward``."""
    if getattr(cls, "_fnn_parametrized", False):
        return cls
    if cls not in _CLASSES:
        def init_params(self, key, dtype):
            p = dict(cls.init_params(self, key, dtype))
            for name, par in self._fnn_parametrizations.items():
                p.setdefault("parametrizations", {})[name] = par.originals(p.pop(name))
            return p

        def init_own_buffers(self, dtype):
            b = dict(cls.init_own_buffers(self, dtype))
            shapes = jax.eval_shape(lambda: cls.init_params(self, jax.random.key(0), dtype))
            for name, par in self._fnn_parametrizations.items():
                own = par.init_buffers(tuple(shapes[name].shape), dtype)
                if own:
                    b.setdefault("parametrizations", {})[name] = own
            return b

        def init_buffers(self, dtype=jnp.float32, params=None):
            b = cls.init_buffers(self, dtype, params)
            if params is not None:
                own = b.get("parametrizations", {})
                for name in own:
                    par = self._fnn_parametrizations[name]
                    own[name] = par.warm_up(params["parametrizations"][name], own[name])
            return b

        def forward(self, params, *args, **kwargs):
            p = dict(params)
            orig = p.pop("parametrizations")
            needs = any(par.buffers for par in self._fnn_parametrizations.values())
            buffers = self.get_buffers() if needs else {}
            new = {}
            for name, par in self._fnn_parametrizations.items():
                prefix = f"parametrizations.{name}."
                own = {k[len(prefix):]: v for k, v in buffers.items() if k.startswith(prefix)}
                p[name], updated = par.weight(orig[name], own, self.is_training())
                new.update({prefix + k: v for k, v in updated.items()})
            if new and self.is_training():
                self.set_buffers(new)
            return cls.forward(self, p, *args, **kwargs)

        _CLASSES[cls] = type(f"Parametrized{cls.__name__}", (cls,), {
            "_fnn_parametrized": True, "init_params": init_params,
            "init_own_buffers": init_own_buffers, "init_buffers": init_buffers,
            "forward": forward,
            "__doc__": f"{cls.__name__} with parametrized tensors (see fnn.nn.utils."
                       "parametrizations)."})
    return _CLASSES[cls]


def _register(module: Any, name: str, par: Any) -> Module:
    shapes = jax.eval_shape(lambda: module.init_params(jax.random.key(0), jnp.float32))
    if name not in shapes:
        raise ValueError(f"Module '{module!r}' does not have a parameter, a buffer, or a "
                         f"parametrized element with name '{name}'")
    if name in getattr(module, "_fnn_parametrizations", {}):
        raise ValueError(f"{type(module).__name__}: '{name}' is already parametrized (fnn "
                         "supports one parametrization per tensor)")
    module.__class__ = _parametrized_class(type(module))
    module._fnn_parametrizations = {**getattr(module, "_fnn_parametrizations", {}), name: par}
    return module


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    r"""Weight normalization (``torch.nn.utils.parametrizations.weight_norm``; Salimans &
    Kingma 2016, *Weight Normalization*): :math:`w = g\,v / \|v\|`, the norm over every dim
    but ``dim`` (``dim=None`` or ``-1``: over the whole tensor, as torch).

    ``params[...]["parametrizations"][name]`` holds ``original0`` (:math:`g`, shaped like the
    norm, keepdims) and ``original1`` (:math:`v`), initialised from the layer's default
    ``name`` as torch does (:math:`g = \|w\|`, :math:`v = w`). Changes ``module`` in place
    and returns it.
    """
    return _register(module, name, _WeightNorm(dim))


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1,
                  eps: float = 1e-12, dim: int | None = None) -> Module:
    r"""Spectral normalization (``torch.nn.utils.parametrizations.spectral_norm``; Miyato et
    al. 2018, *Spectral Normalization for Generative Adversarial Networks*):
    :math:`w / \sigma(W)` with :math:`W` the weight as a matrix (``dim`` first; ``dim`` is 1
    for ``ConvTranspose*``, else 0) and :math:`\sigma = u^\top W v` from power iteration.

    ``params[...]["parametrizations"][name]["original"]`` is the unnormalized weight; the
    buffers ``parametrizations.<name>.0._u`` and ``._v`` hold the singular-vector estimates.
    In training mode each call runs ``n_power_iterations`` steps (``u = normalize(W v)``,
    ``v = normalize(W^T u)``, without gradient) and returns the updated buffers, exactly as
    torch; eval mode uses them as they are. A 1-D ``name`` is simply normalized, without
    buffers. torch's registration draws ``u``, ``v`` from its global generator and runs 15
    power iterations on the initial weight: ``model.init_buffers(params=params)`` does the
    same from fixed normalized Gaussian vectors (``init_buffers()`` without ``params`` skips
    the 15 iterations, as the weight is not known there).
    """
    if n_power_iterations <= 0:
        raise ValueError("Expected n_power_iterations to be positive, but got "
                         f"n_power_iterations={n_power_iterations}")
    if dim is None:
        dim = 1 if getattr(module, "_transposed", False) else 0
    shapes = jax.eval_shape(lambda: module.init_params(jax.random.key(0), jnp.float32))
    ndim = len(shapes[name].shape) if name in shapes else 2
    return _register(module, name, _SpectralNorm(ndim, n_power_iterations, dim, eps))
