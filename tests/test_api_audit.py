"""Input-validation audit of the public API: invalid arguments raise a clear error.

Every case calls one public function, constructor or method with one invalid argument
(a wrong type, a negative or zero size, an unknown mode string, mismatched shapes...) and
asserts that it raises ``ValueError`` or ``TypeError`` (``LookupError`` where Python's
convention is an index or key lookup, ``OSError`` for missing files) whose message names
the problem -- not a raw JAX shape error from deep inside, not a silent wrong result.

The table is grouped by module. ``test_audit_covers_the_public_api`` checks that every
public name of ``fnn.nn``, ``fnn.nn.functional``, ``fnn.losses``, ``fnn.optim``,
``fnn.optim.lr_scheduler``, ``fnn.data``, ``fnn.train``, ``fnn.checkpoint``,
``fnn.testfns`` and ``fnn.explore`` has at least one case here (or is listed in
``NO_ARGUMENTS`` with the reason it has nothing to validate).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import fnn
from fnn import checkpoint, data, explore, losses, nn, optim, testfns, train
from fnn.nn import functional as F
from fnn.nn import init
from fnn.optim import lr_scheduler as ls
from fnn.optim import swa_utils

CLEAR = (ValueError, TypeError)


class Case(NamedTuple):
    api: str  # the public name audited ("nn.Linear", "losses.mse_loss", ...)
    call: Callable[[], Any]
    match: str  # regex searched (case-insensitively) in the message
    exc: tuple[type[BaseException], ...] = CLEAR


KEY = jax.random.key(0)
x1 = jnp.ones((2, 3, 8))
x2 = jnp.ones((2, 3, 8, 8))
x3 = jnp.ones((1, 2, 4, 4, 4))
v = jnp.ones((4, 3))
P = {"w": jnp.ones(3)}


def _z(module):
    """Zero parameters of the right shapes, without running (and compiling) an initialiser."""
    return jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), jax.eval_shape(module.init, KEY))


# ---------------------------------------------------------------------- fnn.nn layers
LAYERS = [
    Case("nn.Linear", lambda: nn.Linear(-1, 2), "in_features"),
    Case("nn.Linear", lambda: nn.Linear(2.5, 2), "in_features"),
    Case("nn.Linear", lambda: nn.Linear(3, "4"), "out_features"),
    Case("nn.Linear", lambda: nn.Linear(3, 4)(_z(nn.Linear(3, 4)), jnp.ones((2, 5))),
         "in_features"),
    Case("nn.Bilinear", lambda: nn.Bilinear(2, -1, 3), "in2_features"),
    Case("nn.Bilinear", lambda: nn.Bilinear(2, 3, 4)(_z(nn.Bilinear(2, 3, 4)),
                                                     jnp.ones((5, 2)), jnp.ones((5, 2))),
         "last dimensions"),
    Case("nn.Flatten", lambda: nn.Flatten(start_dim="1"), "start_dim"),
    Case("nn.Flatten", lambda: nn.Flatten(1, 0.5), "end_dim"),
    Case("nn.Flatten", lambda: nn.Flatten(3)({}, v), "dimension out of range"),
    Case("nn.Flatten", lambda: nn.Flatten(1, 0)({}, x2), "start_dim cannot come after end_dim"),
    Case("nn.Unflatten", lambda: nn.Unflatten(1, 6), "unflattened_size"),
    Case("nn.Unflatten", lambda: nn.Unflatten(1, (2, -2)), "unflattened_size"),
    Case("nn.Unflatten", lambda: nn.Unflatten("1", (2, 2)), "dim"),
    Case("nn.Unflatten", lambda: nn.Unflatten(1, (2, 2))({}, v), "don't multiply up"),
    Case("nn.Conv1d", lambda: nn.Conv1d(-3, 4, 3), "in_channels"),
    Case("nn.Conv1d", lambda: nn.Conv1d(3, 4, 0), "kernel_size"),
    Case("nn.Conv1d", lambda: nn.Conv1d(3, 4, 3)(_z(nn.Conv1d(3, 4, 3)), x2),
         r"expected 2D \(unbatched\) or 3D"),
    Case("nn.Conv2d", lambda: nn.Conv2d(3, 4, 3, stride=0), "stride"),
    Case("nn.Conv2d", lambda: nn.Conv2d(3, 4, 3, padding=-1), "padding"),
    Case("nn.Conv2d", lambda: nn.Conv2d(3, 4, 3, padding="full"), "padding"),
    Case("nn.Conv2d", lambda: nn.Conv2d(3, 4, 3, stride=2, padding="same"), "same"),
    Case("nn.Conv2d", lambda: nn.Conv2d(3, 4, 3, dilation=0), "dilation"),
    Case("nn.Conv2d", lambda: nn.Conv2d(3, 4, 3, groups=0), "groups"),
    Case("nn.Conv2d", lambda: nn.Conv2d(3, 4, 3, groups=2), "divisible by groups"),
    Case("nn.Conv2d", lambda: nn.Conv2d(3, 4, (3,)), "kernel_size"),
    Case("nn.Conv2d", lambda: nn.Conv2d(3, 4, 3, padding_mode="mirror"), "padding_mode"),
    Case("nn.Conv2d", lambda: nn.Conv2d(4, 4, 3)(_z(nn.Conv2d(4, 4, 3)), x2),
         "channels"),
    Case("nn.Conv2d", lambda: nn.Conv2d(3, 4, 9)(_z(nn.Conv2d(3, 4, 9)), x2),
         "Kernel size can't be greater"),
    Case("nn.Conv3d", lambda: nn.Conv3d(2, 4, 3, stride=(1, 1)), "stride"),
    Case("nn.Conv3d", lambda: nn.Conv3d(2, 4, 3)(_z(nn.Conv3d(2, 4, 3)), v),
         "4D .unbatched. or 5D"),
    Case("nn.ConvTranspose1d", lambda: nn.ConvTranspose1d(3, 4, 3, padding_mode="reflect"),
         "zeros"),
    Case("nn.ConvTranspose1d", lambda: nn.ConvTranspose1d(3, 4, 3, padding="same"), "padding"),
    Case("nn.ConvTranspose2d", lambda: nn.ConvTranspose2d(3, 4, 3, output_padding=1)(
        _z(nn.ConvTranspose2d(3, 4, 3, output_padding=1)), x2), "output padding"),
    Case("nn.ConvTranspose2d", lambda: nn.ConvTranspose2d(3, 4, -1), "kernel_size"),
    Case("nn.ConvTranspose2d", lambda: nn.ConvTranspose2d(3, 4, 3, stride=2)(
        _z(nn.ConvTranspose2d(3, 4, 3, stride=2)), x2, output_size=(40, 40)),
        "output size"),
    Case("nn.MaxPool1d", lambda: nn.MaxPool1d(0), "kernel_size"),
    Case("nn.MaxPool1d", lambda: nn.MaxPool1d(2, padding=-1), "padding"),
    Case("nn.MaxPool2d", lambda: nn.MaxPool2d(2, stride=-1), "stride"),
    Case("nn.MaxPool2d", lambda: nn.MaxPool2d(2, dilation=0), "dilation"),
    Case("nn.MaxPool2d", lambda: nn.MaxPool2d("2"), "kernel_size"),
    Case("nn.MaxPool2d", lambda: nn.MaxPool2d(2, padding=2), "pad should be at most half"),
    Case("nn.MaxPool2d", lambda: nn.MaxPool2d(9)({}, x2), "output size"),
    Case("nn.AvgPool1d", lambda: nn.AvgPool1d(0), "kernel_size"),
    Case("nn.AvgPool1d", lambda: nn.AvgPool1d(3, padding=2), "pad should be at most half"),
    Case("nn.AvgPool2d", lambda: nn.AvgPool2d(2, divisor_override=0), "divisor"),
    Case("nn.AvgPool2d", lambda: nn.AvgPool2d(2, padding=(1, 1, 1)), "padding"),
    Case("nn.AvgPool2d", lambda: nn.AvgPool2d(2)({}, v), r"expected 3D \(unbatched\) or 4D"),
    Case("nn.AdaptiveAvgPool1d", lambda: nn.AdaptiveAvgPool1d(-1), "output_size"),
    Case("nn.AdaptiveAvgPool2d", lambda: nn.AdaptiveAvgPool2d((2, 2, 2)), "output_size"),
    Case("nn.AdaptiveAvgPool2d", lambda: nn.AdaptiveAvgPool2d("a"), "output_size"),
    Case("nn.AdaptiveMaxPool2d", lambda: nn.AdaptiveMaxPool2d(2.5), "output_size"),
    Case("nn.ReLU", lambda: nn.ReLU()({}, "abc"), "array|str"),
    Case("nn.ReLU6", lambda: nn.ReLU6()({}, None), "array|None"),
    Case("nn.LeakyReLU", lambda: nn.LeakyReLU("0.1"), "negative_slope"),
    Case("nn.PReLU", lambda: nn.PReLU(0), "num_parameters"),
    Case("nn.PReLU", lambda: nn.PReLU(3)(_z(nn.PReLU(3)), jnp.ones((2, 4))),
         "parameter numbers and input channel size"),
    Case("nn.ELU", lambda: nn.ELU(alpha="1"), "alpha"),
    Case("nn.SELU", lambda: nn.SELU()({}, "x"), "array|str"),
    Case("nn.CELU", lambda: nn.CELU(alpha=0.0), "alpha"),
    Case("nn.GELU", lambda: nn.GELU(approximate="fast"), "approximate"),
    Case("nn.SiLU", lambda: nn.SiLU()({}, "x"), "array|str"),
    Case("nn.Mish", lambda: nn.Mish()({}, "x"), "array|str"),
    Case("nn.Sigmoid", lambda: nn.Sigmoid()({}, "x"), "array|str"),
    Case("nn.Tanh", lambda: nn.Tanh()({}, "x"), "array|str"),
    Case("nn.Hardtanh", lambda: nn.Hardtanh(1.0, -1.0), "max_val"),
    Case("nn.Hardsigmoid", lambda: nn.Hardsigmoid()({}, "x"), "array|str"),
    Case("nn.Hardswish", lambda: nn.Hardswish()({}, "x"), "array|str"),
    Case("nn.Softplus", lambda: nn.Softplus(beta="1"), "beta"),
    Case("nn.Softsign", lambda: nn.Softsign()({}, "x"), "array|str"),
    Case("nn.Softmax", lambda: nn.Softmax(dim="1"), "dim"),
    Case("nn.Softmax", lambda: nn.Softmax(dim=2)({}, v), "dim"),
    Case("nn.LogSoftmax", lambda: nn.LogSoftmax(dim=-3)({}, v), "dim"),
    Case("nn.Threshold", lambda: nn.Threshold("0.1", 0.0), "threshold"),
    Case("nn.Dropout", lambda: nn.Dropout(1.5), "probability"),
    Case("nn.Dropout", lambda: nn.Dropout("0.5"), "probability|p"),
    Case("nn.Dropout", lambda: nn.Dropout(0.5)({}, v, train=True), "key"),
    Case("nn.Dropout2d", lambda: nn.Dropout2d(-0.1), "probability"),
    Case("nn.BatchNorm1d", lambda: nn.BatchNorm1d(0), "num_features"),
    Case("nn.BatchNorm1d", lambda: nn.BatchNorm1d(3.0), "num_features"),
    Case("nn.BatchNorm1d", lambda: nn.BatchNorm1d(3, momentum="0.1"), "momentum"),
    Case("nn.BatchNorm1d", lambda: nn.BatchNorm1d(3, eps=-1.0), "eps"),
    Case("nn.BatchNorm1d", lambda: nn.BatchNorm1d(4)(_z(nn.BatchNorm1d(4)), v,
                                                      buffers=nn.BatchNorm1d(4).init_buffers()),
         "channels"),
    Case("nn.BatchNorm1d", lambda: nn.BatchNorm1d(3)(_z(nn.BatchNorm1d(3)), v),
         "buffers"),
    Case("nn.BatchNorm2d", lambda: nn.BatchNorm2d(3)(_z(nn.BatchNorm2d(3)), v), "4D"),
    Case("nn.LayerNorm", lambda: nn.LayerNorm(-2), "normalized_shape"),
    Case("nn.LayerNorm", lambda: nn.LayerNorm("3"), "normalized_shape"),
    Case("nn.LayerNorm", lambda: nn.LayerNorm(3, eps=-1.0), "eps"),
    Case("nn.LayerNorm", lambda: nn.LayerNorm(5)(_z(nn.LayerNorm(5)), v),
         "normalized_shape"),
    Case("nn.GroupNorm", lambda: nn.GroupNorm(3, 4), "divisible"),
    Case("nn.GroupNorm", lambda: nn.GroupNorm(0, 4), "num_groups"),
    Case("nn.GroupNorm", lambda: nn.GroupNorm("2", 4), "num_groups"),
    Case("nn.GroupNorm", lambda: nn.GroupNorm(2, 4)(_z(nn.GroupNorm(2, 4)), v),
         "expected input"),
    Case("nn.Embedding", lambda: nn.Embedding(-1, 3), "num_embeddings"),
    Case("nn.Embedding", lambda: nn.Embedding(4, 3, padding_idx=4), "padding_idx"),
    Case("nn.Embedding", lambda: nn.Embedding(4, 3)(_z(nn.Embedding(4, 3)),
                                                    jnp.array([0.0, 1.0])), "integer"),
    Case("nn.Embedding", lambda: nn.Embedding(4, 3)(_z(nn.Embedding(4, 3)),
                                                    jnp.array([0, 9])), "index out of range",
         (IndexError,)),
    Case("nn.Identity", lambda: nn.Identity()({}), "input|argument"),
    Case("nn.Sequential", lambda: nn.Sequential(nn.ReLU(), "relu"), "not an fnn.nn.Module"),
    Case("nn.ModuleList", lambda: nn.ModuleList([nn.ReLU(), 3]), "not an fnn.nn.Module"),
    Case("nn.ModuleDict", lambda: nn.ModuleDict({"a": lambda x: x}), "not an fnn.nn.Module"),
    Case("nn.Module", lambda: nn.Linear(2, 3).init(0), "jax.random.key"),
    Case("nn.Module", lambda: nn.Linear(2, 3).init("key"), "jax.random.key"),
    Case("nn.Module", lambda: nn.Module()({}, v), "forward", (NotImplementedError,)),
    Case("nn.named_parameters", lambda: nn.named_parameters([1, 2]), "dict|mapping"),
    Case("nn.num_parameters", lambda: nn.num_parameters("params"), "dict|mapping"),
    Case("nn.summary", lambda: nn.summary(3), "dict|mapping"),
    # activation checkpointing (issue 19)
    Case("nn.Checkpoint", lambda: nn.Checkpoint(lambda x: x), "expected an fnn.nn.Module"),
    Case("nn.checkpoint", lambda: nn.checkpoint(3, v), "expected a callable"),
    Case("nn.checkpoint", lambda: nn.checkpoint(nn.ReLU(), policy="bogus"), "unknown policy"),
    # recurrent layers (rnn.py)
    Case("nn.RNNBase", lambda: nn.RNNBase("LSTMX", 3, 4), "Unrecognized RNN mode"),
    Case("nn.RNN", lambda: nn.RNN(3, 4, nonlinearity="gelu"), "Unknown nonlinearity"),
    Case("nn.RNN", lambda: nn.RNN(3, 4)(_z(nn.RNN(3, 4)), jnp.ones((5, 2, 2), jnp.float32)),
         "must be equal to input_size"),
    Case("nn.LSTM", lambda: nn.LSTM(3, 4, proj_size=4), "proj_size has to be smaller"),
    Case("nn.LSTM", lambda: nn.LSTM(3, 4)(_z(nn.LSTM(3, 4)), jnp.ones((5, 2, 3), jnp.float32),
                                          (jnp.ones((1, 3, 4)), jnp.ones((1, 2, 4)))),
         r"Expected hidden\[0\] size"),
    Case("nn.GRU", lambda: nn.GRU(3, 4, proj_size=2), "only supported for LSTM"),
    Case("nn.GRU", lambda: nn.GRU(3, 4, dropout=2.0), "dropout should be a number"),
    Case("nn.RNNCellBase", lambda: nn.RNNCellBase(3, 0, True, 1), "hidden_size must be greater"),
    Case("nn.RNNCell", lambda: nn.RNNCell(3, 4, nonlinearity="gelu"), "Unknown nonlinearity"),
    Case("nn.LSTMCell", lambda: nn.LSTMCell(3, 4)(_z(nn.LSTMCell(3, 4)), jnp.ones((2, 5))),
         "inconsistent input_size"),
    Case("nn.GRUCell", lambda: nn.GRUCell("3", 4), "input_size should be of type int"),
]

# ---------------------------------------------------------------------- loss modules
LOSS_MODULES = [
    Case(f"nn.{name}", (lambda name=name: getattr(nn, name)(reduction="avg")), "reduction")
    for name in ["L1Loss", "MSELoss", "CrossEntropyLoss", "NLLLoss", "BCELoss",
                 "BCEWithLogitsLoss", "KLDivLoss", "HuberLoss", "SmoothL1Loss", "SoftMarginLoss",
                 "MultiLabelSoftMarginLoss", "MultiMarginLoss", "MultiLabelMarginLoss",
                 "HingeEmbeddingLoss", "CosineEmbeddingLoss", "MarginRankingLoss",
                 "TripletMarginLoss", "TripletMarginWithDistanceLoss", "PoissonNLLLoss",
                 "GaussianNLLLoss", "CTCLoss"]
] + [
    Case("nn.MSELoss", lambda: nn.MSELoss(reductio="sum"), "reductio"),
    Case("nn.MSELoss", lambda: nn.MSELoss()(v, jnp.ones(3)), "shape"),
    Case("nn.CrossEntropyLoss", lambda: nn.CrossEntropyLoss(label_smoothing=1.5),
         "label_smoothing"),
    Case("nn.HuberLoss", lambda: nn.HuberLoss(delta=-1.0), "delta"),
    Case("nn.SmoothL1Loss", lambda: nn.SmoothL1Loss(beta=-1.0), "beta"),
    Case("nn.MultiMarginLoss", lambda: nn.MultiMarginLoss(p=3), "p"),
    Case("nn.CTCLoss", lambda: nn.CTCLoss(blank=-1), "blank"),
    Case("nn.TripletMarginLoss", lambda: nn.TripletMarginLoss(margin=-1.0), "margin"),
    Case("nn.TripletMarginWithDistanceLoss",
         lambda: nn.TripletMarginWithDistanceLoss(distance_function=3), "distance_function"),
    Case("nn.GaussianNLLLoss", lambda: nn.GaussianNLLLoss(eps="1e-6"), "eps"),
    Case("nn.PoissonNLLLoss", lambda: nn.PoissonNLLLoss(eps=None), "eps"),
]

# ---------------------------------------------------------------------- fnn.losses
_y = jnp.array([0, 2, 1, 1])
_pm = jnp.array([1.0, -1.0, 1.0, -1.0])
_LOSS_CALLS: dict[str, Callable[..., Any]] = {
    "l1_loss": lambda **k: losses.l1_loss(v, v, **k),
    "mse_loss": lambda **k: losses.mse_loss(v, v, **k),
    "huber_loss": lambda **k: losses.huber_loss(v, v, **k),
    "smooth_l1_loss": lambda **k: losses.smooth_l1_loss(v, v, **k),
    "cross_entropy": lambda **k: losses.cross_entropy(v, _y, **k),
    "nll_loss": lambda **k: losses.nll_loss(v, _y, **k),
    "binary_cross_entropy": lambda **k: losses.binary_cross_entropy(v * 0.5, v * 0.5, **k),
    "binary_cross_entropy_with_logits":
        lambda **k: losses.binary_cross_entropy_with_logits(v, v, **k),
    "soft_margin_loss": lambda **k: losses.soft_margin_loss(v, v, **k),
    "multilabel_soft_margin_loss": lambda **k: losses.multilabel_soft_margin_loss(v, v, **k),
    "multi_margin_loss": lambda **k: losses.multi_margin_loss(v, _y, **k),
    "multilabel_margin_loss":
        lambda **k: losses.multilabel_margin_loss(v, jnp.zeros((4, 3), jnp.int32), **k),
    "hinge_embedding_loss": lambda **k: losses.hinge_embedding_loss(_pm, _pm, **k),
    "cosine_embedding_loss": lambda **k: losses.cosine_embedding_loss(v, v, _pm, **k),
    "margin_ranking_loss": lambda **k: losses.margin_ranking_loss(_pm, _pm, _pm, **k),
    "triplet_margin_loss": lambda **k: losses.triplet_margin_loss(v, v, v, **k),
    "triplet_margin_with_distance_loss":
        lambda **k: losses.triplet_margin_with_distance_loss(v, v, v, **k),
    "kl_div": lambda **k: losses.kl_div(v, v, **k),
    "poisson_nll_loss": lambda **k: losses.poisson_nll_loss(v, v, **k),
    "gaussian_nll_loss": lambda **k: losses.gaussian_nll_loss(v, v, v, **k),
    "ctc_loss": lambda **k: losses.ctc_loss(
        jax.nn.log_softmax(jnp.zeros((5, 2, 4))), jnp.array([[1, 2], [1, 1]]),
        jnp.array([5, 5]), jnp.array([2, 2]), **k),
}
LOSSES = [Case(f"losses.{name}", (lambda f=f: f(reduction="average")), "reduction")
          for name, f in _LOSS_CALLS.items()] + [
    Case("losses.l1_loss", lambda: losses.l1_loss(v, jnp.ones(3)), "shape"),
    Case("losses.l1_loss", lambda: losses.l1_loss(v, v, weight=jnp.ones(3)), "weight"),
    Case("losses.mse_loss", lambda: losses.mse_loss(v, v.T), "shape"),
    Case("losses.mse_loss", lambda: losses.mse_loss("a", v), "shape|str|array"),
    Case("losses.huber_loss", lambda: losses.huber_loss(v, v, delta=0.0), "delta"),
    Case("losses.smooth_l1_loss", lambda: losses.smooth_l1_loss(v, v, beta=-0.5), "beta"),
    Case("losses.cross_entropy", lambda: losses.cross_entropy(v, jnp.array([0, 1])),
         "batch_size"),
    Case("losses.cross_entropy", lambda: losses.cross_entropy(v, _y.astype(float)),
         "integer|floating"),
    Case("losses.cross_entropy", lambda: losses.cross_entropy(v, _y, weight=jnp.ones(4)),
         "weight"),
    Case("losses.cross_entropy", lambda: losses.cross_entropy(v, _y, label_smoothing=1.5),
         "label_smoothing"),
    Case("losses.cross_entropy", lambda: losses.cross_entropy(jnp.ones(()), _y),
         "class dimension"),
    Case("losses.cross_entropy", lambda: losses.cross_entropy(v, jnp.array([0, 1, 2, 3])),
         "out of bounds", (IndexError, ValueError)),
    Case("losses.nll_loss", lambda: losses.nll_loss(v, jnp.zeros((4, 3), jnp.int32)),
         "target of shape"),
    Case("losses.binary_cross_entropy", lambda: losses.binary_cross_entropy(v * 2, v * 0.5),
         "between 0 and 1"),
    Case("losses.binary_cross_entropy",
         lambda: losses.binary_cross_entropy(v * 0.5, jnp.ones(3)), "size"),
    Case("losses.binary_cross_entropy",
         lambda: losses.binary_cross_entropy(v * 0.5, v, weight=jnp.ones(2)), "weight|broadcast"),
    Case("losses.binary_cross_entropy_with_logits",
         lambda: losses.binary_cross_entropy_with_logits(v, v, pos_weight=jnp.ones(2)),
         "pos_weight"),
    Case("losses.soft_margin_loss", lambda: losses.soft_margin_loss(v, jnp.ones(4)), "shape"),
    Case("losses.multilabel_soft_margin_loss",
         lambda: losses.multilabel_soft_margin_loss(v, v, weight=jnp.ones(2)), "weight"),
    Case("losses.multi_margin_loss", lambda: losses.multi_margin_loss(v, _y, p=3), "p"),
    Case("losses.multi_margin_loss", lambda: losses.multi_margin_loss(v, _y[:2]), "target"),
    Case("losses.multi_margin_loss",
         lambda: losses.multi_margin_loss(v, _y, weight=jnp.ones(2)), "weight"),
    Case("losses.multilabel_margin_loss",
         lambda: losses.multilabel_margin_loss(v, jnp.zeros((4, 2), jnp.int32)), "target"),
    Case("losses.hinge_embedding_loss", lambda: losses.hinge_embedding_loss(v, _pm), "shape"),
    Case("losses.cosine_embedding_loss",
         lambda: losses.cosine_embedding_loss(v, jnp.ones((4, 2)), _pm), "input1|input2|size"),
    Case("losses.cosine_embedding_loss",
         lambda: losses.cosine_embedding_loss(v, v, jnp.ones(3)), "target"),
    Case("losses.margin_ranking_loss",
         lambda: losses.margin_ranking_loss(_pm, jnp.ones(3), _pm), "size|shape"),
    Case("losses.triplet_margin_loss",
         lambda: losses.triplet_margin_loss(v, v, jnp.ones((4, 2))), "negative|shape|dim"),
    Case("losses.triplet_margin_loss", lambda: losses.triplet_margin_loss(v, v, v, margin=-1.0),
         "margin"),
    Case("losses.triplet_margin_with_distance_loss",
         lambda: losses.triplet_margin_with_distance_loss(v, v, v, distance_function="l2"),
         "distance_function"),
    Case("losses.triplet_margin_with_distance_loss",
         lambda: losses.triplet_margin_with_distance_loss(v, v, v, margin=0.0), "margin"),
    Case("losses.kl_div", lambda: losses.kl_div(v, jnp.ones(3)), "shape"),
    Case("losses.poisson_nll_loss", lambda: losses.poisson_nll_loss(v, jnp.ones(3)), "shape"),
    Case("losses.gaussian_nll_loss", lambda: losses.gaussian_nll_loss(v, v, -v), "var"),
    Case("losses.gaussian_nll_loss", lambda: losses.gaussian_nll_loss(v, v, jnp.ones(2)),
         "var"),
    Case("losses.ctc_loss", lambda: _LOSS_CALLS["ctc_loss"](blank=7), "blank"),
    Case("losses.ctc_loss", lambda: losses.ctc_loss(
        jnp.zeros((5, 2, 4)), jnp.array([[1, 2], [1, 1]]), jnp.array([5, 9]),
        jnp.array([2, 2])), "input_lengths|length"),
    Case("losses.pairwise_distance", lambda: losses.pairwise_distance(v, jnp.ones((4, 2))),
         "size|shape|broadcast"),
    Case("losses.cosine_similarity", lambda: losses.cosine_similarity(v, v, dim=3), "dim"),
    Case("losses.cosine_similarity", lambda: losses.cosine_similarity(v, jnp.ones((4, 2))),
         "size|shape|broadcast"),
]

# ---------------------------------------------------------------------- fnn.nn.functional
FUNCTIONAL = [
    Case("F.linear", lambda: F.linear(v, jnp.ones((2, 4))), "weight|shape"),
    Case("F.linear", lambda: F.linear(v, jnp.ones((2, 3)), jnp.ones(3)), "bias"),
    Case("F.bilinear", lambda: F.bilinear(v, v, jnp.ones((2, 3, 4))), "weight|shape"),
    Case("F.conv1d", lambda: F.conv1d(x1, jnp.ones((4, 3))), "weight must be 3D"),
    Case("F.conv1d", lambda: F.conv1d(x1, jnp.ones((4, 2, 3))), "channels"),
    Case("F.conv2d", lambda: F.conv2d(x2, jnp.ones((4, 3, 3, 3)), stride=0), "stride"),
    Case("F.conv2d", lambda: F.conv2d(x2, jnp.ones((4, 3, 3, 3)), padding="full"), "padding"),
    Case("F.conv2d", lambda: F.conv2d(x2, jnp.ones((4, 3, 3, 3)), jnp.ones(3)), "bias"),
    Case("F.conv2d", lambda: F.conv2d(x2, jnp.ones((4, 3, 3, 3)), groups=0), "groups"),
    Case("F.conv2d", lambda: F.conv2d(x2, jnp.ones((4, 3, 9, 9))), "Kernel size"),
    Case("F.conv3d", lambda: F.conv3d(x3, jnp.ones((4, 2, 3, 3, 3)), dilation=(1, 1)),
         "dilation"),
    Case("F.conv_transpose1d", lambda: F.conv_transpose1d(x1, jnp.ones((3, 2, 3)),
                                                          output_padding=2, stride=2),
         "output padding"),
    Case("F.conv_transpose2d", lambda: F.conv_transpose2d(x2, jnp.ones((4, 2, 3, 3))),
         "channels"),
    Case("F.conv_transpose2d", lambda: F.conv_transpose2d(x2, jnp.ones((3, 2, 3, 3)),
                                                          padding=-1), "padding"),
    Case("F.max_pool1d", lambda: F.max_pool1d(x1, 0), "kernel_size"),
    Case("F.max_pool2d", lambda: F.max_pool2d(x2, 2, padding=2), "pad should be at most half"),
    Case("F.max_pool2d", lambda: F.max_pool2d(v, 2), r"expected 3D \(unbatched\) or 4D"),
    Case("F.avg_pool1d", lambda: F.avg_pool1d(x1, 2, stride=0), "stride"),
    Case("F.avg_pool2d", lambda: F.avg_pool2d(x2, 2, divisor_override=0), "divisor"),
    Case("F.avg_pool2d", lambda: F.avg_pool2d(x2, 9), "output size"),
    Case("F.adaptive_avg_pool1d", lambda: F.adaptive_avg_pool1d(x1, -1), "output_size"),
    Case("F.adaptive_avg_pool2d", lambda: F.adaptive_avg_pool2d(x2, (1, 2, 3)), "output_size"),
    Case("F.adaptive_max_pool2d", lambda: F.adaptive_max_pool2d(x1[0], 2), "expected 3D"),
    Case("F.relu", lambda: F.relu("x"), "array|str"),
    Case("F.relu6", lambda: F.relu6("x"), "array|str"),
    Case("F.leaky_relu", lambda: F.leaky_relu(v, "0.1"), "negative_slope"),
    Case("F.prelu", lambda: F.prelu(x2, jnp.ones(2)), "parameter numbers and input channel"),
    Case("F.elu", lambda: F.elu(v, alpha="1"), "alpha"),
    Case("F.selu", lambda: F.selu("x"), "array|str"),
    Case("F.celu", lambda: F.celu(v, alpha=0.0), "alpha"),
    Case("F.gelu", lambda: F.gelu(v, approximate="fast"), "approximate"),
    Case("F.silu", lambda: F.silu("x"), "array|str"),
    Case("F.mish", lambda: F.mish("x"), "array|str"),
    Case("F.sigmoid", lambda: F.sigmoid("x"), "array|str"),
    Case("F.tanh", lambda: F.tanh("x"), "array|str"),
    Case("F.hardtanh", lambda: F.hardtanh(v, 1.0, -1.0), "max_val"),
    Case("F.hardsigmoid", lambda: F.hardsigmoid("x"), "array|str"),
    Case("F.hardswish", lambda: F.hardswish("x"), "array|str"),
    Case("F.softplus", lambda: F.softplus(v, beta="2"), "beta"),
    Case("F.softsign", lambda: F.softsign("x"), "array|str"),
    Case("F.softmax", lambda: F.softmax(v, dim=2), "dim"),
    Case("F.softmax", lambda: F.softmax(v, dim="0"), "dim"),
    Case("F.log_softmax", lambda: F.log_softmax(v, dim=-3), "dim"),
    Case("F.threshold", lambda: F.threshold(v, "0.5", 0.0), "threshold"),
    Case("F.logsigmoid", lambda: F.logsigmoid("x"), "array|str"),
    Case("F.dropout", lambda: F.dropout(v, 1.5, key=KEY), "probability"),
    Case("F.dropout", lambda: F.dropout(v, 0.5), "key"),
    Case("F.dropout2d", lambda: F.dropout2d(x2, -0.5, key=KEY), "probability"),
    Case("F.batch_norm", lambda: F.batch_norm(v, jnp.zeros(2), jnp.ones(2)),
         "running_mean|shape"),
    Case("F.batch_norm", lambda: F.batch_norm(v, None, None, training=False), "running"),
    Case("F.layer_norm", lambda: F.layer_norm(v, (4,)), "normalized_shape"),
    Case("F.layer_norm", lambda: F.layer_norm(v, (3,), weight=jnp.ones(2)), "weight"),
    Case("F.group_norm", lambda: F.group_norm(x2, 2), "divisible|num_groups"),
    Case("F.embedding", lambda: F.embedding(jnp.array([0.5]), v), "integer"),
    Case("F.embedding", lambda: F.embedding(jnp.array([0]), jnp.ones(3)), "weight"),
    Case("F.one_hot", lambda: F.one_hot(jnp.array([0, 5]), 3), "num_classes|class"),
    Case("F.one_hot", lambda: F.one_hot(jnp.array([0.0]), 3), "index tensor"),
    Case("F.pad", lambda: F.pad(v, (1,)), "pad"),
    Case("F.pad", lambda: F.pad(v, (1, 1), mode="mirror"), "mode"),
    Case("F.pad", lambda: F.pad(x2, (5, 5), mode="reflect"), "pad|dimension"),
]

# ---------------------------------------------------------------------- fnn.nn.init
INIT = [
    Case("init.calculate_gain", lambda: init.calculate_gain("swish"), "nonlinearity"),
    Case("init.calculate_gain", lambda: init.calculate_gain("leaky_relu", "0.2"),
         "negative_slope"),
    Case("init.uniform_", lambda: init.uniform_(KEY, (-1, 2)), "shape"),
    Case("init.uniform_", lambda: init.uniform_(KEY, (2, 2), 1.0, 0.0), r"a|b|\[1.0, 0.0\]|bound"),
    Case("init.uniform_", lambda: init.uniform_(0, (2, 2)), "key"),
    Case("init.normal_", lambda: init.normal_(KEY, (2, 2), std=-1.0), "std"),
    Case("init.trunc_normal_", lambda: init.trunc_normal_(KEY, (2, 2), a=2.0, b=-2.0),
         r"\ba\b|\bb\b"),
    Case("init.constant_", lambda: init.constant_((2, "2"), 1.0), "shape"),
    Case("init.ones_", lambda: init.ones_((-2,)), "shape"),
    Case("init.zeros_", lambda: init.zeros_("3"), "shape"),
    Case("init.eye_", lambda: init.eye_((2, 2, 2)), "2"),
    Case("init.dirac_", lambda: init.dirac_((4, 4)), "3, 4, 5|dimensions"),
    Case("init.dirac_", lambda: init.dirac_((4, 4, 3), groups=3), "groups|divisible"),
    Case("init.xavier_uniform_", lambda: init.xavier_uniform_(KEY, (3,)), "fan"),
    Case("init.xavier_normal_", lambda: init.xavier_normal_(KEY, (3,)), "fan"),
    Case("init.kaiming_uniform_", lambda: init.kaiming_uniform_(KEY, (3, 3), mode="fan_avg"),
         "mode"),
    Case("init.kaiming_normal_",
         lambda: init.kaiming_normal_(KEY, (3, 3), nonlinearity="swish"), "nonlinearity"),
    Case("init.orthogonal_", lambda: init.orthogonal_(KEY, (3,)), "2 or more|dimensions"),
    Case("init.sparse_", lambda: init.sparse_(KEY, (3, 3, 3), 0.5), "2"),
    Case("init.sparse_", lambda: init.sparse_(KEY, (3, 3), "0.5"), "sparsity"),
]

# ---------------------------------------------------------------------- fnn.optim
_FACTORIES = ["sgd", "adam", "adamw", "adamax", "nadam", "radam", "adagrad", "adadelta",
              "rmsprop", "rprop", "asgd", "adafactor", "muon", "sparse_adam",
              "lbfgs", "adabelief", "adabound", "adahessian", "madgrad", "qhadam", "swats",
              "yogi"]
OPTIM = [Case(f"optim.{name}", (lambda name=name: getattr(optim, name)(lr=-1.0)),
              "learning rate")
         for name in _FACTORIES] + [
    Case(f"optim.{name}", (lambda name=name: getattr(optim, name)(lr="0.1")), "learning rate")
    for name in _FACTORIES] + [
    Case(f"optim.{name}", (lambda name=name: getattr(optim, name)(lr=None)), "learning rate")
    for name in _FACTORIES] + [
    Case("optim.sgd", lambda: optim.sgd(0.1, momentum=-0.9), "momentum"),
    Case("optim.sgd", lambda: optim.sgd(0.1, nesterov=True), "Nesterov"),
    Case("optim.sgd", lambda: optim.sgd(0.1, weight_decay=-1), "weight_decay"),
    Case("optim.sgd", lambda: optim.sgd(0.1, momentum="0.9"), "momentum"),
    Case("optim.sgd", lambda: optim.sgd(0.1, param_groups={"params": "a", "lr": 0.1}),
         "param_groups"),
    Case("optim.sgd", lambda: optim.sgd(0.1, param_groups=[("a", 0.1)]), "param_groups"),
    Case("optim.sgd", lambda: optim.sgd(0.1, param_groups=[{"lr": 0.1}]), "params"),
    Case("optim.sgd", lambda: optim.sgd(0.1, param_groups=[{"params": 3}]), "params"),
    Case("optim.sgd", lambda: optim.sgd(0.1, param_groups=[{"params": "a", "betas": 1}]),
         "unknown hyperparameter"),
    Case("optim.sgd", lambda: optim.sgd(0.1, param_groups=[{"params": "a", "lr": -1}]),
         "learning rate"),
    Case("optim.adam", lambda: optim.adam(betas=(0.9, 1.0)), "beta parameter at index 1"),
    Case("optim.adam", lambda: optim.adam(betas=0.9), "betas"),
    Case("optim.adam", lambda: optim.adam(betas=(0.9,)), "betas"),
    Case("optim.adam", lambda: optim.adam(eps=-1e-8), "epsilon"),
    Case("optim.adam", lambda: optim.adam(eps="tiny"), "epsilon"),
    Case("optim.adam", lambda: optim.adam(weight_decay=-0.1), "weight_decay"),
    Case("optim.adam", lambda: optim.adam(lr=jnp.ones(2)), "1-element"),
    Case("optim.adam", lambda: optim.adam().update(P, optim.adam().init(P)), "parameters"),
    Case("optim.adam", lambda: optim.adam().update(P, optim.sgd(0.1).init(P), P)
         if False else optim.adam().update(P, (1, 2), P), "OptState"),
    Case("optim.adamw", lambda: optim.adamw(betas=(-0.1, 0.9)), "beta parameter at index 0"),
    Case("optim.adamax", lambda: optim.adamax(eps=-1), "epsilon"),
    Case("optim.nadam", lambda: optim.nadam(momentum_decay=-1), "momentum_decay"),
    Case("optim.radam", lambda: optim.radam(weight_decay=-1), "weight_decay"),
    Case("optim.adagrad", lambda: optim.adagrad(lr_decay=-1), "lr_decay"),
    Case("optim.adagrad", lambda: optim.adagrad(initial_accumulator_value=-1),
         "initial_accumulator_value"),
    Case("optim.adadelta", lambda: optim.adadelta(rho=1.5), "rho"),
    Case("optim.rmsprop", lambda: optim.rmsprop(alpha=-0.5), "alpha"),
    Case("optim.rprop", lambda: optim.rprop(etas=(1.5, 1.2)), "eta"),
    Case("optim.rprop", lambda: optim.rprop(step_sizes=1e-6), "step_sizes"),
    Case("optim.asgd", lambda: optim.asgd(weight_decay=-1), "weight_decay"),
    Case("optim.asgd_averaged", lambda: optim.asgd_averaged(optim.sgd(0.1).init(P)), "'ax'",
         (KeyError,)),
    Case("optim.asgd_averaged", lambda: optim.asgd_averaged(None), "no fnn optimizer state"),
    Case("optim.adafactor", lambda: optim.adafactor(beta2_decay=0.5), "beta2_decay"),
    Case("optim.adafactor", lambda: optim.adafactor(eps=(None, -1.0)), "epsilon"),
    Case("optim.muon", lambda: optim.muon(ns_steps=-1), "ns_steps|Newton"),
    Case("optim.muon", lambda: optim.muon(adjust_lr_fn="bogus"), "Adjust learning rate function"),
    Case("optim.sparse_adam", lambda: optim.sparse_adam(betas=(0.9, 2.0)), "beta"),
    Case("optim.lbfgs", lambda: optim.lbfgs(line_search_fn="armijo"), "line_search_fn|line search"),
    Case("optim.lbfgs", lambda: optim.lbfgs(history_size=0), "history_size"),
    Case("optim.lbfgs", lambda: optim.lbfgs(max_iter=-1), "max_iter"),
    Case("optim.lbfgs", lambda: optim.lbfgs(max_iter="20"), "max_iter"),
    Case("optim.lbfgs", lambda: optim.lbfgs().update(P, optim.lbfgs().init(P), P),
         "value_fn|loss"),
    Case("optim.adabelief", lambda: optim.adabelief(eps=-1), "epsilon"),
    Case("optim.adabound", lambda: optim.adabound(final_lr=-1), "final"),
    Case("optim.adabound", lambda: optim.adabound(gamma=2.0), "gamma"),
    Case("optim.adahessian", lambda: optim.adahessian(hessian_power=2.0), "Hessian power"),
    Case("optim.adahessian", lambda: optim.adahessian().update(P, optim.adahessian().init(P), P),
         "loss function|value_fn"),
    Case("optim.madgrad", lambda: optim.madgrad(momentum=1.0), "momentum"),
    Case("optim.qhadam", lambda: optim.qhadam(nus=1.0), "nus"),
    Case("optim.swats", lambda: optim.swats(eps=-1.0), "epsilon"),
    Case("optim.yogi", lambda: optim.yogi(betas=[0.9]), "betas"),
    Case("optim.step", lambda: optim.step("adam", lambda p: 0.0, P, None), "GradientTransformation"),
    Case("optim.step", lambda: optim.step(optim.sgd(0.1), 3.0, P, optim.sgd(0.1).init(P)),
         "callable"),
    Case("optim.step", lambda: optim.step(optim.sgd(0.1), lambda p: p["w"], P,
                                          optim.sgd(0.1).init(P)), "scalar"),
    Case("optim.apply_updates", lambda: optim.apply_updates(P, {"v": jnp.ones(3)}),
         "structure|tree|keys|v"),
    Case("optim.get_lr", lambda: optim.get_lr({"not": "a state"}), "no fnn optimizer state"),
    Case("optim.set_lr", lambda: optim.set_lr(optim.sgd(0.1).init(P), 0.1, group=3),
         "out of range", (IndexError,)),
    Case("optim.set_lr", lambda: optim.set_lr(optim.sgd(0.1).init(P), [0.1, 0.2]),
         "one per group"),
    Case("optim.get_hyperparam", lambda: optim.get_hyperparam(optim.sgd(0.1).init(P), "beta"),
         "unknown hyperparameter", (KeyError,)),
    Case("optim.get_hyperparams", lambda: optim.get_hyperparams(None), "no fnn optimizer state"),
    Case("optim.set_hyperparam",
         lambda: optim.set_hyperparam(optim.adam().init(P), "betas", 0.9), "tuple"),
    Case("optim.nonfinite_guard", lambda: optim.nonfinite_guard("adam"),
         "GradientTransformation"),
    Case("optim.nonfinite_guard", lambda: optim.nonfinite_guard(optim.adam(), "ignore"),
         "policy"),
    Case("optim.nonfinite_guard", lambda: optim.nonfinite_guard(optim.adam(), max_consecutive=-1),
         "max_consecutive"),
    Case("optim.nonfinite_guard", lambda: optim.nonfinite_guard(optim.adam()).update(
        P, optim.adam().init(P), P), "NonFiniteState"),
    Case("optim.nonfinite_stats", lambda: optim.nonfinite_stats(optim.adam().init(P)),
         "no nonfinite_guard state"),
    Case("optim.check_finite", lambda: optim.check_finite(None), "no nonfinite_guard state"),
    Case("optim.build", lambda: optim.build("sgd", {"lr": 0.1}), "Rule"),
    Case("optim.Rule", lambda: optim.build(optim.Rule("r", None, None), {"lr": 0.1}),
         "callable init and update"),
    Case("optim.OptState", lambda: optim.OptState(1, 2), "state|missing|argument"),
    Case("optim.describe", lambda: optim.describe(optim.nonfinite_guard(optim.sgd(0.1))),
         "not an fnn optimizer"),
    Case("optim.set_scalar_dtype", lambda: optim.set_scalar_dtype("int32"),
         "only float32 and float64"),
]

# ---------------------------------------------------------------------- lr schedulers
_OS = optim.sgd(0.1, momentum=0.9).init(P)
SCHED = [
    Case("lr_scheduler.LambdaLR", lambda: ls.LambdaLR(3).init(_OS), "lr_lambda"),
    Case("lr_scheduler.LambdaLR", lambda: ls.LambdaLR([lambda e: 1.0] * 2).init(_OS),
         "lr_lambdas"),
    Case("lr_scheduler.MultiplicativeLR", lambda: ls.MultiplicativeLR("x").init(_OS),
         "lr_lambda"),
    Case("lr_scheduler.StepLR", lambda: ls.StepLR(0), "step_size"),
    Case("lr_scheduler.StepLR", lambda: ls.StepLR("3"), "step_size"),
    Case("lr_scheduler.StepLR", lambda: ls.StepLR(3, gamma="0.1"), "gamma"),
    Case("lr_scheduler.MultiStepLR", lambda: ls.MultiStepLR(3), "milestones"),
    Case("lr_scheduler.MultiStepLR", lambda: ls.MultiStepLR([2, "5"]), "milestones"),
    Case("lr_scheduler.ConstantLR", lambda: ls.ConstantLR(factor=1.5), "factor"),
    Case("lr_scheduler.ConstantLR", lambda: ls.ConstantLR(total_iters=-1), "total_iters"),
    Case("lr_scheduler.LinearLR", lambda: ls.LinearLR(start_factor=0.0), "factor"),
    Case("lr_scheduler.LinearLR", lambda: ls.LinearLR(total_iters=-2), "total_iters"),
    Case("lr_scheduler.ExponentialLR", lambda: ls.ExponentialLR("0.9"), "gamma"),
    Case("lr_scheduler.PolynomialLR", lambda: ls.PolynomialLR(total_iters=-1), "total_iters"),
    Case("lr_scheduler.PolynomialLR", lambda: ls.PolynomialLR(power="2"), "power"),
    Case("lr_scheduler.CosineAnnealingLR", lambda: ls.CosineAnnealingLR(0), "T_max"),
    Case("lr_scheduler.CosineAnnealingLR", lambda: ls.CosineAnnealingLR(10, eta_min="0"),
         "eta_min"),
    Case("lr_scheduler.CosineAnnealingWarmRestarts",
         lambda: ls.CosineAnnealingWarmRestarts(0), "T_0"),
    Case("lr_scheduler.CosineAnnealingWarmRestarts",
         lambda: ls.CosineAnnealingWarmRestarts(5, T_mult=0), "T_mult"),
    Case("lr_scheduler.CyclicLR", lambda: ls.CyclicLR(0.1, 1.0, mode="sine"), "mode"),
    Case("lr_scheduler.CyclicLR", lambda: ls.CyclicLR(0.1, 1.0, step_size_up=0), "step_size_up"),
    Case("lr_scheduler.CyclicLR", lambda: ls.CyclicLR([0.1, 0.2], 1.0).init(_OS),
         "base_lr|param_groups"),
    Case("lr_scheduler.OneCycleLR", lambda: ls.OneCycleLR(1.0), "total_steps"),
    Case("lr_scheduler.OneCycleLR", lambda: ls.OneCycleLR(1.0, 100, pct_start=1.5),
         "pct_start"),
    Case("lr_scheduler.OneCycleLR", lambda: ls.OneCycleLR(1.0, 100, anneal_strategy="exp"),
         "anneal_strategy"),
    Case("lr_scheduler.OneCycleLR", lambda: ls.OneCycleLR(1.0, -3), "total_steps"),
    Case("lr_scheduler.ReduceLROnPlateau", lambda: ls.ReduceLROnPlateau(mode="lowest"), "mode"),
    Case("lr_scheduler.ReduceLROnPlateau", lambda: ls.ReduceLROnPlateau(factor=1.5), "Factor"),
    Case("lr_scheduler.ReduceLROnPlateau", lambda: ls.ReduceLROnPlateau(threshold_mode="x"),
         "threshold mode"),
    Case("lr_scheduler.ReduceLROnPlateau", lambda: ls.ReduceLROnPlateau(patience=2.5),
         "patience"),
    Case("lr_scheduler.ReduceLROnPlateau",
         lambda: ls.ReduceLROnPlateau().step(*ls.ReduceLROnPlateau().init(_OS)), "metrics"),
    Case("lr_scheduler.SequentialLR", lambda: ls.SequentialLR([ls.StepLR(2)], milestones=[3]),
         "milestones"),
    Case("lr_scheduler.SequentialLR", lambda: ls.SequentialLR([], milestones=[]), "at least one"),
    Case("lr_scheduler.SequentialLR",
         lambda: ls.SequentialLR([ls.StepLR(2), "x"], milestones=[3]), "scheduler"),
    Case("lr_scheduler.ChainedScheduler", lambda: ls.ChainedScheduler([]), "at least one"),
    Case("lr_scheduler.ChainedScheduler", lambda: ls.ChainedScheduler([3]), "scheduler"),
    Case("lr_scheduler.LRScheduler", lambda: ls.StepLR(2).init({"no": "state"}),
         "fnn optimizer state"),
    Case("lr_scheduler.LRScheduler", lambda: ls.StepLR(2).step(None, _OS), "state|SchedulerState"),
    Case("lr_scheduler.get_last_lr", lambda: ls.get_last_lr(_OS), "SchedulerState|last_lr"),
    Case("lr_scheduler.SchedulerState", lambda: ls.SchedulerState(1), "missing|argument"),
    Case("swa_utils.SWALR", lambda: swa_utils.SWALR("0.05"), "swa_lr"),
    Case("lr_scheduler.SWALR", lambda: ls.SWALR(0.1, anneal_epochs=-1), "anneal_epochs"),
    Case("swa_utils.SWALR", lambda: swa_utils.SWALR(0.1, anneal_strategy="exp"),
         "anneal_strategy"),
    Case("swa_utils.SWALR", lambda: swa_utils.SWALR(0.1, anneal_epochs=-1), "anneal_epochs"),
    Case("swa_utils.AveragedModel", lambda: swa_utils.AveragedModel(avg_fn=3), "avg_fn"),
    Case("swa_utils.get_ema_avg_fn", lambda: swa_utils.get_ema_avg_fn(1.5), "decay"),
    Case("swa_utils.get_ema_multi_avg_fn", lambda: swa_utils.get_ema_multi_avg_fn(-0.5), "decay"),
    Case("swa_utils.update_bn", lambda: swa_utils.update_bn([], "model", {}, {}), "Module"),
]

# ---------------------------------------------------------------------- fnn.data
DATA = [
    Case("data.resize", lambda: data.resize(np.ones((2, 8, 8)), 0), "size"),
    Case("data.resize", lambda: data.resize(np.ones(8), 4), "shape|2"),
    Case("data.load_digits", lambda: data.load_digits(size=-4), "size"),
    Case("data.read_idx", lambda: data.read_idx("/nonexistent/file.idx"), "nonexistent|No such",
         (OSError,)),
    Case("data.load_mnist", lambda: data.load_mnist("/nonexistent"), "nonexistent|MNIST",
         (OSError, ValueError)),
    Case("data.train_test_split", lambda: data.train_test_split(v, v, 1.5, key=KEY),
         "test_fraction"),
    Case("data.train_test_split", lambda: data.train_test_split(v, v[:2], key=KEY), "samples"),
    Case("data.train_test_split", lambda: data.train_test_split(v, v, key=3), "key"),
    Case("data.mean_std", lambda: data.mean_std([]), "empty|at least"),
    Case("data.normalize", lambda: data.normalize(v, 0.0, 0.0), "std"),
    Case("data.batch_indices", lambda: data.batch_indices(None, 10, 0), "batch_size"),
    Case("data.batch_indices", lambda: data.batch_indices(None, 10, 11), "batch_size"),
    Case("data.batch_indices", lambda: data.batch_indices(None, -1, 2), r"\bn\b|samples"),
    Case("data.batches", lambda: list(data.batches(v, batch_size=2.0)), "batch_size"),
    Case("data.batches", lambda: list(data.batches(batch_size=2)), "at least one array"),
    Case("data.batches", lambda: list(data.batches(v, v[:3], batch_size=2)), "lengths"),
]

# ---------------------------------------------------------------------- fnn.train
_MODEL = nn.Sequential(nn.Linear(3, 2))
_MP = _z(_MODEL)
_XY = (jnp.ones((8, 3)), jnp.zeros(8, jnp.int32))
_ST = lambda: train.init_state(_MP, optim.sgd(0.1))
TRAIN = [
    Case("train.TrainState", lambda: train.TrainState(1, 2), "missing|argument"),
    Case("train.init_state", lambda: train.init_state(_MP, "sgd"), "GradientTransformation"),
    Case("train.init_state", lambda: train.init_state(_MP, optim.sgd(0.1), key=3), "key"),
    Case("train.as_loss_fn", lambda: train.as_loss_fn(3), "Module or a loss_fn"),
    Case("train.as_loss_fn", lambda: train.as_loss_fn(_MODEL), "criterion"),
    Case("train.as_loss_fn", lambda: train.as_loss_fn(lambda p, b: 0.0, losses.mse_loss),
         "only used with a Module"),
    Case("train.train_step_fn", lambda: train.train_step_fn(_MODEL, "sgd", losses.cross_entropy),
         "GradientTransformation"),
    Case("train.make_train_step", lambda: train.make_train_step(_MODEL, optim.sgd(0.1)),
         "criterion"),
    Case("train.make_train_steps", lambda: train.make_train_steps(_MODEL, None,
                                                                  losses.cross_entropy),
         "GradientTransformation"),
    Case("train.make_train_epoch", lambda: train.make_train_epoch(
        _MODEL, optim.sgd(0.1), losses.cross_entropy, batch_size=0), "batch_size"),
    Case("train.make_train_epoch", lambda: train.make_train_epoch(
        _MODEL, optim.sgd(0.1), losses.cross_entropy, batch_size=4)(_ST(), (v, _XY[1])),
        "different lengths"),
    Case("train.next_epoch_key", lambda: train.next_epoch_key((1, 2)), "TrainState"),
    Case("train.make_evaluate", lambda: train.make_evaluate(_MODEL, batch_size=0), "batch_size"),
    Case("train.make_evaluate", lambda: train.make_evaluate(lambda p, x: x), "Module"),
    Case("train.evaluate", lambda: train.evaluate(_MODEL, _MP, (v, _XY[1])),
         "different lengths"),
    Case("train.evaluate", lambda: train.evaluate(_MODEL, _MP, _XY, batch_size=0), "batch_size"),
    Case("train.evaluate", lambda: train.evaluate(_MODEL, _MP, _XY[0]), r"\(inputs, targets\)"),
    Case("train.fit", lambda: train.fit(_MODEL, optim.sgd(0.1), _ST(), _XY, epochs=0,
                                        batch_size=4, loss=losses.cross_entropy,
                                        progress=False), "epochs"),
    Case("train.fit", lambda: train.fit(_MODEL, optim.sgd(0.1), _ST(), _XY, epochs=1,
                                        batch_size=0, loss=losses.cross_entropy,
                                        progress=False), "batch_size"),
    Case("train.fit", lambda: train.fit(_MODEL, optim.sgd(0.1), _ST(), _XY, epochs=1,
                                        batch_size=4, loss=losses.cross_entropy,
                                        steps_per_call=0, progress=False), "steps_per_call"),
    Case("train.fit", lambda: train.fit(lambda p, b: 0.0, optim.sgd(0.1), _ST(), _XY, epochs=1,
                                        batch_size=4, eval_data=_XY, progress=False),
         "eval_data needs a Module"),
    Case("train.fit", lambda: train.fit(_MODEL, optim.sgd(0.1), (1, 2), _XY, epochs=1,
                                        batch_size=4, loss=losses.cross_entropy,
                                        progress=False), "TrainState"),
]

# ---------------------------------------------------------------------- fnn.checkpoint


def _ckpt(tmp: Any) -> Any:
    return checkpoint.save(tmp / "ck", params=P, step=1)


CHECKPOINT_TMP = [
    Case("checkpoint.save", lambda tmp: checkpoint.save(tmp / "a", params=P, step="three"),
         "step"),
    Case("checkpoint.save", lambda tmp: checkpoint.save(tmp / "a", params=P, step=1.5), "step"),
    Case("checkpoint.save", lambda tmp: checkpoint.save(tmp / "a", params=[1, 2]), "params"),
    Case("checkpoint.save", lambda tmp: checkpoint.save(tmp / "a", params=P, key="k"), "key"),
    Case("checkpoint.save", lambda tmp: checkpoint.save(tmp / "a", params=P, metadata=[1]),
         "metadata"),
    Case("checkpoint.save", lambda tmp: checkpoint.save(tmp / "a", params=P,
                                                        metadata={"f": object()}), "metadata"),
    Case("checkpoint.save", lambda tmp: checkpoint.save(tmp / "a", params=P, opt_state="s"),
         "opt_state"),
    Case("checkpoint.load", lambda tmp: checkpoint.load(_ckpt(tmp), like=3), "like"),
    Case("checkpoint.load", lambda tmp: checkpoint.load(_ckpt(tmp), like={"parms": P}),
         "parms"),
    Case("checkpoint.load", lambda tmp: checkpoint.load(tmp / "none"), "does not exist",
         (FileNotFoundError,)),
    Case("checkpoint.verify", lambda tmp: checkpoint.verify(tmp), "not an fnn checkpoint"),
    Case("checkpoint.state_dict", lambda tmp: checkpoint.state_dict(P, buffers=P),
         "both a parameter and a buffer"),
    Case("checkpoint.state_dict", lambda tmp: checkpoint.state_dict("p"), "dict|mapping"),
    Case("checkpoint.Checkpoint", lambda tmp: checkpoint.Checkpoint(1), "missing|argument"),
]

# ---------------------------------------------------------------------- testfns, explore
TESTFNS = [
    Case("testfns.get", lambda: testfns.get("bael"), "bael"),
    Case("testfns.resolve", lambda: testfns.resolve(3), "test function|test_fn"),
    Case("testfns.resolve", lambda: testfns.resolve("beale", domain=(1, 2)), "domain"),
    Case("testfns.Domain", lambda: testfns.Domain(0, 0, 1, -1, 0, 1), "xmin < xmax"),
    Case("testfns.Domain", lambda: testfns.Domain("a", 0, -1, 1, -1, 1), "x0|number"),
    Case("testfns.TestFunction", lambda: testfns.TestFunction("f", 3, testfns.get(
        "beale").domain), "fn|callable"),
    Case("testfns.TestFunction", lambda: testfns.TestFunction("f", testfns.sphere, (0, 0)),
         "domain|Domain"),
    Case("testfns.flower", lambda: testfns.flower(1.0, 1.0, a="1"), r"\ba\b|number"),
    Case("testfns.names", lambda: testfns.names("all"), "argument"),
    Case("explore.test_optim", lambda: explore.test_optim("adam", plot=False),
         "GradientTransformation"),
    Case("explore.test_optim", lambda: explore.test_optim(optim.sgd(0.1), steps=0, plot=False),
         "steps"),
    Case("explore.test_optim", lambda: explore.test_optim(optim.sgd(0.1), "bael", plot=False),
         "bael"),
    Case("explore.trajectory", lambda: explore.trajectory(optim.sgd(0.1), "beale", 5),
         "TestFunction"),
    Case("explore.TestOptimResult", lambda: explore.TestOptimResult(1), "missing|argument"),
]
# the elementwise test functions take arrays; their "validation" is jnp's own
for _name in ["ackley", "beale", "booth", "bukin_n6", "easom", "goldstein_price", "himmelblau",
              "levi_n13", "matyas", "rastrigin", "rosenbrock", "sphere"]:
    TESTFNS.append(Case(f"testfns.{_name}", (lambda f=getattr(testfns, _name): f("a", 1.0)),
                        "str|array|type"))

# ---------------------------------------------------------------------- attention, Transformers
_q4 = jnp.ones((1, 2, 3, 4))
ATTENTION = [
    Case("F.scaled_dot_product_attention",
         lambda: F.scaled_dot_product_attention(_q4, _q4, _q4, attn_mask=jnp.ones((4, 3), bool)),
         "size of tensor"),
    Case("F.scaled_dot_product_attention",
         lambda: F.scaled_dot_product_attention(_q4, _q4, _q4, attn_mask=jnp.ones((3, 3), int)),
         "attn_mask dtype"),
    Case("F.scaled_dot_product_attention",
         lambda: F.scaled_dot_product_attention(_q4, _q4, _q4, dropout_p=0.5), "PRNG key"),
    Case("F.sdpa_path", lambda: F.sdpa_path(_q4, _q4, _q4, dropout_p="x"), "dropout probability"),
    Case("F.multi_head_attention_forward",
         lambda: F.multi_head_attention_forward(jnp.ones((3, 2, 4)), jnp.ones((3, 2, 4)),
                                                jnp.ones((3, 2, 4)), 4, 3, jnp.ones((12, 4)),
                                                None, None, None, False, 0.0, jnp.ones((4, 4)),
                                                None), "not divisible"),
    Case("nn.MultiheadAttention", lambda: nn.MultiheadAttention(6, 4), "divisible"),
    Case("nn.MultiheadAttention", lambda: nn.MultiheadAttention(4, 2)(
        _z(nn.MultiheadAttention(4, 2)), jnp.ones((3, 2, 4)), jnp.ones((3, 2, 4)),
        jnp.ones((3, 2, 4)), key_padding_mask=jnp.ones((5, 3), bool)), "key_padded_mask"),
    Case("nn.TransformerEncoderLayer", lambda: nn.TransformerEncoderLayer(6, 4), "divisible"),
    Case("nn.TransformerDecoderLayer", lambda: nn.TransformerDecoderLayer(8, 2, dropout=2.0),
         "dropout probability"),
    Case("nn.TransformerEncoder", lambda: nn.TransformerEncoder("layer", 2), "fnn.nn.Module"),
    Case("nn.TransformerDecoder", lambda: nn.TransformerDecoder(None, 2), "fnn.nn.Module"),
    Case("nn.Transformer", lambda: nn.Transformer(8, 2, 1, 1, 16)(
        _z(nn.Transformer(8, 2, 1, 1, 16)), jnp.ones((5, 2, 8)), jnp.ones((4, 3, 8))),
         "batch number"),
    Case("nn.RMSNorm", lambda: nn.RMSNorm(-2), "normalized_shape"),
    Case("nn.RMSNorm", lambda: nn.RMSNorm(3, eps=-1.0), "eps"),
    Case("F.rms_norm", lambda: F.rms_norm(v, (4,)), "normalized_shape"),
]


# issue 18, layers-b: normalisation, activations, dropout, distances, embeddings, containers, lazy
LAYERS += [
    Case("nn.BatchNorm3d", lambda: nn.BatchNorm3d(3)(_z(nn.BatchNorm3d(3)), x2), "5D"),
    Case("nn.SyncBatchNorm", lambda: nn.SyncBatchNorm(0), "num_features"),
    Case("nn.InstanceNorm1d", lambda: nn.InstanceNorm1d(3)({}, x2), "2D or 3D"),
    Case("nn.InstanceNorm2d", lambda: nn.InstanceNorm2d(3)({}, v), "3D or 4D"),
    Case("nn.InstanceNorm3d", lambda: nn.InstanceNorm3d(3, eps=-1), "eps"),
    Case("nn.LocalResponseNorm", lambda: nn.LocalResponseNorm(0), "size"),
    Case("nn.LocalResponseNorm", lambda: nn.LocalResponseNorm(2)({}, v), "3D or higher"),
    Case("nn.CrossMapLRN2d", lambda: nn.CrossMapLRN2d(3)({}, x1), "4D"),
    Case("nn.GLU", lambda: nn.GLU("1"), "dim"),
    Case("nn.GLU", lambda: nn.GLU(1)({}, v), "even"),
    Case("nn.Softmin", lambda: nn.Softmin("1"), "dim"),
    Case("nn.Softmax2d", lambda: nn.Softmax2d()({}, v), "3D or 4D"),
    Case("nn.Hardshrink", lambda: nn.Hardshrink("a"), "lambd"),
    Case("nn.Softshrink", lambda: nn.Softshrink(-1.0)({}, v), "lambda"),
    Case("nn.Tanhshrink", lambda: nn.Tanhshrink()({}, "x"), "array|str"),
    Case("nn.LogSigmoid", lambda: nn.LogSigmoid()({}, "x"), "array|str"),
    Case("nn.RReLU", lambda: nn.RReLU("a"), "lower"),
    Case("nn.RReLU", lambda: nn.RReLU(0.5, 0.1)({}, v), "Lower bound"),
    Case("nn.Dropout1d", lambda: nn.Dropout1d(1.5), "probability"),
    Case("nn.Dropout3d", lambda: nn.Dropout3d(-0.1), "probability"),
    Case("nn.AlphaDropout", lambda: nn.AlphaDropout(2), "probability"),
    Case("nn.FeatureAlphaDropout", lambda: nn.FeatureAlphaDropout(-1), "probability"),
    Case("nn.PairwiseDistance", lambda: nn.PairwiseDistance("2"), "p"),
    Case("nn.CosineSimilarity", lambda: nn.CosineSimilarity(1.5), "dim"),
    Case("nn.EmbeddingBag", lambda: nn.EmbeddingBag(4, 3, mode="median"), "mode"),
    Case("nn.EmbeddingBag", lambda: nn.EmbeddingBag(4, 3)(_z(nn.EmbeddingBag(4, 3)),
                                                          jnp.asarray([1, 2])), "offsets"),
    Case("nn.AdaptiveLogSoftmaxWithLoss", lambda: nn.AdaptiveLogSoftmaxWithLoss(8, 10, []),
         "cutoffs"),
    Case("nn.LinearCrossEntropyLoss", lambda: nn.LinearCrossEntropyLoss(4, 5,
                                                                        label_smoothing=2.0),
         "label_smoothing"),
    Case("nn.ParameterList", lambda: nn.ParameterList([nn.Linear(2, 2)]), "modules"),
    Case("nn.ParameterDict", lambda: nn.ParameterDict({1: jnp.ones(2)}), "strings"),
    *[Case(f"nn.{name}", (lambda m=m: m.init(KEY)), "example input|init\\(key")
      for name, m in (("LazyLinear", nn.LazyLinear(3)), ("LazyConv1d", nn.LazyConv1d(3, 1)),
                      ("LazyConv2d", nn.LazyConv2d(3, 1)), ("LazyConv3d", nn.LazyConv3d(3, 1)),
                      ("LazyConvTranspose1d", nn.LazyConvTranspose1d(3, 1)),
                      ("LazyConvTranspose2d", nn.LazyConvTranspose2d(3, 1)),
                      ("LazyConvTranspose3d", nn.LazyConvTranspose3d(3, 1)),
                      ("LazyBatchNorm1d", nn.LazyBatchNorm1d()),
                      ("LazyBatchNorm2d", nn.LazyBatchNorm2d()),
                      ("LazyBatchNorm3d", nn.LazyBatchNorm3d()),
                      ("LazyInstanceNorm1d", nn.LazyInstanceNorm1d()),
                      ("LazyInstanceNorm2d", nn.LazyInstanceNorm2d()),
                      ("LazyInstanceNorm3d", nn.LazyInstanceNorm3d()))],
]
FUNCTIONAL += [
    Case("F.glu", lambda: F.glu(v, 1), "even"),
    Case("F.softmin", lambda: F.softmin(v, dim=2), "dim"),
    Case("F.hardshrink", lambda: F.hardshrink(v, "a"), "lambd"),
    Case("F.softshrink", lambda: F.softshrink(v, -0.5), "lambda"),
    Case("F.tanhshrink", lambda: F.tanhshrink("x"), "array|str"),
    Case("F.rrelu", lambda: F.rrelu(v, 0.5, 0.1), "Lower bound"),
    Case("F.gumbel_softmax", lambda: F.gumbel_softmax(v, dim=3, key=KEY), "Dimension",
         (IndexError,)),
    Case("F.dropout1d", lambda: F.dropout1d(x2, 0.5, key=KEY), "2D or 3D"),
    Case("F.dropout3d", lambda: F.dropout3d(x3, 1.5, key=KEY), "probability"),
    Case("F.alpha_dropout", lambda: F.alpha_dropout(v, -0.5), "probability"),
    Case("F.feature_alpha_dropout", lambda: F.feature_alpha_dropout(jnp.ones(3), 0.5, True),
         "at least 2 dimensions"),
    Case("F.pdist", lambda: F.pdist(x1), "2D"),
    Case("F.normalize", lambda: F.normalize(v, dim=2), "Dimension out of range", (IndexError,)),
    Case("F.instance_norm", lambda: F.instance_norm(jnp.ones((2, 3, 1))), "spatial element"),
    Case("F.local_response_norm", lambda: F.local_response_norm(v, 2), "3D or higher"),
    Case("F.embedding_bag", lambda: F.embedding_bag(jnp.asarray([1, 2]), v), "offsets"),
    Case("F.linear_cross_entropy", lambda: F.linear_cross_entropy(x1, v, jnp.zeros(2, int)),
         "dimensionality"),
    Case("F.grouped_mm", lambda: F.grouped_mm(v, v), "contraction"),
]
# end layers-b


# ---------------------------------------------------------------------- layers-a (issue 18)
ii = jnp.zeros((2, 3, 4), jnp.int32)
LAYERS_A = [
    *[Case(f"nn.{k}Pad{n}d", (lambda k=k, n=n: getattr(nn, f"{k}Pad{n}d")(9)(None, v[0])),
           "padding|input|expected")
      for k in ("Reflection", "Replication", "Circular") for n in (1, 2, 3)],
    *[Case(f"nn.ConstantPad{n}d", (lambda n=n: getattr(nn, f"ConstantPad{n}d")(
        (1,) * (2 * n + 2), 0.0)(None, v[0])), "padding length") for n in (1, 2, 3)],
    *[Case(f"nn.ZeroPad{n}d", (lambda n=n: getattr(nn, f"ZeroPad{n}d")((1,) * (2 * n + 2))(
        None, v[0])), "padding length") for n in (1, 2, 3)],
    Case("nn.Upsample", lambda: nn.Upsample(size=3, scale_factor=2)(None, x1), "only one"),
    Case("nn.UpsamplingNearest2d", lambda: nn.UpsamplingNearest2d()(None, x2), "either"),
    Case("nn.UpsamplingBilinear2d", lambda: nn.UpsamplingBilinear2d(3)(None, x1), "bilinear"),
    Case("nn.PixelShuffle", lambda: nn.PixelShuffle(2)(None, x2), "divisible"),
    Case("nn.PixelUnshuffle", lambda: nn.PixelUnshuffle(3)(None, x2), "divisible"),
    Case("nn.ChannelShuffle", lambda: nn.ChannelShuffle(2)(None, x2), "divisible"),
    Case("nn.Fold", lambda: nn.Fold(4, 2)(None, v), "sliding blocks"),
    Case("nn.Unfold", lambda: nn.Unfold(9)(None, x2), "sliding blocks"),
    Case("nn.MaxPool3d", lambda: nn.MaxPool3d(2, padding=2), "pad should be"),
    Case("nn.AvgPool3d", lambda: nn.AvgPool3d(2, stride=0), "stride"),
    Case("nn.AdaptiveAvgPool3d", lambda: nn.AdaptiveAvgPool3d(-1), "output_size"),
    Case("nn.AdaptiveMaxPool1d", lambda: nn.AdaptiveMaxPool1d(1)(None, v[0]), "expected 2D"),
    Case("nn.AdaptiveMaxPool3d", lambda: nn.AdaptiveMaxPool3d((1, 2)), "output_size"),
    *[Case(f"nn.LPPool{n}d", (lambda n=n, x=x: getattr(nn, f"LPPool{n}d")(2, 0)(None, x)),
           "kernel_size") for n, x in ((1, x1), (2, x2), (3, x3))],
    Case("nn.FractionalMaxPool2d", lambda: nn.FractionalMaxPool2d(2), "output size"),
    Case("nn.FractionalMaxPool3d", lambda: nn.FractionalMaxPool3d(2, output_ratio=2.0),
         "between 0 and 1"),
    Case("nn.MaxUnpool1d", lambda: nn.MaxUnpool1d(2)(None, x1, ii[0]), "shape of indices"),
    Case("nn.MaxUnpool2d", lambda: nn.MaxUnpool2d(2)(None, x2, x2), "int64"),
    Case("nn.MaxUnpool3d", lambda: nn.MaxUnpool3d(2)(None, x3, x3.astype(int), (1,)),
         "output_size"),
    Case("nn.ConvTranspose3d", lambda: (m := nn.ConvTranspose3d(3, 2, 2))(_z(m), x3),
         "channels"),
]
FUNCTIONAL_A = [
    Case("F.interpolate", lambda: F.interpolate(x1, size=3, scale_factor=2.0), "only one"),
    Case("F.upsample", lambda: F.upsample(x1), "either"),
    Case("F.upsample_nearest", lambda: F.upsample_nearest(x1, size=(2, 2)), "spatial"),
    Case("F.upsample_bilinear", lambda: F.upsample_bilinear(x1, size=2), "bilinear"),
    Case("F.grid_sample", lambda: F.grid_sample(x2, jnp.zeros((2, 3, 3)), align_corners=False),
         "grid"),
    Case("F.affine_grid", lambda: F.affine_grid(jnp.zeros((2, 3, 3)), (2, 3, 4, 4),
                                                align_corners=False), "Nx2x3"),
    Case("F.pixel_shuffle", lambda: F.pixel_shuffle(x2, 0), "positive"),
    Case("F.pixel_unshuffle", lambda: F.pixel_unshuffle(v, 2), "at least 3"),
    Case("F.channel_shuffle", lambda: F.channel_shuffle(x2, 0), "positive"),
    Case("F.native_channel_shuffle", lambda: F.native_channel_shuffle(v, 2), "> 2 dims"),
    Case("F.unfold", lambda: F.unfold(x3, 2), "4D"),
    Case("F.fold", lambda: F.fold(x2, 4, 2), "3D"),
    Case("F.max_pool3d", lambda: F.max_pool3d(x3, 0), "kernel_size"),
    Case("F.max_pool1d_with_indices", lambda: F.max_pool1d_with_indices(x1, 2, padding=2),
         "half"),
    Case("F.max_pool2d_with_indices", lambda: F.max_pool2d_with_indices(v, 2), "expected 3D"),
    Case("F.max_pool3d_with_indices", lambda: F.max_pool3d_with_indices(x3, 9), "output size"),
    Case("F.avg_pool3d", lambda: F.avg_pool3d(x3, 2, divisor_override=0), "divisor"),
    Case("F.adaptive_avg_pool3d", lambda: F.adaptive_avg_pool3d(x3, (1, 2)), "output_size"),
    Case("F.adaptive_max_pool1d", lambda: F.adaptive_max_pool1d(x1, -1), "output_size"),
    Case("F.adaptive_max_pool3d", lambda: F.adaptive_max_pool3d(v, 1), "expected 4D"),
    Case("F.adaptive_max_pool1d_with_indices",
         lambda: F.adaptive_max_pool1d_with_indices(x2, 1), "expected 2D"),
    Case("F.adaptive_max_pool2d_with_indices",
         lambda: F.adaptive_max_pool2d_with_indices(x2, (1, 2, 3)), "output_size"),
    Case("F.adaptive_max_pool3d_with_indices",
         lambda: F.adaptive_max_pool3d_with_indices(x2[0, 0], 1), "expected 4D"),
    Case("F.lp_pool1d", lambda: F.lp_pool1d(x1, 2, 0), "kernel_size"),
    Case("F.lp_pool2d", lambda: F.lp_pool2d(x2, 2, 2, stride=0), "stride"),
    Case("F.lp_pool3d", lambda: F.lp_pool3d(x3, 2, 9), "output size"),
    Case("F.fractional_max_pool2d", lambda: F.fractional_max_pool2d(x2, 2), "output_size"),
    Case("F.fractional_max_pool3d", lambda: F.fractional_max_pool3d(x3, 3, 3, key=KEY),
         "too large"),
    Case("F.fractional_max_pool2d_with_indices",
         lambda: F.fractional_max_pool2d_with_indices(x2, 2, 2), "key"),
    Case("F.fractional_max_pool3d_with_indices",
         lambda: F.fractional_max_pool3d_with_indices(x3, 2, 2, _random_samples=x2),
         "_random_samples"),
    Case("F.max_unpool1d", lambda: F.max_unpool1d(x1, ii, 2, output_size=(1, 2, 3)),
         "output_size"),
    Case("F.max_unpool2d", lambda: F.max_unpool2d(v, v.astype(int), 2), "3d or 4d"),
    Case("F.max_unpool3d", lambda: F.max_unpool3d(x3, x1.astype(int), 2), "indices"),
    Case("F.conv_transpose3d", lambda: F.conv_transpose3d(x3, jnp.ones((3, 2, 2, 2, 2))),
         "channels"),
    Case("F.conv_tbc", lambda: F.conv_tbc(x1, jnp.ones((2, 8, 4)), jnp.ones(5)), "Bias size"),
]

CASES = (LAYERS + LOSS_MODULES + LOSSES + FUNCTIONAL + INIT + OPTIM + SCHED + DATA + TRAIN
         + TESTFNS + ATTENTION)
CASES += LAYERS_A + FUNCTIONAL_A  # layers-a (issue 18)


def _check(case: Case, call: Callable[[], Any]) -> None:
    try:
        out = call()
    except case.exc as e:
        msg = str(e)
        assert re.search(case.match, msg, re.IGNORECASE), (
            f"{case.api}: {type(e).__name__} does not mention /{case.match}/: {msg[:300]}")
        return
    except Exception as e:  # noqa: BLE001 - the point is to report the wrong kind of error
        raise AssertionError(f"{case.api}: raised {type(e).__name__} (expected "
                             f"{'/'.join(t.__name__ for t in case.exc)}): {str(e)[:300]}") from e
    raise AssertionError(f"{case.api}: no error (returned {type(out).__name__})")


@pytest.mark.parametrize("case", CASES, ids=[f"{i}-{c.api}" for i, c in enumerate(CASES)])
def test_invalid_argument_raises_a_clear_error(case):
    _check(case, case.call)


@pytest.mark.parametrize("case", CHECKPOINT_TMP,
                         ids=[f"{i}-{c.api}" for i, c in enumerate(CHECKPOINT_TMP)])
def test_checkpoint_invalid_argument_raises_a_clear_error(case, tmp_path):
    _check(case, lambda: case.call(tmp_path))


# ---------------------------------------------------------------------- coverage of the API
NO_ARGUMENTS = {
    # functions with nothing to validate
    "nn.Identity": "accepts and ignores any constructor arguments, as torch's",
    "swa_utils.get_swa_avg_fn": "takes no arguments",
    "swa_utils.get_swa_multi_avg_fn": "takes no arguments",
    "swa_utils.AveragedState": "a NamedTuple record made by AveragedModel.init",
    "optim.NonFiniteState": "a NamedTuple record made by nonfinite_guard's init",
    "optim.OptimizerSpec": "a NamedTuple record made by build (read with optim.describe)",
    "optim.StateSpec": "a NamedTuple record declared on a Rule",
    "optim.scalar_dtype": "takes no arguments",
}


def _public(module: Any, prefix: str) -> set[str]:
    return {f"{prefix}.{n}" for n in getattr(module, "__all__", dir(module))
            if not n.startswith("_") and not isinstance(getattr(module, n, None), type(re))}


def public_api() -> set[str]:
    names = set()
    names |= _public(nn, "nn") - {"nn.functional", "nn.init"}
    # the losses in F are the very functions of fnn.losses, audited there
    names |= {f"F.{n}" for n in F.__all__ if getattr(F, n) is not getattr(losses, n, None)}
    names |= {f"init.{n}" for n in init.__all__}
    names |= {f"losses.{n}" for n in losses.__all__}
    names |= _public(optim, "optim") - {"optim.lr_scheduler", "optim.swa_utils"}
    names |= {f"lr_scheduler.{n}" for n in ls.__all__}
    names |= {f"swa_utils.{n}" for n in swa_utils.__all__}
    for mod, prefix in ((data, "data"), (train, "train"), (checkpoint, "checkpoint"),
                        (testfns, "testfns"), (explore, "explore")):
        names |= {f"{prefix}.{n}" for n in mod.__all__}
    return names


def test_audit_covers_the_public_api():
    covered = {c.api for c in CASES + CHECKPOINT_TMP} | set(NO_ARGUMENTS)
    api = public_api()
    # data containers, not functions
    api -= {"testfns.FUNCTIONS"}
    missing = sorted(api - covered)
    assert not missing, f"public names without an audit case: {missing}"
    stale = sorted(covered - api - {"nn.Module"})
    assert not stale, f"audit cases for names that are not public: {stale}"
    # what the report quotes
    assert len(api) >= 250 and len(CASES) + len(CHECKPOINT_TMP) >= 400


def test_every_optimizer_factory_is_audited():
    factories = {n for n in optim.__all__ if callable(getattr(optim, n)) and n.islower()
                 and n not in {"step", "apply_updates", "get_lr", "set_lr", "get_hyperparam",
                               "get_hyperparams", "set_hyperparam", "build", "describe",
                               "set_scalar_dtype", "scalar_dtype"}}
    factories -= {"asgd_averaged", "nonfinite_guard", "nonfinite_stats", "check_finite"}
    assert factories <= set(_FACTORIES), sorted(factories - set(_FACTORIES))


def test_fnn_top_level_is_importable():
    for name in fnn.__all__:
        getattr(fnn, name)
    assert isinstance(optim.sgd(0.1), optax.GradientTransformation)


def test_value_checks_work_on_concrete_arrays_closed_over_under_jit():
    """Range checks on concrete inputs use numpy, so they still run (and do not crash with a
    ConcretizationTypeError) when the array is a constant inside a jitted function."""
    x = jnp.array([0.2, 0.7])
    t = jnp.array([0.5, 0.5])
    jax.jit(lambda t: losses.binary_cross_entropy(x, t))(t)
    jax.jit(lambda t: losses.gaussian_nll_loss(t, t, x))(t)
    jax.jit(lambda t: F.one_hot(jnp.array([0, 2]), 3) * t[0])(t)
    jax.jit(lambda w: F.embedding(jnp.array([1, 0]), w))(jnp.ones((2, 3)))
    y = x + 1  # concrete, out of [0, 1]
    with pytest.raises(ValueError, match="between 0 and 1"):
        jax.jit(lambda t: losses.binary_cross_entropy(y, t))(t)
    idx = jnp.array([1, 5])
    with pytest.raises(IndexError, match="index out of range"):
        jax.jit(lambda w: F.embedding(idx, w))(jnp.ones((2, 3)))
