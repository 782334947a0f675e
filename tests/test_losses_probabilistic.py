"""Parity of kl_div, poisson_nll_loss and gaussian_nll_loss with torch 2.13."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from loss_parity import check_jit_vmap, check_parity

from fnn import losses

rng = np.random.default_rng(3)
N, C = 4, 5
LOGP = np.log(rng.dirichlet(np.ones(C), N))
Q = rng.dirichlet(np.ones(C), N)
Q0 = Q.copy()
Q0[[0, 2], [1, 3]] = 0.0  # zero target entries contribute 0
KL_RED = ("none", "batchmean", "sum", "mean")


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
def test_kl_div():
    check_parity(losses.kl_div, TF.kl_div, [LOGP, Q], diff=(0, 1), reductions=KL_RED)
    check_parity(losses.kl_div, TF.kl_div, [LOGP, Q0], diff=(0,), reductions=KL_RED)
    check_parity(losses.kl_div, TF.kl_div, [LOGP, np.log(Q)], {"log_target": True}, diff=(0, 1),
                 reductions=KL_RED)


def test_kl_div_mean_warns_and_legacy_batchmean():
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        losses.kl_div(LOGP, Q)
    # legacy args bypass the warning; 'batchmean' still divides by the batch size
    with pytest.warns(UserWarning, match="size_average and reduce"):
        got = losses.kl_div(LOGP, Q, size_average=False, reduction="batchmean")
    with pytest.warns(UserWarning):
        want = TF.kl_div(torch.from_numpy(LOGP), torch.from_numpy(Q), size_average=False,
                         reduction="batchmean").numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12)


X = rng.standard_normal((N, C))
YP = rng.poisson(2.0, (N, C)).astype(np.float64)


@pytest.mark.parametrize("kw", [{}, {"full": True}, {"log_input": False, "eps": 1e-3},
                                {"log_input": False, "full": True}])
def test_poisson_nll(kw):
    x = X if kw.get("log_input", True) else np.exp(X)
    if kw.get("full"):
        # torch's target gradient is NaN at y == 0 with full=True (0 * log'(0) through its
        # masked_fill); fnn keeps it finite (0), so compare target grads on y >= 1 only
        check_parity(losses.poisson_nll_loss, TF.poisson_nll_loss, [x, YP], kw, diff=(0,))
        check_parity(losses.poisson_nll_loss, TF.poisson_nll_loss, [x, YP + 1], kw, diff=(0, 1))
    else:
        check_parity(losses.poisson_nll_loss, TF.poisson_nll_loss, [x, YP], kw, diff=(0, 1))


VAR = rng.uniform(0.1, 2.0, (N, C))
VAR[0, 0] = 1e-9  # below eps: clamped, gradient straight through (as torch)


@pytest.mark.parametrize("var", [VAR, VAR[:, 0], VAR[:1], VAR[:, :1]],
                         ids=["full", "rows", "bcast_dim0", "bcast_last"])
@pytest.mark.parametrize("full", [False, True])
def test_gaussian_nll(var, full):
    check_parity(losses.gaussian_nll_loss, TF.gaussian_nll_loss, [X, Q, var], {"full": full},
                 diff=(0, 1, 2))


def test_gaussian_float_var():
    check_parity(lambda x, y, **k: losses.gaussian_nll_loss(x, y, 0.7, **k),
                 lambda x, y, **k: TF.gaussian_nll_loss(x, y, 0.7, **k), [X, Q], diff=(0, 1))


def test_errors():
    with pytest.raises(ValueError, match="var has negative entry/entries"):
        losses.gaussian_nll_loss(X, Q, -1.0)
    with pytest.raises(ValueError, match="var has negative entry/entries"):
        losses.gaussian_nll_loss(X, Q, -VAR)
    with pytest.raises(ValueError, match="var is of incorrect size"):
        losses.gaussian_nll_loss(X, Q, VAR[:2, :2])
    with pytest.raises(ValueError, match="avg is not valid"):
        losses.gaussian_nll_loss(X, Q, VAR, reduction="avg")
    with pytest.raises(ValueError, match="avg is not a valid value for reduction"):
        losses.poisson_nll_loss(X, YP, reduction="avg")
    with pytest.raises(ValueError, match=r"'none', 'batchmean', 'mean', 'sum'"):
        losses.kl_div(LOGP, Q, reduction="avg")
    with pytest.raises(ValueError, match=r"target shape \(4,\) differs"):
        losses.kl_div(LOGP, Q[:, 0], reduction="sum")


def test_jit_vmap():
    check_jit_vmap(losses.kl_div, [LOGP, Q0], {"reduction": "batchmean"})
    check_jit_vmap(losses.poisson_nll_loss, [X, YP], {"full": True})
    check_jit_vmap(losses.gaussian_nll_loss, [X, Q, VAR[:, 0]], {"reduction": "sum"})
