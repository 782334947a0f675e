"""``torch.nn.AdaptiveLogSoftmaxWithLoss``: the efficient softmax of Grave et al. 2016."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .linear import Linear
from .module import Module, ModuleList, Sequential

__all__ = ["AdaptiveLogSoftmaxWithLoss"]


class _ASMoutput(NamedTuple):
    """torch's ``_ASMoutput``: per-example target log-probabilities and the mean loss."""

    output: jax.Array
    loss: jax.Array


class AdaptiveLogSoftmaxWithLoss(Module):
    r"""``torch.nn.AdaptiveLogSoftmaxWithLoss(in_features, n_classes, cutoffs, div_value=4.0,
    head_bias=False)`` (Grave et al. 2016, *Efficient softmax approximation for GPUs*).

    Classes are split by ``cutoffs`` into a shortlist (predicted by the ``head``, which also
    scores one entry per cluster) and tail clusters, each with a
    ``Linear(in, in // div_value**(i+1)) -> Linear(..., cluster size)`` projection: the
    log-probability of class :math:`c` in cluster :math:`k` is
    :math:`\log p_{head}(k) + \log p_k(c)`. Parameters are named as torch's (``head.weight``,
    ``tail.0.0.weight``, ...). ``forward(params, input, target)`` returns
    ``(output, loss)``: each example's target log-probability and :math:`-\text{mean}`; every
    cluster is evaluated on the whole batch and selected per example (static shapes for
    ``jit``), where torch gathers the rows of each cluster. :meth:`log_prob` and
    :meth:`predict` as torch's.
    """

    def __init__(self, in_features: int, n_classes: int, cutoffs: Sequence[int],
                 div_value: float = 4.0, head_bias: bool = False) -> None:
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("cutoffs should be a sequence of length larger than 0")
        if (cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > n_classes - 1
                or len(set(cutoffs)) != len(cutoffs) or any(int(c) != c for c in cutoffs)):
            raise ValueError("cutoffs should be a sequence of unique, positive integers sorted in "
                             "an increasing order, where each value is between 1 and n_classes-1")
        self.in_features, self.n_classes = in_features, n_classes
        self.cutoffs = cutoffs + [n_classes]
        self.div_value, self.head_bias = div_value, head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        self.head = Linear(in_features, self.head_size, bias=head_bias)
        self.tail = ModuleList(
            Sequential(Linear(in_features, int(in_features // div_value ** (i + 1)), bias=False),
                       Linear(int(in_features // div_value ** (i + 1)),
                              self.cutoffs[i + 1] - self.cutoffs[i], bias=False))
            for i in range(self.n_clusters))

    def _check(self, input: jax.Array, target: jax.Array) -> None:
        if target.ndim == 1:
            if input.shape[0] != target.shape[0]:
                raise ValueError("Input and target should have the same size in the batch "
                                 "dimension.")
            if input.ndim != 2:
                raise ValueError("1D target tensor expects 2D input tensors, but found inputs "
                                 f"with size {tuple(input.shape)}")
        elif target.ndim == 0:
            if input.ndim != 1:
                raise ValueError("0D target tensor expects 1D input tensors, but found inputs "
                                 f"with size {tuple(input.shape)}")
        else:
            raise ValueError("0D or 1D target tensor expected, multi-target not supported")
        if not isinstance(target, jax.core.Tracer) and target.size:
            t = np.asarray(target)
            if t.min() < 0 or t.max() >= self.n_classes:
                raise ValueError(f"Target values should be in [0, {self.n_classes - 1}], but "
                                 f"values in range [{t.min()}, {t.max()}] were found. ")

    def forward(self, params: dict, input: jax.Array, target: jax.Array) -> _ASMoutput:
        target = jnp.asarray(target)
        self._check(input, target)
        batched = target.ndim > 0
        x, t = (input, target) if batched else (input[None], target[None])
        head_lp = jax.nn.log_softmax(self.head(params["head"], x), axis=1)
        gather = t
        output = jnp.zeros(t.shape, x.dtype)
        for i, (lo, hi) in enumerate(zip(self.cutoffs[:-1], self.cutoffs[1:])):
            inside = (t >= lo) & (t < hi)
            lp = jax.nn.log_softmax(self.tail[i](params["tail"][str(i)], x), axis=1)
            rel = jnp.clip(t - lo, 0, hi - lo - 1)
            local = jnp.take_along_axis(lp, rel[:, None], axis=1)[:, 0]
            output = output + jnp.where(inside, local, 0.0)
            gather = jnp.where(inside, self.shortlist_size + i, gather)
        output = output + jnp.take_along_axis(head_lp, gather[:, None], axis=1)[:, 0]
        loss = jnp.mean(-output)
        return _ASMoutput(output if batched else output[0], loss)

    def log_prob(self, params: dict, input: jax.Array) -> jax.Array:
        """Log-probabilities of all ``n_classes`` classes, ``(N, n_classes)``."""
        head_lp = jax.nn.log_softmax(self.head(params["head"], input), axis=1)
        parts = [head_lp[:, :self.shortlist_size]]
        for i in range(self.n_clusters):
            lp = jax.nn.log_softmax(self.tail[i](params["tail"][str(i)], input), axis=1)
            parts.append(lp + head_lp[:, self.shortlist_size + i, None])
        return jnp.concatenate(parts, axis=1)

    def predict(self, params: dict, input: jax.Array) -> jax.Array:
        """The most probable class of each example (``log_prob(...).argmax(1)``)."""
        return jnp.argmax(self.log_prob(params, input), axis=1)
