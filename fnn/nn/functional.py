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
    # layers-a (issue 18): resampling, rearranging, 3-D/fractional/LP pools, unpooling
    "._functional.interpolate": ["interpolate", "upsample", "upsample_nearest",
                                 "upsample_bilinear"],
    "._functional.grid_sample": ["grid_sample", "affine_grid"],
    "._functional.shuffle": ["pixel_shuffle", "pixel_unshuffle", "channel_shuffle",
                             "native_channel_shuffle"],
    "._functional.fold": ["fold", "unfold"],
    # (the same files as the 1-D/2-D forms: absolute keys, a dict key can appear only once)
    "._functional.unpooling": ["max_unpool1d", "max_unpool2d", "max_unpool3d"],
    "._functional.fractional_pooling": ["fractional_max_pool2d", "fractional_max_pool3d",
                                        "fractional_max_pool2d_with_indices",
                                        "fractional_max_pool3d_with_indices"],
    "fnn.nn._functional.pooling": [
        "max_pool3d", "avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool3d",
        "adaptive_avg_pool3d", "lp_pool1d", "lp_pool2d", "lp_pool3d", "max_pool1d_with_indices",
        "max_pool2d_with_indices", "max_pool3d_with_indices", "adaptive_max_pool1d_with_indices",
        "adaptive_max_pool2d_with_indices", "adaptive_max_pool3d_with_indices"],
    "fnn.nn._functional.conv": ["conv_transpose3d", "conv_tbc"],
    "..losses": ["l1_loss", "mse_loss", "cross_entropy", "nll_loss", "binary_cross_entropy",
                 "binary_cross_entropy_with_logits", "kl_div", "huber_loss", "smooth_l1_loss",
                 "soft_margin_loss", "multilabel_soft_margin_loss", "multi_margin_loss",
                 "multilabel_margin_loss", "hinge_embedding_loss", "cosine_embedding_loss",
                 "margin_ranking_loss", "triplet_margin_loss",
                 "triplet_margin_with_distance_loss", "poisson_nll_loss", "gaussian_nll_loss",
                 "ctc_loss", "pairwise_distance", "cosine_similarity"],
}
# issue 18, layers-b: normalisation, activations, dropout, distances, embeddings
_OPS["._functional.activation"] += ["glu", "softmin", "hardshrink", "softshrink", "tanhshrink",
                                    "rrelu", "gumbel_softmax"]
_OPS["._functional.dropout"] += ["dropout1d", "dropout3d", "alpha_dropout",
                                 "feature_alpha_dropout"]
_OPS["._functional.distance"] = ["pdist", "normalize"]
_OPS["._functional.instancenorm"] = ["instance_norm"]
_OPS["._functional.lrn"] = ["local_response_norm"]
_OPS["._functional.embedding"] += ["embedding_bag"]
_OPS["._functional.linear_cross_entropy"] = ["linear_cross_entropy"]
_OPS["._functional.grouped_mm"] = ["grouped_mm"]
# end layers-b
_TABLE = {name: mod for mod, names in _OPS.items() for name in names}
__getattr__, __dir__ = lazy_getattr(__name__, _TABLE)
__all__ = sorted(_TABLE)
