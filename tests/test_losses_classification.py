"""Parity of cross_entropy, nll_loss, binary_cross_entropy(_with_logits), soft_margin_loss and
multilabel_soft_margin_loss with torch 2.13."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from loss_parity import check_jit_vmap, check_parity, run_fnn, run_torch

from fnn import losses

rng = np.random.default_rng(1)
N, C, D1, D2 = 5, 4, 3, 2
X2 = rng.standard_normal((N, C)) * 2
Y2 = np.array([0, 3, 1, 3, 2])
X4 = rng.standard_normal((N, C, D1, D2))
LP2 = X2 - np.log(np.exp(X2).sum(1, keepdims=True))
LP4 = X4 - np.log(np.exp(X4).sum(1, keepdims=True))
Y4 = rng.integers(0, C, (N, D1, D2))
WC = rng.uniform(0.2, 2.0, C)
P2 = rng.dirichlet(np.ones(C), N)
P4 = np.moveaxis(rng.dirichlet(np.ones(C), (N, D1, D2)), -1, 1)
X1 = rng.standard_normal(C)

CE_CASES = {
    "2d": ([X2, Y2], {}),
    "unbatched": ([X1, np.array(2)], {}),
    "kdim": ([X4, Y4], {}),
    "weight": ([X2, Y2], {"weight": WC}),
    "ignore": ([X2, np.array([0, -100, 1, 3, -100])], {"weight": WC}),
    "ignore_custom": ([X4, np.where(Y4 == 1, 2, Y4)], {"ignore_index": 2}),
    "smooth": ([X2, Y2], {"label_smoothing": 0.2}),
    "smooth_weight_ignore": ([X4, np.where(Y4 == 0, -100, Y4)],
                             {"weight": WC, "label_smoothing": 0.3}),
    "smooth_negative": ([X2, Y2], {"label_smoothing": -0.5}),
    "probs": ([X2, P2], {}),
    "probs_kdim_weight_smooth": ([X4, P4], {"weight": WC, "label_smoothing": 0.1}),
    "probs_unbatched": ([X1, P2[0]], {"label_smoothing": 0.4}),
}


@pytest.mark.parametrize("case", list(CE_CASES))
def test_cross_entropy(case):
    args, kw = CE_CASES[case]
    diff = (0, 1) if args[1].dtype.kind == "f" else (0,)
    check_parity(losses.cross_entropy, TF.cross_entropy, args, kw, diff=diff)


NLL_CASES = {
    "2d": ([LP2, Y2], {}),
    "kdim_weight": ([X4, Y4], {"weight": WC}),
    "ignore_weight": ([X2, np.array([-100, 3, 1, -100, 2])], {"weight": WC}),
    "unbatched": ([X1, np.array(1)], {"weight": WC}),
}


@pytest.mark.parametrize("case", list(NLL_CASES))
def test_nll_loss(case):
    args, kw = NLL_CASES[case]
    check_parity(losses.nll_loss, TF.nll_loss, args, kw)


@pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss"])
def test_all_targets_ignored(fn):
    # 'mean' is NaN (0/0) with a zero gradient, 'sum' is 0; identical to torch
    y = np.full(N, -100)
    for red in ("mean", "sum", "none"):
        want, (wg,) = run_torch(getattr(TF, fn), [X2, y], {"reduction": red}, (0,))
        [(got, (gg,))] = run_fnn(getattr(losses, fn), [([X2, y], {"reduction": red}, (0,))])
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_allclose(got[~np.isnan(want)], want[~np.isnan(want)])
        np.testing.assert_array_equal(gg, wg)
        assert np.isnan(got).all() if red == "mean" else not np.isnan(got).any()


def test_zero_weights_match_torch():
    w = np.zeros(C)
    want, (wg,) = run_torch(TF.cross_entropy, [X2, Y2], {"weight": w}, (0,))
    [(got, (gg,))] = run_fnn(losses.cross_entropy, [([X2, Y2], {"weight": w}, (0,))])
    assert np.isnan(want) and np.isnan(got)
    np.testing.assert_array_equal(np.isnan(gg), np.isnan(wg))
    w = WC.copy()
    w[[0, 3]] = 0.0  # zero weight on some classes: finite, weight-normalised
    check_parity(losses.cross_entropy, TF.cross_entropy, [X2, Y2], {"weight": w})


BX = rng.uniform(0.02, 0.98, (N, C))
BY = rng.uniform(0, 1, (N, C))


@pytest.mark.parametrize("kw", [{}, {"weight": WC}, {"weight": rng.uniform(0.5, 2, (N, C))}])
def test_binary_cross_entropy(kw):
    check_parity(losses.binary_cross_entropy, TF.binary_cross_entropy, [BX, BY], kw, diff=(0, 1))


def test_bce_log_clamp_at_extremes():
    x = np.array([0.0, 1.0, 0.0, 1.0, 1e-50, 1 - 1e-16, 0.5])
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.3, 0.5])
    check_parity(losses.binary_cross_entropy, TF.binary_cross_entropy, [x, y], diff=(0, 1),
                 dtypes=(np.float64,))


LX = rng.standard_normal((N, C)) * 3
PW = rng.uniform(0.5, 3.0, C)


@pytest.mark.parametrize("kw", [{}, {"weight": WC}, {"pos_weight": PW},
                                {"weight": rng.uniform(0.5, 2, (N, C)), "pos_weight": PW}])
def test_bce_with_logits(kw):
    check_parity(losses.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits,
                 [LX, BY], kw, diff=(0, 1))


def test_soft_margin():
    y = np.where(rng.uniform(size=(N, C)) > 0.5, 1.0, -1.0)
    check_parity(losses.soft_margin_loss, TF.soft_margin_loss, [LX, y])  # torch: no target grad


@pytest.mark.parametrize("kw", [{}, {"weight": WC}])
def test_multilabel_soft_margin(kw):
    y = (rng.uniform(size=(N, C)) > 0.5).astype(np.float64)
    check_parity(losses.multilabel_soft_margin_loss, TF.multilabel_soft_margin_loss, [LX, y], kw,
                 diff=(0, 1))


def test_errors():
    with pytest.raises(ValueError, match=r"label_smoothing must be between 0.0 and 1.0. Got: 1.5"):
        losses.cross_entropy(X2, Y2, label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"Expected input batch_size \(5\) to match target "
                                         r"batch_size \(4\)\."):
        losses.cross_entropy(X2, Y2[:4])
    with pytest.raises(IndexError, match="Target 7 is out of bounds."):
        losses.nll_loss(X2, np.array([0, 7, 1, 1, 1]))
    with pytest.raises(ValueError, match=r"weight tensor should be defined either for all 4 classes "
                                         r"or no classes but got weight tensor of shape: \[3\]"):
        losses.cross_entropy(X2, Y2, weight=WC[:3])
    with pytest.raises(ValueError, match="ignore_index is not supported for floating point target"):
        losses.cross_entropy(X2, P2, ignore_index=1)
    with pytest.raises(ValueError, match="Expected floating point type for target with class "
                                         "probabilities"):
        losses.cross_entropy(X2, np.ones((N, C), np.int64))
    with pytest.raises(ValueError, match="all elements of input should be between 0 and 1"):
        losses.binary_cross_entropy(BX + 1, BY)
    with pytest.raises(ValueError, match=r"Using a target size \(\(5,\)\) that is different"):
        losses.binary_cross_entropy(BX, BY[:, 0])
    with pytest.raises(ValueError, match=r"Target size \(\(5, 1\)\) must be the same as input size"):
        losses.binary_cross_entropy_with_logits(LX, BY[:, :1])
    with pytest.raises(ValueError, match=r"target shape \(5,\) differs"):
        losses.multilabel_soft_margin_loss(LX, BY[:, 0])
    with pytest.raises(ValueError, match=r"avg is not a valid value for reduction \(cross_entropy "
                                         r"expects one of 'none', 'mean', 'sum'\)"):
        losses.cross_entropy(X2, Y2, reduction="avg")


def test_jit_vmap():
    y_ign = np.array([0, -100, 1, 3, -100])
    check_jit_vmap(losses.cross_entropy, [X2, y_ign], {"weight": WC, "label_smoothing": 0.1})
    check_jit_vmap(losses.cross_entropy, [X4, P4], {"reduction": "none"})
    check_jit_vmap(losses.nll_loss, [X4, Y4], {"reduction": "sum"})
    check_jit_vmap(losses.binary_cross_entropy, [BX, BY], {"weight": WC})
    check_jit_vmap(losses.binary_cross_entropy_with_logits, [LX, BY], {"pos_weight": PW})
    check_jit_vmap(losses.multilabel_soft_margin_loss, [LX, BY])
    check_jit_vmap(losses.soft_margin_loss, [LX, BY], {"reduction": "none"})


def test_torch_legacy_args_match():
    with pytest.warns(UserWarning):
        want = TF.cross_entropy(torch.from_numpy(X2), torch.from_numpy(Y2), reduce=False).numpy()
    with pytest.warns(UserWarning, match="reduction='none'"):
        got = losses.cross_entropy(X2, Y2, reduce=False)
    np.testing.assert_allclose(got, want, rtol=1e-12)
