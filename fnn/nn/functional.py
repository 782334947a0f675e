"""``fnn.nn.functional``: the ``torch.nn.functional`` namespace as pure JAX functions.

Layouts and arguments are torch's (``NCHW`` inputs, ``OIHW`` weights). Losses are the
same functions as :mod:`fnn.losses`.
"""

from __future__ import annotations

from .._lazy import lazy_getattr

_OPS = {
    "._functional.linear": ["linear", "bilinear"],
    "._functional.conv": ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d"],
    "._functional.pooling": ["max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d",
                             "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool2d"],
    "._functional.activation": ["relu", "relu6", "leaky_relu", "prelu", "elu", "selu", "celu",
                                "gelu", "silu", "mish", "sigmoid", "tanh", "hardtanh",
                                "hardsigmoid", "hardswish", "softplus", "softsign", "softmax",
                                "log_softmax", "threshold", "logsigmoid"],
    "._functional.dropout": ["dropout", "dropout2d"],
    "._functional.normalization": ["batch_norm", "layer_norm", "group_norm", "rms_norm"],
    "._functional.embedding": ["embedding", "one_hot"],
    "._functional.padding": ["pad"],
    # attention and Transformers (rms_norm: in the normalization row above)
    "._functional.attention": ["scaled_dot_product_attention", "multi_head_attention_forward",
                               "sdpa_path"],
    "..losses": ["l1_loss", "mse_loss", "cross_entropy", "nll_loss", "binary_cross_entropy",
                 "binary_cross_entropy_with_logits", "kl_div", "huber_loss", "smooth_l1_loss",
                 "soft_margin_loss", "multilabel_soft_margin_loss", "multi_margin_loss",
                 "multilabel_margin_loss", "hinge_embedding_loss", "cosine_embedding_loss",
                 "margin_ranking_loss", "triplet_margin_loss",
                 "triplet_margin_with_distance_loss", "poisson_nll_loss", "gaussian_nll_loss",
                 "ctc_loss", "pairwise_distance", "cosine_similarity"],
}
_TABLE = {name: mod for mod, names in _OPS.items() for name in names}
__getattr__, __dir__ = lazy_getattr(__name__, _TABLE)
__all__ = sorted(_TABLE)
