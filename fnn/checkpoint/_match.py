"""Restoring into templates (``like=``): names and shapes checked, dtypes cast."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import _tree
from ._format import named

__all__ = ["check_match", "restore_dict", "restore_opt_state", "like_fields"]


def check_match(path: Any, what: str, saved: Mapping[str, Any], like: Mapping[str, Any]) -> None:
    """Raise naming the missing/unexpected keys and shape differences, torch-style."""
    missing = [k for k in like if k not in saved]
    unexpected = [k for k in saved if k not in like]
    shapes = [f"{k}: checkpoint {tuple(saved[k]['shape'])}, model {tuple(np.shape(like[k]))}"
              for k in like if k in saved and tuple(saved[k]["shape"]) != tuple(np.shape(like[k]))]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing keys {missing}")
        if unexpected:
            parts.append(f"unexpected keys {unexpected}")
        if shapes:
            parts.append("shape mismatches: " + "; ".join(shapes))
        raise ValueError(f"checkpoint {str(path)!r}: the {what} do not match the given template: "
                         + ", ".join(parts))


def restore_dict(path: Any, what: str, names: list[str], arrays: Mapping[str, jax.Array],
                  manifest: Mapping[str, Any], like: Any) -> Any:
    saved = {k: manifest[k] for k in names}
    if like is None:
        return _tree.unflatten({k: arrays[k] for k in names}) if names else {}
    flat_like = _tree.flatten(like)
    check_match(path, what, saved, flat_like)
    return _tree.unflatten({k: arrays[k].astype(jnp.asarray(v).dtype) if hasattr(v, "dtype")
                            else arrays[k] for k, v in flat_like.items()})


def like_fields(like: Any) -> dict[str, Any]:
    if like is None:
        return {}
    if hasattr(like, "_asdict"):
        like = like._asdict()
    if not isinstance(like, Mapping):
        raise TypeError("checkpoint.load: like must be a mapping (or a NamedTuple such as "
                        f"TrainState) with params/buffers/opt_state templates, got {type(like).__name__}")
    unknown = sorted(set(like) - {"params", "buffers", "opt_state", "step", "key"})
    if unknown:
        raise ValueError(f"checkpoint.load: like has unknown entries {unknown}; the templates "
                         "are 'params', 'buffers' and 'opt_state'")
    return dict(like)


def restore_opt_state(path: Any, manifest: Mapping[str, Any], flat: Mapping[str, jax.Array],
                      like: Any) -> Any:
    """The optimizer state in the structure of the template ``like`` (entries cast to its
    dtypes; PRNG keys kept), or the flat ``{path name: array}`` dict without one."""
    if like is None:
        return dict(flat)
    named_like = named(like)
    check_match(path, "optimizer state entries", manifest, named_like)
    leaves = [flat[k] if not hasattr(v, "dtype") or jax.dtypes.issubdtype(
        v.dtype, jax.dtypes.prng_key) else flat[k].astype(v.dtype)
        for k, v in named_like.items()]
    return jax.tree.unflatten(jax.tree.structure(like), leaves)
