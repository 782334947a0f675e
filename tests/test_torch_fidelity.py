"""Two porting checks against torch: param groups that cover every parameter, and the dtype of
torch's scalar optimizer state under ``torch.set_default_dtype(torch.float64)``.

1. When the given groups cover every parameter, torch has exactly those groups; fnn then
   has no (empty) default group either, so per-group lists written for torch
   (``OneCycleLR(max_lr=[a, b])``, ``LambdaLR([f, g])``, ``ReduceLROnPlateau(min_lr=[...])``)
   work unchanged, and interop and checkpoints agree with torch's group count.
2. torch keeps NAdam's ``mu_product`` and ASGD's ``eta``/``mu`` in its default dtype:
   ``fnn.optim.set_scalar_dtype`` gives either behaviour (float32 by default, as torch's).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
import torch
from helpers import assert_trajectories_close, mlp, mlp_problem, run_fnn, run_torch

from fnn import _tree, checkpoint, optim
from fnn.interop import torch as interop
from fnn.optim import lr_scheduler as ls

X, Y, P0 = mlp_problem()
MLP = mlp()
GROUPS = [{"params": "*.bias", "lr": 2e-3}, {"params": "*.weight"}]
STEPS = 12


def _torch_groups(named):
    return [{"params": [named["0.bias"], named["2.bias"]], "lr": 2e-3},
            {"params": [named["0.weight"], named["2.weight"]]}]


# (torch scheduler on the optimizer, fnn scheduler, metric-driven)
SCHEDULERS = [
    ("OneCycleLR", lambda o: torch.optim.lr_scheduler.OneCycleLR(
        o, max_lr=[3e-3, 1e-3], total_steps=STEPS + 1),
     lambda: ls.OneCycleLR(max_lr=[3e-3, 1e-3], total_steps=STEPS + 1), False),
    ("LambdaLR", lambda o: torch.optim.lr_scheduler.LambdaLR(
        o, [lambda e: 0.9 ** e, lambda e: 1 / (1 + e)]),
     lambda: ls.LambdaLR([lambda e: 0.9 ** e, lambda e: 1 / (1 + e)]), False),
    ("ReduceLROnPlateau", lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(
        o, factor=0.5, patience=0, min_lr=[1e-4, 2e-4]),
     lambda: ls.ReduceLROnPlateau(factor=0.5, patience=0, min_lr=[1e-4, 2e-4]), True),
]


@pytest.mark.parametrize("name,make_torch,make_fnn,metric", SCHEDULERS,
                         ids=[s[0] for s in SCHEDULERS])
def test_groups_covering_every_parameter_take_per_group_scheduler_lists(name, make_torch,
                                                                        make_fnn, metric):
    net_opt = {}

    def make_opt(named):
        opt = torch.optim.SGD(_torch_groups(named), lr=5e-4, momentum=0.9)
        net_opt["sched"] = make_torch(opt)
        return opt

    metrics = [10.0 - (i % 3) for i in range(STEPS)]  # plateaus now and then

    def torch_hook(opt, i):
        if i:
            net_opt["sched"].step(*([metrics[i]] if metric else []))

    tt, tl, topt, _ = run_torch(make_opt, MLP, STEPS, before_step=torch_hook)
    opt = optim.sgd(5e-4, momentum=0.9, param_groups=GROUPS)
    sched = make_fnn()
    holder = {}

    def fnn_hook(state, i):
        if i == 0:
            holder["s"], state = sched.init(state)
            assert len(state.param_groups) == 2 == len(topt.param_groups)
        else:
            args = (metrics[i],) if metric else ()
            holder["s"], state = sched.step(holder["s"], state, *args)
        return state

    ft, fl, state = run_fnn(opt, MLP, STEPS, before_step=fnn_hook)
    np.testing.assert_allclose(fl, tl, rtol=1e-12)
    assert_trajectories_close(ft, tt, rtol=1e-11, atol=1e-14, what=name)
    np.testing.assert_allclose([float(v) for v in optim.get_lr(state)],
                               [g["lr"] for g in topt.param_groups], rtol=1e-13)


def test_default_group_only_for_unmatched_parameters():
    p = _tree.unflatten({k: jnp.asarray(v) for k, v in P0.items()})
    covered = optim.adam(1e-3, param_groups=GROUPS)
    partial = optim.adam(1e-3, param_groups=GROUPS[:1])
    assert len(covered.init(p).param_groups) == 2
    assert len(partial.init(p).param_groups) == 2  # "*.bias" + the default group (index 1)
    assert [float(x) for x in optim.get_lr(partial.init(p))] == [2e-3, 1e-3]
    assert len(optim.adam(1e-3).init(p).param_groups) == 1
    spec = optim.describe(covered)
    assert spec.num_groups(list(P0)) == 2 and spec.group_indices(list(P0)) == [1, 0, 1, 0]


def test_interop_and_checkpoint_keep_torch_groups(tmp_path):
    """torch -> fnn -> checkpoint -> fnn -> torch with two covering groups: nothing gained,
    nothing lost, and a run continued in torch from the restored state equals torch's own."""
    tt, _, topt, _ = run_torch(lambda named: torch.optim.Adam(_torch_groups(named), lr=0.01),
                               MLP, 5)
    net = torch.nn.Sequential(torch.nn.Linear(3, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1)
                              ).double()
    net.load_state_dict({k: torch.tensor(v) for k, v in tt[-1].items()})
    tref = torch.optim.Adam(_torch_groups(dict(net.named_parameters())), lr=0.01)
    tref.load_state_dict(topt.state_dict())
    opt = optim.adam(0.01, param_groups=GROUPS)
    params = _tree.unflatten({k: jnp.asarray(v) for k, v in tt[-1].items()})
    state = interop.optimizer_state_from_torch(opt, params, tref, net)
    assert len(state.param_groups) == 2 and int(state.step) == 5
    checkpoint.save(tmp_path / "ck", params=params, opt_state=state)
    back = checkpoint.load(tmp_path / "ck", like={"params": params, "opt_state": opt.init(params)})
    net2 = torch.nn.Sequential(torch.nn.Linear(3, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1)
                               ).double()
    net2.load_state_dict({k: torch.tensor(v) for k, v in tt[-1].items()})
    t2 = torch.optim.Adam(_torch_groups(dict(net2.named_parameters())), lr=0.01)
    sd = interop.optimizer_state_to_torch(opt, back.opt_state, back.params, t2, net2)
    assert len(sd["param_groups"]) == 2
    xt, yt = torch.tensor(X), torch.tensor(Y)
    for n, o in ((net, tref), (net2, t2)):
        for _ in range(3):
            o.zero_grad()
            torch.nn.functional.mse_loss(n(xt), yt, reduction="sum").backward()
            o.step()
    for (k, a), b in zip(net.state_dict().items(), net2.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)


# ------------------------------------------------------------------ scalar state dtype
SCALAR_CASES = [
    ("nadam", lambda ps: torch.optim.NAdam(ps, lr=0.01), lambda: optim.nadam(0.01)),
    ("asgd", lambda ps: torch.optim.ASGD(ps, lr=1e-3, t0=3), lambda: optim.asgd(1e-3, t0=3)),
]


@pytest.fixture
def scalar_dtype():
    """Restore torch's default dtype and fnn's scalar dtype after the test."""
    old_t, old_f = torch.get_default_dtype(), optim.scalar_dtype()
    yield
    torch.set_default_dtype(old_t)
    optim.set_scalar_dtype(old_f)


def _runs(make_torch, make_fnn, torch_dtype, fnn_dtype):
    torch.set_default_dtype(torch_dtype)
    tt, tl, topt, _ = run_torch(lambda named: make_torch(named.values()), MLP, 25)
    optim.set_scalar_dtype(fnn_dtype)
    ft, fl, state = run_fnn(make_fnn(), MLP, 25)
    return tt, ft, topt, state


@pytest.mark.parametrize("name,make_torch,make_fnn", SCALAR_CASES, ids=[c[0] for c in SCALAR_CASES])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_scalar_state_dtype_follows_torch_default_dtype(scalar_dtype, name, make_torch, make_fnn,
                                                        dtype):
    """torch default float32 <-> fnn default; torch.set_default_dtype(float64) <->
    optim.set_scalar_dtype(jnp.float64): the float64 runs agree to ~1e-15 either way."""
    tdt, fdt = (torch.float32, jnp.float32) if dtype == "float32" else (torch.float64, jnp.float64)
    tt, ft, topt, state = _runs(make_torch, make_fnn, tdt, fdt)
    assert_trajectories_close(ft, tt, rtol=1e-13, atol=1e-15, what=f"{name} {dtype}")
    for k in optim.describe(make_fnn()).state.scalars:
        leaf = state.state["0"]["weight"][k]
        tval = topt.state[topt.param_groups[0]["params"][0]][k]
        assert leaf.dtype == jnp.dtype(fdt) and tval.dtype == tdt
        np.testing.assert_allclose(float(leaf), float(tval), rtol=1e-15)


def test_the_wrong_scalar_dtype_is_measurably_different(scalar_dtype):
    """The setting matters: torch in float64 vs fnn's float32 default differ (~1e-10)."""
    _, make_torch, make_fnn = SCALAR_CASES[0]
    tt, ft, _, _ = _runs(make_torch, make_fnn, torch.float64, jnp.float32)
    diff = max(np.max(np.abs(ft[-1][k] - tt[-1][k])) for k in tt[-1])
    assert diff > 1e-12
    with pytest.raises(TypeError, match="only float32 and float64"):
        optim.set_scalar_dtype(jnp.float16)
