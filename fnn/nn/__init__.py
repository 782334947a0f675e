"""``fnn.nn``: torch.nn layers as pure modules (see :mod:`fnn.nn.module`).

Layers keep torch's names, arguments, defaults and layouts (``Linear.weight`` is
``(out, in)``, convolutions are ``OIHW`` on ``NCHW`` inputs). ``fnn.nn.functional`` is
``torch.nn.functional``; ``fnn.nn.init`` is ``torch.nn.init`` as pure functions of a key.
"""

from __future__ import annotations

from .._lazy import lazy_getattr
from .module import (
    Module,
    ModuleDict,
    ModuleList,
    Sequential,
    named_parameters,
    num_parameters,
    summary,
)

_TABLE = {
    # linear.py
    "Identity": ".linear", "Linear": ".linear", "Bilinear": ".linear",
    # reshape.py
    "Flatten": ".reshape", "Unflatten": ".reshape",
    # conv.py
    "Conv1d": ".conv", "Conv2d": ".conv", "Conv3d": ".conv",
    "ConvTranspose1d": ".conv", "ConvTranspose2d": ".conv",
    # pooling.py
    "MaxPool1d": ".pooling", "MaxPool2d": ".pooling", "AvgPool1d": ".pooling",
    "AvgPool2d": ".pooling", "AdaptiveAvgPool1d": ".pooling", "AdaptiveAvgPool2d": ".pooling",
    "AdaptiveMaxPool2d": ".pooling",
    # activation.py
    "ReLU": ".activation", "ReLU6": ".activation", "LeakyReLU": ".activation",
    "PReLU": ".activation", "ELU": ".activation", "SELU": ".activation", "CELU": ".activation",
    "GELU": ".activation", "SiLU": ".activation", "Mish": ".activation",
    "Sigmoid": ".activation", "Tanh": ".activation", "Hardtanh": ".activation",
    "Hardsigmoid": ".activation", "Hardswish": ".activation", "Softplus": ".activation",
    "Softsign": ".activation", "Softmax": ".activation", "LogSoftmax": ".activation",
    "Threshold": ".activation",
    # dropout.py
    "Dropout": ".dropout", "Dropout2d": ".dropout",
    # normalization.py
    "BatchNorm1d": ".normalization", "BatchNorm2d": ".normalization",
    "LayerNorm": ".normalization", "GroupNorm": ".normalization",
    # sparse.py
    "Embedding": ".sparse",
    # issue 18, layers-b: normalisation, activations, dropout, distances, containers, lazy
    "BatchNorm3d": ".normalization", "SyncBatchNorm": ".normalization",
    "InstanceNorm1d": ".instancenorm", "InstanceNorm2d": ".instancenorm",
    "InstanceNorm3d": ".instancenorm",
    "LocalResponseNorm": ".lrn", "CrossMapLRN2d": ".lrn",
    "GLU": ".activation", "Softmin": ".activation", "Softmax2d": ".activation",
    "Hardshrink": ".activation", "Softshrink": ".activation", "Tanhshrink": ".activation",
    "LogSigmoid": ".activation", "RReLU": ".activation",
    "Dropout1d": ".dropout", "Dropout3d": ".dropout", "AlphaDropout": ".dropout",
    "FeatureAlphaDropout": ".dropout",
    "PairwiseDistance": ".distance", "CosineSimilarity": ".distance",
    "EmbeddingBag": ".sparse", "AdaptiveLogSoftmaxWithLoss": ".adaptive",
    "LinearCrossEntropyLoss": ".linear_cross_entropy",
    "ParameterList": ".container", "ParameterDict": ".container",
    "LazyLinear": ".lazy", "LazyConv1d": ".lazy", "LazyConv2d": ".lazy", "LazyConv3d": ".lazy",
    "LazyConvTranspose1d": ".lazy", "LazyConvTranspose2d": ".lazy",
    "LazyConvTranspose3d": ".lazy", "LazyBatchNorm1d": ".lazy", "LazyBatchNorm2d": ".lazy",
    "LazyBatchNorm3d": ".lazy", "LazyInstanceNorm1d": ".lazy", "LazyInstanceNorm2d": ".lazy",
    "LazyInstanceNorm3d": ".lazy",
    # loss.py (the constructor forms of fnn.losses)
    "L1Loss": ".loss", "MSELoss": ".loss", "CrossEntropyLoss": ".loss", "NLLLoss": ".loss",
    "BCELoss": ".loss", "BCEWithLogitsLoss": ".loss", "KLDivLoss": ".loss",
    "HuberLoss": ".loss", "SmoothL1Loss": ".loss", "SoftMarginLoss": ".loss",
    "MultiLabelSoftMarginLoss": ".loss", "MultiMarginLoss": ".loss",
    "MultiLabelMarginLoss": ".loss", "HingeEmbeddingLoss": ".loss",
    "CosineEmbeddingLoss": ".loss", "MarginRankingLoss": ".loss",
    "TripletMarginLoss": ".loss", "TripletMarginWithDistanceLoss": ".loss",
    "PoissonNLLLoss": ".loss", "GaussianNLLLoss": ".loss", "CTCLoss": ".loss",
    # checkpoint_activations.py (issue 19: activation checkpointing)
    "checkpoint": ".checkpoint_activations", "Checkpoint": ".checkpoint_activations",
    # attention and Transformers (attention.py, transformer.py, RMSNorm in normalization.py)
    "MultiheadAttention": ".attention", "RMSNorm": ".normalization",
    "TransformerEncoderLayer": ".transformer", "TransformerDecoderLayer": ".transformer",
    "TransformerEncoder": ".transformer", "TransformerDecoder": ".transformer",
    "Transformer": ".transformer",
    # layers-a (issue 18): padding, resampling, rearranging, 3-D/fractional/LP pools, unpooling
    **{f"{kind}Pad{n}d": ".padding" for kind in ("Zero", "Constant", "Reflection", "Replication",
                                                 "Circular") for n in (1, 2, 3)},
    "Upsample": ".upsampling", "UpsamplingNearest2d": ".upsampling",
    "UpsamplingBilinear2d": ".upsampling",
    "PixelShuffle": ".shuffle", "PixelUnshuffle": ".shuffle", "ChannelShuffle": ".shuffle",
    "Fold": ".fold", "Unfold": ".fold",
    "MaxPool3d": ".pooling", "AvgPool3d": ".pooling", "AdaptiveMaxPool1d": ".pooling",
    "AdaptiveMaxPool3d": ".pooling", "AdaptiveAvgPool3d": ".pooling",
    "LPPool1d": ".pooling", "LPPool2d": ".pooling", "LPPool3d": ".pooling",
    "FractionalMaxPool2d": ".pooling", "FractionalMaxPool3d": ".pooling",
    "MaxUnpool1d": ".pooling", "MaxUnpool2d": ".pooling", "MaxUnpool3d": ".pooling",
    "ConvTranspose3d": ".conv",
    # submodules
    "functional": ".functional", "init": ".init",
    # rnn.py (recurrent layers) and the nn.utils package
    "RNNBase": ".rnn", "RNN": ".rnn", "LSTM": ".rnn", "GRU": ".rnn",
    "RNNCellBase": ".rnn", "RNNCell": ".rnn", "LSTMCell": ".rnn", "GRUCell": ".rnn",
    "utils": ".utils",
}
__getattr__, _dir = lazy_getattr(__name__, _TABLE)

__all__ = ["Module", "Sequential", "ModuleList", "ModuleDict", "named_parameters",
           "num_parameters", "summary", *_TABLE]


def __dir__() -> list[str]:
    return sorted(set(_dir()) | set(__all__))
