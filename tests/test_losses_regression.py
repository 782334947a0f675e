"""Parity of l1_loss, mse_loss, huber_loss and smooth_l1_loss with torch 2.13."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from loss_parity import check_jit_vmap, check_parity

from fnn import losses

rng = np.random.default_rng(0)
X = rng.standard_normal((4, 5)) * 2
Y = rng.standard_normal((4, 5)) * 2
W = rng.uniform(0.1, 2.0, (4, 5))


@pytest.mark.parametrize("name", ["l1_loss", "mse_loss", "huber_loss", "smooth_l1_loss"])
def test_plain(name):
    check_parity(getattr(losses, name), getattr(TF, name), [X, Y], diff=(0, 1))


@pytest.mark.parametrize("name", ["l1_loss", "mse_loss", "huber_loss"])
def test_weight(name):
    check_parity(getattr(losses, name), getattr(TF, name), [X, Y], {"weight": W},
                 diff=(0, 1, "weight"))


@pytest.mark.parametrize("delta", [0.3, 1.0, 2.5])
def test_huber_delta(delta):
    check_parity(losses.huber_loss, TF.huber_loss, [X, Y], {"delta": delta}, diff=(0, 1))


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 3.0])
def test_smooth_l1_beta(beta):
    check_parity(losses.smooth_l1_loss, TF.smooth_l1_loss, [X, Y], {"beta": beta}, diff=(0, 1))


def test_ties_have_torch_gradient():
    # |d| exactly 0 and exactly delta/beta: torch's subgradient choices
    x = np.array([0.0, 1.0, -1.0, 2.0, 0.5])
    y = np.array([0.0, 0.0, 0.0, 1.0, 0.5])
    for name, kw in [("l1_loss", {}), ("mse_loss", {}), ("huber_loss", {"delta": 1.0}),
                     ("smooth_l1_loss", {"beta": 1.0}), ("smooth_l1_loss", {"beta": 0.0})]:
        check_parity(getattr(losses, name), getattr(TF, name), [x, y], kw, diff=(0, 1),
                     dtypes=(np.float64,))


def test_legacy_args_warn_and_map():
    for kw, red in [({"size_average": False}, "sum"), ({"reduce": False}, "none"),
                    ({"size_average": True, "reduce": True}, "mean")]:
        with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
            got = losses.mse_loss(X, Y, **kw)
        np.testing.assert_allclose(got, losses.mse_loss(X, Y, reduction=red), rtol=1e-15)
        with pytest.warns(UserWarning):
            want = TF.mse_loss(torch.from_numpy(X), torch.from_numpy(Y), **kw).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_elementwise_mean_is_deprecated_mean():
    with pytest.warns(UserWarning, match="elementwise_mean"):
        got = losses.l1_loss(X, Y, reduction="elementwise_mean")
    np.testing.assert_allclose(got, np.mean(np.abs(X - Y)), rtol=1e-14)


def test_errors():
    with pytest.raises(ValueError, match=r"batchmean is not a valid value for reduction "
                                         r"\(mse_loss expects one of 'none', 'mean', 'sum'\)"):
        losses.mse_loss(X, Y, reduction="batchmean")
    with pytest.raises(ValueError, match=r"target shape \(5,\) differs from input shape \(4, 5\)"):
        losses.l1_loss(X, Y[0])
    with pytest.raises(ValueError, match="Weights and input must have the same size"):
        losses.mse_loss(X, Y, weight=W[0])
    with pytest.raises(ValueError, match="huber_loss does not support non-positive values for delta."):
        losses.huber_loss(X, Y, delta=0.0)
    with pytest.raises(ValueError, match="smooth_l1_loss does not support negative values for beta."):
        losses.smooth_l1_loss(X, Y, beta=-0.1)


@pytest.mark.parametrize("name", ["l1_loss", "mse_loss", "huber_loss", "smooth_l1_loss"])
def test_jit_vmap(name):
    for red in ("none", "mean"):
        check_jit_vmap(getattr(losses, name), [X, Y], {"reduction": red})
