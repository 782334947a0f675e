"""``fnn.losses``: every ``torch.nn.functional`` loss as a pure function.

Same names, arguments and defaults as torch (``reduction="mean"`` etc.), values and
gradients equal to torch's. Also reachable as ``fnn.nn.functional.<name>``; the
constructor forms are ``fnn.nn.<Name>Loss``. Unlike torch, a target whose shape differs
from the input's raises instead of broadcasting with a warning.
"""

from __future__ import annotations

from .._lazy import lazy_getattr

_FILES = {
    ".regression": ["l1_loss", "mse_loss", "huber_loss", "smooth_l1_loss"],
    ".classification": ["cross_entropy", "nll_loss", "binary_cross_entropy",
                        "binary_cross_entropy_with_logits", "soft_margin_loss",
                        "multilabel_soft_margin_loss"],
    ".margin": ["multi_margin_loss", "multilabel_margin_loss", "hinge_embedding_loss",
                "cosine_embedding_loss", "margin_ranking_loss", "triplet_margin_loss",
                "triplet_margin_with_distance_loss", "pairwise_distance", "cosine_similarity"],
    ".probabilistic": ["kl_div", "poisson_nll_loss", "gaussian_nll_loss"],
    ".ctc": ["ctc_loss"],
}
_TABLE = {name: mod for mod, names in _FILES.items() for name in names}
__getattr__, __dir__ = lazy_getattr(__name__, _TABLE)
__all__ = sorted(_TABLE)
