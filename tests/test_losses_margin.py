"""Parity of the margin/embedding losses, pairwise_distance and cosine_similarity with torch 2.13."""

import numpy as np
import pytest
import torch.nn.functional as TF
from loss_parity import check_jit_vmap, check_parity

from fnn import losses

rng = np.random.default_rng(2)
N, C, D = 5, 4, 6
X = rng.standard_normal((N, C))
Y = np.array([0, 3, 1, 3, 2])
WC = rng.uniform(0.2, 2.0, C)
PM = np.where(rng.uniform(size=N) > 0.5, 1.0, -1.0)
A, P, NG = (rng.standard_normal((N, D)) for _ in range(3))


@pytest.mark.parametrize("kw", [{}, {"p": 2}, {"margin": 0.3, "weight": WC},
                                {"p": 2, "margin": 2.0, "weight": WC}])
def test_multi_margin(kw):
    check_parity(losses.multi_margin_loss, TF.multi_margin_loss, [X, Y], kw)


def test_multi_margin_unbatched():
    check_parity(losses.multi_margin_loss, TF.multi_margin_loss, [X[0], np.array(2)])


def test_multilabel_margin():
    y = np.array([[3, 0, -1, 1], [0, 1, 2, 3], [1, -1, 2, 2], [-1, 0, 1, 2], [2, 2, 0, -1]])
    check_parity(losses.multilabel_margin_loss, TF.multilabel_margin_loss, [X, y])
    check_parity(losses.multilabel_margin_loss, TF.multilabel_margin_loss, [X[0], y[0]])


@pytest.mark.parametrize("margin", [1.0, 0.4])
def test_hinge_embedding(margin):
    y = np.array([[1, -1, 1, -1], [1, 1, -1, -1], [-1, 1, 0, 1], [1, -1, 2, 1], [-1, -1, 1, 1.0]])
    check_parity(losses.hinge_embedding_loss, TF.hinge_embedding_loss, [X, y], {"margin": margin})


@pytest.mark.parametrize("margin", [0.0, 0.3])
def test_cosine_embedding(margin):
    y = np.array([1.0, -1.0, 1.0, -1.0, 0.0])
    check_parity(losses.cosine_embedding_loss, TF.cosine_embedding_loss, [A, P, y],
                 {"margin": margin}, diff=(0, 1))
    check_parity(losses.cosine_embedding_loss, TF.cosine_embedding_loss, [A[0], P[0], np.array(y[1])],
                 {"margin": margin}, diff=(0, 1), reductions=("mean",))


@pytest.mark.parametrize("margin", [0.0, 0.5])
def test_margin_ranking(margin):
    check_parity(losses.margin_ranking_loss, TF.margin_ranking_loss, [A[:, 0], P[:, 0], PM],
                 {"margin": margin}, diff=(0, 1, 2))


@pytest.mark.parametrize("kw", [{}, {"p": 1, "margin": 0.5}, {"p": 3, "eps": 1e-3, "swap": True},
                                {"swap": True, "margin": 2.0}])
def test_triplet_margin(kw):
    check_parity(losses.triplet_margin_loss, TF.triplet_margin_loss, [A, P, NG], kw,
                 diff=(0, 1, 2))


def test_triplet_margin_with_distance():
    check_parity(losses.triplet_margin_with_distance_loss, TF.triplet_margin_with_distance_loss,
                 [A, P, NG], {"swap": True, "margin": 1.5}, diff=(0, 1, 2))
    cos_dist_fnn = lambda u, v: 1.0 - losses.cosine_similarity(u, v)
    cos_dist_torch = lambda u, v: 1.0 - TF.cosine_similarity(u, v)
    check_parity(lambda *a, **k: losses.triplet_margin_with_distance_loss(
        *a, distance_function=cos_dist_fnn, **k),
        lambda *a, **k: TF.triplet_margin_with_distance_loss(*a, distance_function=cos_dist_torch,
                                                             **k),
        [A, P, NG], {"margin": 0.3}, diff=(0, 1, 2))


@pytest.mark.parametrize("kw", [{}, {"p": 1.0}, {"p": 3.0, "keepdim": True}, {"p": float("inf")}])
def test_pairwise_distance(kw):
    check_parity(losses.pairwise_distance, TF.pairwise_distance, [A, P], kw, diff=(0, 1),
                 reductions=(None,))


def test_cosine_similarity():
    check_parity(losses.cosine_similarity, TF.cosine_similarity, [A, P], {}, diff=(0, 1),
                 reductions=(None,))
    z = np.zeros((2, 3))  # clamped norm: gradient flows through the unclamped norm
    z[1] = [1.0, 2.0, -1.0]
    check_parity(losses.cosine_similarity, TF.cosine_similarity, [z, A[:2, :3]], {"dim": 1},
                 diff=(0, 1), reductions=(None,), dtypes=(np.float64,))


def test_errors():
    with pytest.raises(ValueError, match="only p == 1 and p == 2 supported"):
        losses.multi_margin_loss(X, Y, p=3)
    with pytest.raises(ValueError, match="weight must be one-dimensional"):
        losses.multi_margin_loss(X, Y, weight=np.ones((1, C)))
    with pytest.raises(ValueError, match="margin must be greater than 0, got 0.0"):
        losses.triplet_margin_loss(A, P, NG, margin=0.0)
    with pytest.raises(ValueError, match="margin must be greater than 0, got -1"):
        losses.triplet_margin_with_distance_loss(A, P, NG, margin=-1)
    with pytest.raises(ValueError, match="anchor 2D, positive 2D, negative 1D"):
        losses.triplet_margin_loss(A, P, NG[0])
    with pytest.raises(ValueError, match="All input tensors should have same dimension"):
        losses.margin_ranking_loss(A[:, 0], P[:, 0], PM[:1])
    with pytest.raises(ValueError, match=r"target shape \(5,\) differs"):
        losses.hinge_embedding_loss(X, PM)
    with pytest.raises(IndexError, match="target out of range"):
        losses.multi_margin_loss(X, np.array([0, 1, 2, 3, 4]))
    with pytest.raises(ValueError, match=r"sum_all is not a valid value for reduction"):
        losses.margin_ranking_loss(A[:, 0], P[:, 0], PM, reduction="sum_all")


def test_jit_vmap():
    y = np.array([[3, 0, -1, 1], [0, 1, 2, 3], [1, -1, 2, 2], [-1, 0, 1, 2], [2, 2, 0, -1]])
    check_jit_vmap(losses.multi_margin_loss, [X, Y], {"p": 2, "weight": WC})
    check_jit_vmap(losses.multilabel_margin_loss, [X, y])
    check_jit_vmap(losses.hinge_embedding_loss, [X, np.sign(X)])
    check_jit_vmap(losses.cosine_embedding_loss, [A, P, PM], {"margin": 0.2})
    check_jit_vmap(losses.margin_ranking_loss, [A[:, 0], P[:, 0], PM], {"reduction": "none"})
    check_jit_vmap(losses.triplet_margin_loss, [A, P, NG], {"swap": True})
