"""Parity of ctc_loss with torch 2.13 (values, and gradients w.r.t. the logits through
log_softmax; see the ctc_loss docstring for torch's raw log_probs gradient)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from loss_parity import check_parity, run_fnn, run_torch

from fnn import losses

rng = np.random.default_rng(4)
T, N, C, S = 12, 4, 5, 4
LOGITS = rng.standard_normal((T, N, C)) * 1.5
# repeats (2, 2) exercise the no-skip rule; sample 3 has an empty target
TGT = np.array([[1, 2, 2, 3], [4, 1, 3, 0], [2, 2, 2, 1], [3, 0, 0, 0]])
TL = np.array([4, 3, 4, 0])
IL = np.array([12, 9, 11, 7])


def _via_log_softmax(ctc, log_softmax):
    def f(logits, *args, **kw):
        return ctc(log_softmax(logits, -1), *args, **kw)
    return f


FNN_CTC = _via_log_softmax(losses.ctc_loss, jax.nn.log_softmax)
TORCH_CTC = _via_log_softmax(TF.ctc_loss, TF.log_softmax)


def test_padded_targets():
    check_parity(FNN_CTC, TORCH_CTC, [LOGITS, TGT, IL, TL])


def test_concatenated_targets_and_blank():
    cat = np.concatenate([t[:n] for t, n in zip(TGT, TL)])
    check_parity(FNN_CTC, TORCH_CTC, [LOGITS, cat, IL, TL], reductions=("none", "mean"))
    # blank = 4: relabel so that no target uses class 4
    tgt = np.where(TGT == 4, 0, TGT)
    check_parity(FNN_CTC, TORCH_CTC, [LOGITS, tgt, IL, TL], {"blank": 4}, reductions=("sum",),
                 dtypes=(np.float64,))


def test_unbatched():
    check_parity(FNN_CTC, TORCH_CTC, [LOGITS[:, 0], TGT[0], np.array(10), np.array(4)],
                 reductions=("none", "mean"))


def test_zero_infinity():
    # sample 0 needs 2*3+1 = 7 frames for (2, 2, 2) but has 4: impossible, loss inf
    tgt, tl, il = TGT.copy(), TL.copy(), IL.copy()
    tgt[0, :3], tl[0], il[0] = 2, 3, 4
    check_parity(FNN_CTC, TORCH_CTC, [LOGITS, tgt, il, tl], {"zero_infinity": True})
    got = losses.ctc_loss(jax.nn.log_softmax(LOGITS, -1), tgt, il, tl, reduction="none")
    want = TF.ctc_loss(torch.from_numpy(LOGITS).log_softmax(-1), torch.from_numpy(tgt),
                       torch.from_numpy(il), torch.from_numpy(tl), reduction="none").numpy()
    assert np.isinf(got[0]) and np.isinf(want[0])
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_raw_log_probs_gradient_relation():
    # torch's gradient w.r.t. log_probs is exp(lp) - posterior on the frames t < input_length,
    # fnn's (autodiff) is -posterior; the values are identical
    lp = np.asarray(jax.nn.log_softmax(LOGITS, -1))
    want, (wg,) = run_torch(TF.ctc_loss, [lp, TGT, IL, TL], {"reduction": "sum"}, (0,))
    [(got, (gg,))] = run_fnn(losses.ctc_loss, [([lp, TGT, IL, TL], {"reduction": "sum"}, (0,))])
    np.testing.assert_allclose(got, want, rtol=1e-10)
    frames = (np.arange(T)[:, None] < IL[None])[..., None]
    np.testing.assert_allclose(gg + want.dtype.type(1.3) * np.exp(lp) * frames, wg, rtol=1e-9,
                               atol=1e-12)


def test_jit_vmap_and_errors():
    lp = jax.nn.log_softmax(jnp.asarray(LOGITS), -1)
    f = lambda lp, il, tl: losses.ctc_loss(lp, TGT, il, tl)
    np.testing.assert_allclose(jax.jit(f)(lp, IL, TL), f(lp, IL, TL), rtol=1e-12)
    per = jax.vmap(lambda lp, t, il, tl: losses.ctc_loss(lp, t, il, tl, reduction="sum"),
                   in_axes=(1, 0, 0, 0))(lp, TGT, IL, TL)
    np.testing.assert_allclose(per, losses.ctc_loss(lp, TGT, IL, TL, reduction="none"),
                               rtol=1e-12)
    with pytest.raises(ValueError, match="blank must be in label range"):
        losses.ctc_loss(lp, TGT, IL, TL, blank=C)
    with pytest.raises(ValueError, match="Expected input_lengths to have value at most 12"):
        losses.ctc_loss(lp, TGT, IL + 1, TL)
    with pytest.raises(ValueError, match="other than the blank 0"):
        losses.ctc_loss(lp, TGT, IL, TL + np.array([0, 1, 0, 0]))
    with pytest.raises(ValueError, match="mean_sum is not a valid value for reduction"):
        losses.ctc_loss(lp, TGT, IL, TL, reduction="mean_sum")
