"""The ``torch.nn.*Loss`` constructor forms of :mod:`fnn.losses`.

A loss module stores torch's constructor arguments and is called like torch's,
``criterion(input, target)`` (no params argument); it has no parameters and no buffers, so
it adds nothing to a model's ``init`` when kept as an attribute. ``weight``/``pos_weight``
arrays are plain constants here (torch registers them as buffers; to differentiate with
respect to them, call the function in :mod:`fnn.losses`). The legacy ``size_average`` /
``reduce`` arguments are turned into ``reduction`` at construction, with torch's warning.
The repr is torch's (``MSELoss()``).
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

from .. import _check, losses
from .._check import get_reduction, legacy_get_string
from .module import Module

__all__ = ["L1Loss", "MSELoss", "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss",
           "KLDivLoss", "HuberLoss", "SmoothL1Loss", "SoftMarginLoss", "MultiLabelSoftMarginLoss",
           "MultiMarginLoss", "MultiLabelMarginLoss", "HingeEmbeddingLoss",
           "CosineEmbeddingLoss", "MarginRankingLoss", "TripletMarginLoss",
           "TripletMarginWithDistanceLoss", "PoissonNLLLoss", "GaussianNLLLoss", "CTCLoss"]

_LEGACY = (("size_average", None), ("reduce", None))
_RED = (("reduction", "mean"),)


def _validate(cls: str, fn: str, options: dict[str, Any]) -> None:
    """The checks of ``fnn.losses.<fn>`` that need no data, run at construction (torch defers
    them to the first call; a typo in ``reduction`` should not wait for the first batch)."""
    reduction = options.get("reduction")
    if reduction is not None and reduction != "elementwise_mean":
        get_reduction(fn, reduction, valid=("none", "batchmean", "mean", "sum") if fn == "kl_div"
                      else ("none", "mean", "sum"))
    for name in ("margin", "eps", "delta", "beta", "label_smoothing"):
        if name in options:
            _check.number(cls, name, options[name])
    if cls == "HuberLoss" and options["delta"] <= 0:
        raise ValueError("huber_loss does not support non-positive values for delta.")
    if cls == "SmoothL1Loss" and options["beta"] < 0:
        raise ValueError("smooth_l1_loss does not support negative values for beta.")
    if "label_smoothing" in options and options["label_smoothing"] > 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: "
                         f"{options['label_smoothing']}")
    if cls == "MultiMarginLoss" and options["p"] not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if cls in ("TripletMarginLoss", "TripletMarginWithDistanceLoss") and options["margin"] <= 0:
        raise ValueError(f"margin must be greater than 0, got {options['margin']}")
    if cls == "CTCLoss":
        _check.integer(cls, "blank", options["blank"], low=0)
    if options.get("distance_function") is not None:
        _check.callable_(cls, "distance_function", options["distance_function"])


class _Loss(Module):
    """Generic loss module: ``_fn`` names the function in :mod:`fnn.losses`, ``_args`` lists
    torch's constructor arguments with their defaults (in torch's order)."""

    _fn: ClassVar[str]
    _args: ClassVar[tuple[tuple[str, Any], ...]]
    _kwonly: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        kind = (inspect.Parameter.KEYWORD_ONLY if cls._kwonly
                else inspect.Parameter.POSITIONAL_OR_KEYWORD)
        params = [inspect.Parameter(name, kind, default=d) for name, d in cls._args]
        cls._signature = inspect.Signature(params)

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            _Loss.__init__(self, *args, **kwargs)

        # each class gets its own __init__ so that help()/inspect show torch's signature
        self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)
        __init__.__signature__ = inspect.Signature([self_param, *params])  # type: ignore[attr-defined]
        __init__.__qualname__ = f"{cls.__name__}.__init__"
        cls.__init__ = __init__  # type: ignore[method-assign]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{type(self).__name__}{self._signature}: {e}") from None
        bound.apply_defaults()
        options = dict(bound.arguments)
        if "size_average" in options:
            size_average, reduce = options.pop("size_average"), options.pop("reduce")
            if size_average is not None or reduce is not None:
                options["reduction"] = legacy_get_string(size_average, reduce)
        _validate(type(self).__name__, self._fn, options)
        for name, value in options.items():
            setattr(self, name, value)
        self._fnn_options = options

    def __call__(self, *inputs: Any) -> Any:  # type: ignore[override]
        """``criterion(input, target, ...)``: the loss function with the stored options."""
        return getattr(losses, self._fn)(*inputs, **self._fnn_options)

    forward = __call__  # torch's criterion.forward(input, target)


class L1Loss(_Loss):
    """``torch.nn.L1Loss``: :func:`fnn.losses.l1_loss` as a module."""
    _fn, _args = "l1_loss", _LEGACY + _RED


class MSELoss(_Loss):
    """``torch.nn.MSELoss``: :func:`fnn.losses.mse_loss` as a module."""
    _fn, _args = "mse_loss", _LEGACY + _RED


class CrossEntropyLoss(_Loss):
    """``torch.nn.CrossEntropyLoss``: :func:`fnn.losses.cross_entropy` as a module."""
    _fn = "cross_entropy"
    _args = (("weight", None), ("size_average", None), ("ignore_index", -100), ("reduce", None),
             ("reduction", "mean"), ("label_smoothing", 0.0))


class NLLLoss(_Loss):
    """``torch.nn.NLLLoss``: :func:`fnn.losses.nll_loss` as a module."""
    _fn = "nll_loss"
    _args = (("weight", None), ("size_average", None), ("ignore_index", -100), ("reduce", None),
             ("reduction", "mean"))


class BCELoss(_Loss):
    """``torch.nn.BCELoss``: :func:`fnn.losses.binary_cross_entropy` as a module."""
    _fn, _args = "binary_cross_entropy", (("weight", None),) + _LEGACY + _RED


class BCEWithLogitsLoss(_Loss):
    """``torch.nn.BCEWithLogitsLoss``: :func:`fnn.losses.binary_cross_entropy_with_logits`."""
    _fn = "binary_cross_entropy_with_logits"
    _args = (("weight", None),) + _LEGACY + _RED + (("pos_weight", None),)


class KLDivLoss(_Loss):
    """``torch.nn.KLDivLoss``: :func:`fnn.losses.kl_div` as a module."""
    _fn, _args = "kl_div", _LEGACY + _RED + (("log_target", False),)


class HuberLoss(_Loss):
    """``torch.nn.HuberLoss``: :func:`fnn.losses.huber_loss` as a module (no ``weight``, as torch)."""
    _fn, _args = "huber_loss", _RED + (("delta", 1.0),)


class SmoothL1Loss(_Loss):
    """``torch.nn.SmoothL1Loss``: :func:`fnn.losses.smooth_l1_loss` as a module."""
    _fn, _args = "smooth_l1_loss", _LEGACY + _RED + (("beta", 1.0),)


class SoftMarginLoss(_Loss):
    """``torch.nn.SoftMarginLoss``: :func:`fnn.losses.soft_margin_loss` as a module."""
    _fn, _args = "soft_margin_loss", _LEGACY + _RED


class MultiLabelSoftMarginLoss(_Loss):
    """``torch.nn.MultiLabelSoftMarginLoss``: :func:`fnn.losses.multilabel_soft_margin_loss`."""
    _fn, _args = "multilabel_soft_margin_loss", (("weight", None),) + _LEGACY + _RED


class MultiMarginLoss(_Loss):
    """``torch.nn.MultiMarginLoss``: :func:`fnn.losses.multi_margin_loss` as a module."""
    _fn = "multi_margin_loss"
    _args = (("p", 1), ("margin", 1.0), ("weight", None)) + _LEGACY + _RED


class MultiLabelMarginLoss(_Loss):
    """``torch.nn.MultiLabelMarginLoss``: :func:`fnn.losses.multilabel_margin_loss` as a module."""
    _fn, _args = "multilabel_margin_loss", _LEGACY + _RED


class HingeEmbeddingLoss(_Loss):
    """``torch.nn.HingeEmbeddingLoss``: :func:`fnn.losses.hinge_embedding_loss` as a module."""
    _fn, _args = "hinge_embedding_loss", (("margin", 1.0),) + _LEGACY + _RED


class CosineEmbeddingLoss(_Loss):
    """``torch.nn.CosineEmbeddingLoss``: :func:`fnn.losses.cosine_embedding_loss` as a module."""
    _fn, _args = "cosine_embedding_loss", (("margin", 0.0),) + _LEGACY + _RED


class MarginRankingLoss(_Loss):
    """``torch.nn.MarginRankingLoss``: :func:`fnn.losses.margin_ranking_loss` as a module."""
    _fn, _args = "margin_ranking_loss", (("margin", 0.0),) + _LEGACY + _RED


class TripletMarginLoss(_Loss):
    """``torch.nn.TripletMarginLoss``: :func:`fnn.losses.triplet_margin_loss` as a module."""
    _fn = "triplet_margin_loss"
    _args = (("margin", 1.0), ("p", 2.0), ("eps", 1e-6), ("swap", False)) + _LEGACY + _RED


class TripletMarginWithDistanceLoss(_Loss):
    """``torch.nn.TripletMarginWithDistanceLoss`` (keyword-only arguments, as torch):
    :func:`fnn.losses.triplet_margin_with_distance_loss` as a module."""
    _fn, _kwonly = "triplet_margin_with_distance_loss", True
    _args = (("distance_function", None), ("margin", 1.0), ("swap", False)) + _RED


class PoissonNLLLoss(_Loss):
    """``torch.nn.PoissonNLLLoss``: :func:`fnn.losses.poisson_nll_loss` as a module."""
    _fn = "poisson_nll_loss"
    _args = (("log_input", True), ("full", False), ("size_average", None), ("eps", 1e-8),
             ("reduce", None), ("reduction", "mean"))


class GaussianNLLLoss(_Loss):
    """``torch.nn.GaussianNLLLoss`` (keyword-only arguments, as torch), called as
    ``criterion(input, target, var)``: :func:`fnn.losses.gaussian_nll_loss`."""
    _fn, _kwonly = "gaussian_nll_loss", True
    _args = (("full", False), ("eps", 1e-6)) + _RED


class CTCLoss(_Loss):
    """``torch.nn.CTCLoss``, called as ``criterion(log_probs, targets, input_lengths,
    target_lengths)``: :func:`fnn.losses.ctc_loss` as a module."""
    _fn = "ctc_loss"
    _args = (("blank", 0),) + _RED + (("zero_infinity", False),)
