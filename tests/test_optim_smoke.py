"""Engine smoke parity: SGD and Adam against torch on the posts' MLP (float64, 100 steps)."""

import numpy as np
import pytest
import torch
from helpers import assert_trajectories_close, mlp_problem, run_fnn, run_torch

from fnn import optim


@pytest.mark.parametrize("name,fnn_kw,torch_cls,torch_kw", [
    ("sgd", dict(lr=1e-3, momentum=0.9, weight_decay=0.01), torch.optim.SGD,
     dict(lr=1e-3, momentum=0.9, weight_decay=0.01)),
    ("adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1), torch.optim.Adam,
     dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
])
def test_engine_parity(name, fnn_kw, torch_cls, torch_kw):
    x, y, p0 = mlp_problem()
    tt, tl, _ = run_torch(lambda net: torch_cls(net.parameters(), **torch_kw), p0, x, y, 100)
    ft, fl, _ = run_fnn(getattr(optim, name)(**fnn_kw), p0, x, y, 100)
    np.testing.assert_allclose(fl, tl, rtol=1e-10)
    assert_trajectories_close(ft, tt, rtol=1e-10, atol=1e-14)
