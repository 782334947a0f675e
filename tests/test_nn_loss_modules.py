"""The nn.*Loss constructor forms: torch's constructor arguments, torch's call form
``criterion(input, target)``, values and input gradients equal to torch's modules."""

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from loss_parity import check_parity

import fnn
import fnn.nn.loss as loss_modules
from fnn import nn

rng = np.random.default_rng(5)
N, C = 4, 3
X = rng.standard_normal((N, C))
Y = rng.standard_normal((N, C))
P = rng.uniform(0.05, 0.95, (N, C))
Q = rng.dirichlet(np.ones(C), N)
IDX = np.array([0, 2, 1, 2])
PM = np.array([1.0, -1.0, -1.0, 1.0])
W = rng.uniform(0.5, 2.0, C)
MLT = np.array([[2, 0, -1], [1, -1, 0], [0, 1, 2], [-1, 0, 0]])
T_, S_ = 6, 2
CTC_LP = np.asarray(jax.nn.log_softmax(rng.standard_normal((T_, N, C)), -1))
CTC_ARGS = [CTC_LP, np.array([[1, 2], [2, 2], [1, 1], [2, 0]]), np.array([6, 5, 6, 4]),
            np.array([2, 2, 1, 1])]

# name: (constructor kwargs, call args, differentiable positions)
CASES = {
    "L1Loss": ({"reduction": "sum"}, [X, Y], (0, 1)),
    "MSELoss": ({}, [X, Y], (0, 1)),
    "CrossEntropyLoss": ({"weight": W, "ignore_index": 1, "label_smoothing": 0.1}, [X, IDX], (0,)),
    "NLLLoss": ({"weight": W, "reduction": "sum"}, [X, IDX], (0,)),
    "BCELoss": ({"weight": W}, [P, Q], (0, 1)),
    "BCEWithLogitsLoss": ({"pos_weight": W, "reduction": "none"}, [X, Q], (0, 1)),
    "KLDivLoss": ({"reduction": "batchmean", "log_target": True}, [X, np.log(Q)], (0, 1)),
    "HuberLoss": ({"delta": 0.5}, [X, Y], (0, 1)),
    "SmoothL1Loss": ({"beta": 0.5, "reduction": "none"}, [X, Y], (0, 1)),
    "SoftMarginLoss": ({}, [X, np.sign(Y)], (0,)),
    "MultiLabelSoftMarginLoss": ({"weight": W}, [X, (Y > 0) * 1.0], (0, 1)),
    "MultiMarginLoss": ({"p": 2, "margin": 0.5, "weight": W}, [X, IDX], (0,)),
    "MultiLabelMarginLoss": ({}, [X, MLT], (0,)),
    "HingeEmbeddingLoss": ({"margin": 0.7}, [X, np.sign(Y)], (0,)),
    "CosineEmbeddingLoss": ({"margin": 0.1}, [X, Y, PM], (0, 1)),
    "MarginRankingLoss": ({"margin": 0.2}, [X[:, 0], Y[:, 0], PM], (0, 1)),
    "TripletMarginLoss": ({"margin": 0.5, "p": 1.0, "swap": True}, [X, Y, P], (0, 1, 2)),
    "TripletMarginWithDistanceLoss": ({"margin": 2.0, "swap": True}, [X, Y, P], (0, 1, 2)),
    "PoissonNLLLoss": ({"full": True}, [X, np.floor(P * 4)], (0,)),
    "GaussianNLLLoss": ({"full": True, "eps": 1e-3}, [X, Y, P], (0, 1, 2)),
    "CTCLoss": ({"zero_infinity": True}, CTC_ARGS, ()),  # grads: see test_losses_ctc.py
}


def test_every_torch_loss_module_is_covered():
    assert set(CASES) == set(loss_modules.__all__)


@pytest.mark.parametrize("name", list(CASES))
def test_module_parity(name):
    ctor, args, diff = CASES[name]
    crit = getattr(nn, name)(**ctor)
    tcrit = getattr(torch.nn, name)(**{k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v
                                       for k, v in ctor.items()})
    check_parity(lambda *a: crit(*a), lambda *a: tcrit(*a), args, diff=diff, reductions=(None,),
                 dtypes=(np.float64,))
    assert repr(crit) == f"{name}()"


@pytest.mark.parametrize("name", list(CASES))
def test_signature_matches_torch(name):
    ours = inspect.signature(getattr(nn, name)).parameters
    theirs = dict(inspect.signature(getattr(torch.nn, name).__init__).parameters)
    theirs.pop("self")
    assert list(ours) == list(theirs)
    for k, p in theirs.items():
        assert ours[k].default == p.default, k
        assert ours[k].kind == p.kind, k


def test_legacy_constructor_args():
    with pytest.warns(UserWarning, match="reduction='sum'"):
        crit = nn.MSELoss(size_average=False)
    assert crit.reduction == "sum"
    np.testing.assert_allclose(crit(X, Y), np.sum((X - Y) ** 2), rtol=1e-14)
    with pytest.warns(UserWarning, match="reduction='none'"):
        assert nn.CrossEntropyLoss(reduce=False).reduction == "none"
    assert nn.CrossEntropyLoss(None, None, 3).ignore_index == 3  # positional, in torch's order
    with pytest.raises(TypeError, match="GaussianNLLLoss"):
        nn.GaussianNLLLoss(True)  # keyword-only, as torch


def test_loss_modules_hold_no_params_and_compose():
    class Net(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(C, C)
            self.criterion = nn.CrossEntropyLoss(label_smoothing=0.1)

        def forward(self, params, x):
            return self.fc(params["fc"], x)

    net = Net()
    params = net.init(jax.random.key(0), jnp.float64)
    assert list(params) == ["fc"] and net.init_buffers() == {}
    assert "(criterion): CrossEntropyLoss()" in repr(net)
    seq = nn.Sequential(nn.Linear(C, 5), nn.Linear(5, C))
    sp = seq.init(jax.random.key(1), jnp.float64)
    assert list(sp) == ["0", "1"]

    def loss_fn(p):
        return net.criterion(net(p, X), IDX) + nn.MSELoss()(seq(sp, X), Y)

    g = jax.jit(jax.grad(loss_fn))(params)
    tfc = torch.nn.Linear(C, C).double()
    with torch.no_grad():
        tfc.weight.copy_(torch.from_numpy(np.array(params["fc"]["weight"])))
        tfc.bias.copy_(torch.from_numpy(np.array(params["fc"]["bias"])))
    torch.nn.CrossEntropyLoss(label_smoothing=0.1)(tfc(torch.from_numpy(X)),
                                                    torch.from_numpy(IDX)).backward()
    np.testing.assert_allclose(g["fc"]["weight"], tfc.weight.grad.numpy(), rtol=1e-10)


def test_functional_aliases():
    assert fnn.nn.functional.cross_entropy is fnn.losses.cross_entropy
    assert nn.MSELoss().forward(X, Y) == nn.MSELoss()(X, Y)
