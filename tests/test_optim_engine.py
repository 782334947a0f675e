"""The optimizer engine's plumbing for the torch.optim family, against torch 2.13.

What :mod:`tests.test_optim_parity` (every optimizer x every option, one group, fixed
hyperparameters) does not cover: param groups, hyperparameters edited between steps
(by hand or by a torch scheduler), hyperparameters given as schedules, torch's
``ValueError`` messages, ``jit`` with donated buffers, ``vmap`` over hyperparameters,
gradients through optimizer steps (meta-learning), optax composition (clipping,
``apply_if_finite``, ``partition``), Muon's 2-D rule and SparseAdam on dense gradients.

Parity is float64 at 1e-10 relative (1e-13 absolute for entries near 0) unless a test
states otherwise -- Muon included: its Newton-Schulz runs in bfloat16 as torch's does,
rounding for rounding, so on these small matrices it matches torch to float64 precision.
"""

from __future__ import annotations

import inspect
import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from helpers import assert_trajectories_close, run_fnn
from optim_cases import PROBLEMS, TORCH, Problem, fnn_state, torch_case, torch_state

from fnn import _tree, optim

MLP, NONCONVEX = PROBLEMS["mlp"], PROBLEMS["nonconvex"]
NAMES = list(TORCH)  # the torch family: sgd ... sparse_adam
RTOL, ATOL = 1e-10, 1e-13

# one sensible configuration per optimizer (lr chosen for the MLP / non-convex problem)
BASE = {
    "sgd": dict(lr=3e-4, momentum=0.9), "adam": dict(lr=1e-2), "adamw": dict(lr=1e-2),
    "adamax": dict(lr=1e-2), "nadam": dict(lr=1e-2), "radam": dict(lr=1e-3),
    "adagrad": dict(lr=5e-2), "adadelta": dict(lr=1.0), "rmsprop": dict(lr=1e-3),
    "rprop": dict(lr=1e-2), "asgd": dict(lr=1e-3), "adafactor": dict(lr=1e-2),
    "muon": dict(lr=1e-2), "sparse_adam": dict(lr=1e-2),
}
assert set(BASE) == set(NAMES)


def problem_for(name: str) -> Problem:
    return NONCONVEX if name == "muon" else MLP


def init_params(prob: Problem, dtype=np.float64) -> dict:
    return _tree.unflatten({k: jnp.asarray(v, dtype) for k, v in prob.params.items()})


def assert_traj_close(ft, tt, rtol=RTOL, atol=ATOL, what=""):
    assert_trajectories_close(ft, tt, rtol=rtol, atol=atol, what=what)


def assert_state_close(state, topt, named, rtol=RTOL, atol=ATOL):
    """Every slot of torch's ``opt.state[p]`` (but ``step``) equals fnn's."""
    ts, fs = torch_state(topt, named), fnn_state(state)
    for k, slots in ts.items():
        expected = {s for s in slots if s != "step"}
        assert set(fs.get(k, {})) == expected, (k, set(fs.get(k, {})), expected)
        for s in expected:
            np.testing.assert_allclose(fs[k][s], slots[s], rtol=rtol, atol=atol,
                                       err_msg=f"state[{k}][{s}]")


def torch_groups(spec):
    """``spec``: [(param names, overrides), ...] -> a ``groups(named)`` for torch_case."""
    return lambda named: [{"params": [named[n] for n in names], **hp} for names, hp in spec]


# ---------------------------------------------------------------------------------------
# a + b. param groups, and hyperparameters changed between steps
# ---------------------------------------------------------------------------------------

FIRST, REST = ["0.weight", "0.bias"], ["2.weight", "2.bias"]
EDIT_FROM, LATE, STEPS = 20, 35, 50


# (id, name, factory kwargs, fnn param_groups, torch groups as [(names, overrides)],
#  edits made at step LATE as [(key, group index or None for all, value)])
GROUP_CASES = [
    ("sgd-lr-momentum-wd-dampening", "sgd", dict(lr=3e-4, momentum=0.9, weight_decay=0.01),
     [{"params": "0.*", "lr": 1e-3, "momentum": 0.5, "weight_decay": 0.0, "dampening": 0.2}],
     [(FIRST, dict(lr=1e-3, momentum=0.5, weight_decay=0.0, dampening=0.2)), (REST, {})],
     [("momentum", 1, 0.5), ("dampening", None, 0.3), ("weight_decay", 1, 0.05)]),
    # momentum only in group 0: torch (and fnn) keep a momentum_buffer only there
    ("sgd-momentum-one-group", "sgd", dict(lr=3e-4),
     [{"params": "0.*", "momentum": 0.9, "nesterov": True}],
     [(FIRST, dict(momentum=0.9, nesterov=True)), (REST, {})], [("momentum", 0, 0.8)]),
    # first match wins: 0.bias matches "*.bias" first; every parameter is covered, so there is
    # no default group (exactly torch's two groups)
    ("sgd-first-match-wins", "sgd", dict(lr=3e-4, momentum=0.9),
     [{"params": "*.bias", "lr": 1e-4, "momentum": 0.5},
      {"params": ["0.*", "2.weight"], "lr": 1e-3, "weight_decay": 0.1}],
     [(["0.bias", "2.bias"], dict(lr=1e-4, momentum=0.5)),
      (["0.weight", "2.weight"], dict(lr=1e-3, weight_decay=0.1))],
     [("weight_decay", 0, 0.01), ("momentum", 1, 0.7)]),
    ("adam-lr-betas-wd-amsgrad", "adam", dict(lr=1e-2),
     [{"params": "0.*", "lr": 3e-3, "betas": (0.8, 0.99), "weight_decay": 0.1, "amsgrad": True}],
     [(FIRST, dict(lr=3e-3, betas=(0.8, 0.99), weight_decay=0.1, amsgrad=True)), (REST, {})],
     [("betas", 0, (0.85, 0.995)), ("eps", 1, 1e-4), ("weight_decay", 1, 0.05)]),
    ("adamw-no-decay-on-biases", "adamw", dict(lr=1e-2, weight_decay=0.1),
     [{"params": "*.bias", "weight_decay": 0.0}],
     [(["0.bias", "2.bias"], dict(weight_decay=0.0)), (["0.weight", "2.weight"], {})],
     [("weight_decay", 0, 0.05), ("betas", 1, (0.8, 0.99))]),
    ("adamax", "adamax", dict(lr=1e-2),
     [{"params": "0.*", "lr": 5e-3, "betas": (0.8, 0.99), "weight_decay": 0.1}],
     [(FIRST, dict(lr=5e-3, betas=(0.8, 0.99), weight_decay=0.1)), (REST, {})],
     [("betas", None, (0.85, 0.99)), ("eps", 0, 1e-4)]),
    ("nadam", "nadam", dict(lr=1e-2),
     [{"params": "0.*", "lr": 5e-3, "momentum_decay": 0.01, "weight_decay": 0.1,
       "decoupled_weight_decay": True}],
     [(FIRST, dict(lr=5e-3, momentum_decay=0.01, weight_decay=0.1,
                   decoupled_weight_decay=True)), (REST, {})],
     [("momentum_decay", 1, 0.02), ("betas", None, (0.85, 0.995))]),
    ("radam", "radam", dict(lr=1e-3),
     [{"params": "0.*", "lr": 3e-3, "weight_decay": 0.1, "betas": (0.8, 0.99)}],
     [(FIRST, dict(lr=3e-3, weight_decay=0.1, betas=(0.8, 0.99))), (REST, {})],
     [("betas", 1, (0.8, 0.99)), ("weight_decay", 1, 0.05)]),
    # torch fills `sum` from the constructor's initial_accumulator_value in every group
    # (a per-group value is ignored): so does fnn
    ("adagrad", "adagrad", dict(lr=5e-2, initial_accumulator_value=0.1),
     [{"params": "0.*", "lr": 1e-2, "lr_decay": 0.01, "eps": 1e-6, "weight_decay": 0.1,
       "initial_accumulator_value": 0.7}],
     [(FIRST, dict(lr=1e-2, lr_decay=0.01, eps=1e-6, weight_decay=0.1,
                   initial_accumulator_value=0.7)), (REST, {})],
     [("lr_decay", 1, 0.05), ("eps", 0, 1e-8)]),
    ("adadelta", "adadelta", dict(lr=1.0),
     [{"params": "0.*", "lr": 0.5, "rho": 0.8, "weight_decay": 0.1}],
     [(FIRST, dict(lr=0.5, rho=0.8, weight_decay=0.1)), (REST, {})],
     [("rho", 1, 0.5), ("eps", 0, 1e-4)]),
    ("rmsprop", "rmsprop", dict(lr=1e-3, momentum=0.3),
     [{"params": "0.*", "lr": 3e-3, "alpha": 0.9, "momentum": 0.5, "centered": True}],
     [(FIRST, dict(lr=3e-3, alpha=0.9, momentum=0.5, centered=True)), (REST, {})],
     [("alpha", 1, 0.9), ("momentum", 0, 0.8), ("eps", None, 1e-6)]),
    # Rprop reads lr only when its state is created (torch and fnn): the lr edits do nothing
    ("rprop", "rprop", dict(lr=1e-2),
     [{"params": "0.*", "lr": 1e-3, "etas": (0.3, 1.5), "step_sizes": (1e-4, 1.0)}],
     [(FIRST, dict(lr=1e-3, etas=(0.3, 1.5), step_sizes=(1e-4, 1.0))), (REST, {})],
     [("etas", 0, (0.4, 1.3)), ("step_sizes", 1, (1e-3, 0.02))]),
    ("asgd", "asgd", dict(lr=1e-3),
     [{"params": "0.*", "lr": 3e-3, "lambd": 1e-2, "t0": 10, "weight_decay": 0.1}],
     [(FIRST, dict(lr=3e-3, lambd=1e-2, t0=10, weight_decay=0.1)), (REST, {})],
     [("lambd", 0, 1e-3), ("alpha", 1, 0.5), ("t0", None, 40)]),
    ("adafactor", "adafactor", dict(lr=1e-2),
     [{"params": "0.*", "lr": 5e-2, "beta2_decay": -0.5, "weight_decay": 0.1, "d": 2.0}],
     [(FIRST, dict(lr=5e-2, beta2_decay=-0.5, weight_decay=0.1, d=2.0)), (REST, {})],
     [("beta2_decay", 1, -0.5), ("d", 0, 1.5), ("weight_decay", 1, 0.05)]),
    ("sparse_adam", "sparse_adam", dict(lr=1e-2),
     [{"params": "0.*", "lr": 3e-3, "betas": (0.8, 0.99)}],
     [(FIRST, dict(lr=3e-3, betas=(0.8, 0.99))), (REST, {})],
     [("betas", 1, (0.8, 0.99)), ("eps", 0, 1e-6)]),
    ("muon", "muon", dict(lr=1e-2),
     [{"params": "A", "lr": 3e-2, "momentum": 0.9, "nesterov": False, "weight_decay": 0.0}],
     [(["A"], dict(lr=3e-2, momentum=0.9, nesterov=False, weight_decay=0.0)), (["C"], {})],
     [("momentum", 1, 0.9), ("weight_decay", 0, 0.05)]),
]
assert {c[1] for c in GROUP_CASES} == set(NAMES)


def _apply_torch(opt, edits):
    for key, group, value in edits:
        for g in (opt.param_groups if group is None else [opt.param_groups[group]]):
            g[key] = value


def _apply_fnn(state, edits):
    for key, group, value in edits:
        if key == "lr":
            state = optim.set_lr(state, value, group=group)
        else:
            state = optim.set_hyperparam(state, key, value, group=group)
    return state


def _changeable_decay(hp: dict) -> dict:
    """``hp`` with a zero (or default) weight_decay given as an array, so it stays in the
    optimizer state and can be changed between steps."""
    out = dict(hp)
    if "weight_decay" in out and isinstance(out["weight_decay"], (int, float)) \
            and out["weight_decay"] == 0:
        out["weight_decay"] = jnp.asarray(0.0)
    return out


def test_zero_weight_decay_is_compiled_out_unless_given_as_an_array():
    """torch skips the decay term when ``weight_decay == 0``; fnn skips it at compile time
    for a Python ``0`` (no extra read of the parameter), so it is not in the state and
    cannot be edited; ``jnp.asarray(0.0)`` keeps it in the state, editable."""
    params = init_params(MLP)
    state = optim.adam(lr=1e-2).init(params)
    assert "weight_decay" not in state.param_groups[0]
    with pytest.raises(KeyError, match="weight_decay=0, the default, is compiled out"):
        optim.set_hyperparam(state, "weight_decay", 0.1)
    state = optim.adam(lr=1e-2, weight_decay=jnp.asarray(0.0)).init(params)
    state = optim.set_hyperparam(state, "weight_decay", 0.1)
    assert float(optim.get_hyperparam(state, "weight_decay")[0]) == 0.1
    # a nonzero decay lives in the state as before
    assert "weight_decay" in optim.sgd(lr=0.1, weight_decay=1e-4).init(params).param_groups[0]


@pytest.mark.parametrize("case", GROUP_CASES, ids=[c[0] for c in GROUP_CASES])
def test_param_groups_and_edits_match_torch(case):
    """Per-group hyperparameters (steps 1-20), then the lr of group 0 decayed before every
    step, as ``optimizer.param_groups[0]["lr"] = ...`` / ``optim.set_lr(state, lr, group=0)``,
    and other hyperparameters edited (per group or all groups) before step 36: fnn's
    trajectory, losses and final state equal torch's with the same groups and edits."""
    _, name, kw, groups, tspec, late = case
    prob = problem_for(name)
    lr0 = tspec[0][1].get("lr", kw["lr"])

    def edits(i):
        out = [("lr", 0, lr0 * 0.95 ** (i - EDIT_FROM))] if i >= EDIT_FROM else []
        return out + (late if i == LATE else [])

    tt, tl, topt, named = torch_case(name, kw, prob, STEPS, groups=torch_groups(tspec),
                                    before_step=lambda opt, i: _apply_torch(opt, edits(i)))
    if any(k == "weight_decay" for k, _, _ in late):
        # weight_decay=0 as a Python number is compiled out (no state entry to edit):
        # a decay that starts at 0 and is switched on later is given as an array
        default = inspect.signature(getattr(optim, name)).parameters["weight_decay"].default
        kw = _changeable_decay({"weight_decay": default, **kw})
        groups = [_changeable_decay(g) for g in groups]
    ft, fl, state = run_fnn(getattr(optim, name)(**kw, param_groups=groups), prob, STEPS,
                            before_step=lambda s, i: _apply_fnn(s, edits(i)))
    np.testing.assert_allclose(fl, tl, rtol=RTOL, atol=ATOL)
    assert_traj_close(ft, tt)
    assert_state_close(state, topt, named)
    # torch's groups: the given ones, plus a default group only for parameters no glob
    # matched; the state holds the hyperparameters in force, as torch's param_groups
    assert len(state.param_groups) == len(topt.param_groups)
    for fg, tg in zip(state.param_groups, topt.param_groups):
        for k, v in fg.items():
            np.testing.assert_allclose(np.asarray(v, float), np.asarray(tg[k], float),
                                       rtol=1e-15, err_msg=k)


def test_default_group_is_last_and_holds_the_defaults():
    opt = optim.sgd(lr=0.1, momentum=0.9, param_groups=[
        {"params": "2.*", "lr": 0.5}, {"params": "0.bias", "momentum": 0.0}])
    state = opt.init(init_params(MLP))
    assert [float(x) for x in optim.get_lr(state)] == [0.5, 0.1, 0.1]
    assert [float(x) for x in optim.get_hyperparam(state, "momentum")] == [0.9, 0.0, 0.9]
    # SGD keeps a momentum_buffer only where the group's momentum is not 0
    fs = fnn_state(state)
    assert {k for k, v in fs.items() if "momentum_buffer" in v} == {"0.weight", "2.weight",
                                                                    "2.bias"}


@pytest.mark.parametrize("name,key", [("sgd", "momentum"), ("adam", "betas")])
def test_torch_onecycle_scheduler_values_via_set_hyperparam(name, key):
    """torch's OneCycleLR writes every group's lr and momentum (SGD's ``momentum``, Adam's
    ``betas[0]``) before each step; writing the same values with ``set_lr`` and
    ``set_hyperparam`` (one value per group) gives torch's trajectory."""
    steps = 40
    kw = dict(lr=3e-4, momentum=0.9) if name == "sgd" else dict(lr=1e-2)
    tspec = [(FIRST, {}), (REST, {})]
    record = []
    sched = []

    def before(opt, i):
        if i == 0:
            sched.append(torch.optim.lr_scheduler.OneCycleLR(
                opt, max_lr=[3 * kw["lr"], 2 * kw["lr"]], total_steps=steps))
        else:
            sched[0].step()
        record.append([(g["lr"], g[key]) for g in opt.param_groups])

    tt, tl, topt, named = torch_case(name, kw, MLP, steps, groups=torch_groups(tspec),
                                    before_step=before)

    def fnn_before(state, i):
        state = optim.set_lr(state, [lr for lr, _ in record[i]])
        return optim.set_hyperparam(state, key, [m for _, m in record[i]])

    opt = getattr(optim, name)(**kw, param_groups=[{"params": "0.*"}])
    ft, fl, state = run_fnn(opt, MLP, steps, before_step=fnn_before)
    assert len({lrs[0][0] for lrs in record}) == steps  # the lr really changed every step
    assert_traj_close(ft, tt)
    assert_state_close(state, topt, named)


def test_set_lr_list_and_errors():
    state = optim.adam(lr=1e-2, param_groups=[{"params": "0.*"}]).init(init_params(MLP))
    state = optim.set_lr(state, [1e-3, 2e-3])
    assert [float(x) for x in optim.get_lr(state)] == [1e-3, 2e-3]
    state = optim.set_hyperparam(state, "betas", (0.5, 0.6), group=-1)
    assert [tuple(float(b) for b in x) for x in optim.get_hyperparam(state, "betas")] == [
        (0.9, 0.999), (0.5, 0.6)]
    with pytest.raises(ValueError, match="expected 2 values"):
        optim.set_lr(state, [1e-3])
    with pytest.raises(IndexError, match="group 2 out of range"):
        optim.set_lr(state, 1e-3, group=2)
    with pytest.raises(KeyError, match="unknown hyperparameter 'momentum'"):
        optim.set_hyperparam(state, "momentum", 0.9)
    with pytest.raises(ValueError, match="no fnn optimizer state"):
        optim.set_lr(optax.sgd(0.1).init(init_params(MLP)), 0.1)


# ---------------------------------------------------------------------------------------
# c. hyperparameters given as schedules
# ---------------------------------------------------------------------------------------

SCHED_CASES = [
    # optax's exponential_decay/linear_schedule compute in float32 from an int32 count: the
    # engine hands schedules an int64 count under x64, so they compute in float64
    ("sgd", dict(momentum=0.9), "lr", optax.exponential_decay(1e-3, 10, 0.5)),
    ("adam", dict(), "lr", optax.cosine_decay_schedule(2e-2, 40, alpha=0.1)),
    # a non-lr hyperparameter as a schedule: SGD momentum warm-up
    ("sgd", dict(lr=3e-4), "momentum", optax.linear_schedule(0.5, 0.95, 20)),
]


@pytest.mark.parametrize("name,kw,key,sched", SCHED_CASES,
                         ids=[f"{c[0]}-{c[2]}" for c in SCHED_CASES])
def test_schedule_equals_setting_each_step_and_torch(name, kw, key, sched):
    """``hyperparameter=schedule`` (a function of the update count, 0 on the first update,
    optax's convention) equals ``set_hyperparam(state, key, schedule(i))`` before update
    ``i``, and torch writing ``param_groups[0][key]`` the same way."""
    steps = 40
    values = [float(sched(i)) for i in range(steps)]
    scheduled, _, s1 = run_fnn(getattr(optim, name)(**kw, **{key: sched}), MLP, steps)
    fixed = getattr(optim, name)(**kw, **{key: values[0]})
    by_hand, _, _ = run_fnn(fixed, MLP, steps,
                            before_step=lambda s, i: optim.set_hyperparam(s, key, values[i]))
    # the schedule is evaluated under jit, the hand-written values eagerly: an ulp apart
    assert_traj_close(scheduled, by_hand, rtol=1e-13, atol=1e-16)
    tt, _, _, _ = torch_case(name, {**kw, key: values[0]}, MLP, steps,
                             before_step=lambda opt, i: _apply_torch(opt, [(key, None, values[i])]))
    assert_traj_close(scheduled, tt)
    # the state holds the value used by the last update (optax.inject_hyperparams' convention)
    np.testing.assert_allclose(float(optim.get_hyperparam(s1, key, group=0)), values[-1],
                               rtol=1e-13)


def test_schedule_state_matches_optax_inject_hyperparams():
    sched = optax.exponential_decay(0.125, 1, 0.5)  # exact in float32 (optax's count: int32)
    opt = optim.sgd(lr=sched)
    ref = optax.inject_hyperparams(optax.sgd)(learning_rate=sched)
    p = init_params(MLP)
    s, r = opt.init(p), ref.init(p)
    g = jax.grad(MLP.loss)(p)
    update, ref_update = jax.jit(opt.update), jax.jit(ref.update)
    for _ in range(4):
        assert float(optim.get_lr(s)[0]) == float(r.hyperparams["learning_rate"])
        u, s = update(g, s, p)
        ur, r = ref_update(g, r, p)
        # fnn's updates are new_p - p: an ulp of p apart from optax's -lr*g
        jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-12,
                                                                       atol=1e-16), u, ur)
    assert float(optim.get_lr(s)[0]) == float(r.hyperparams["learning_rate"]) == 0.125 / 8


def test_setting_a_scheduled_hyperparameter_has_no_effect():
    """A schedule is re-evaluated from the step count before every update (as documented
    in fnn.optim.hyperparams): ``set_lr`` on it changes nothing."""
    sched = lambda c: 0.01 / (1 + c)
    opt = optim.sgd(lr=sched)
    p = init_params(MLP)
    g = jax.grad(MLP.loss)(p)
    s = opt.init(p)
    u1, s1 = opt.update(g, s, p)
    u2, s2 = opt.update(g, optim.set_lr(s, 123.0), p)
    jax.tree_util.tree_map(np.testing.assert_array_equal, u1, u2)
    assert float(optim.get_lr(s2)[0]) == 0.01


def test_schedule_in_one_param_group_matches_torch():
    sched = optax.exponential_decay(1e-2, 5, 0.7)
    steps = 40
    opt = optim.adam(lr=1e-2, param_groups=[{"params": "0.*", "lr": sched}])
    ft, _, _ = run_fnn(opt, MLP, steps)
    values = [float(sched(i)) for i in range(steps)]
    tt, _, _, _ = torch_case("adam", dict(lr=1e-2), MLP, steps,
                            groups=torch_groups([(FIRST, {}), (REST, {})]),
                            before_step=lambda o, i: _apply_torch(o, [("lr", 0, values[i])]))
    assert_traj_close(ft, tt, rtol=1e-10, atol=1e-13)


# ---------------------------------------------------------------------------------------
# d. torch's ValueError messages
# ---------------------------------------------------------------------------------------

BAD = {
    "sgd": [dict(lr=-1), dict(lr=-0.5), dict(momentum=-0.1),
            dict(weight_decay=-1e-3), dict(nesterov=True),
            dict(nesterov=True, momentum=0.9, dampening=0.1), dict(lr=-1, momentum=-1)],
    "adam": [dict(lr=-1.0), dict(eps=-1e-8), dict(betas=(1.0, 0.999)), dict(betas=(0.9, 1.0)),
             dict(betas=(-0.1, 0.999)), dict(betas=(0.9, -0.5)), dict(betas=(float("nan"), 0.9)),
             dict(weight_decay=-0.1), dict(betas=(0, 0.999)), dict(betas=(0.9, 1)),
             dict(lr=-1, eps=-1)],
    "adamw": [dict(lr=-1.0), dict(eps=-1e-8), dict(betas=(1.0, 0.999)), dict(betas=(0.9, 1.0)),
              dict(weight_decay=-0.1), dict(betas=(0, 0.999))],
    "adamax": [dict(lr=-1.0), dict(eps=-1.0), dict(betas=(1.0, 0.999)), dict(betas=(0.9, 1.5)),
               dict(weight_decay=-0.1)],
    "nadam": [dict(lr=-1.0), dict(eps=-1.0), dict(betas=(1.0, 0.999)), dict(betas=(0.9, 1.5)),
              dict(weight_decay=-0.1), dict(momentum_decay=-0.1)],
    "radam": [dict(lr=-1.0), dict(eps=-1.0), dict(betas=(1.0, 0.999)), dict(betas=(0.9, 1.5)),
              dict(weight_decay=-0.1)],
    "adagrad": [dict(lr=-1.0), dict(lr_decay=-0.1), dict(weight_decay=-0.1),
                dict(initial_accumulator_value=-0.1), dict(eps=-1e-10)],
    "adadelta": [dict(lr=-1.0), dict(rho=-0.1), dict(rho=1.1), dict(eps=-1.0),
                 dict(weight_decay=-0.1)],
    "rmsprop": [dict(lr=-1.0), dict(eps=-1.0), dict(momentum=-0.1), dict(weight_decay=-0.1),
                dict(alpha=-0.1)],
    "rprop": [dict(lr=-1.0), dict(etas=(0.0, 1.2)), dict(etas=(0.5, 1.0)), dict(etas=(1.0, 1.2)),
              dict(etas=(1.5, 0.5)), dict(etas=(-0.5, 2))],
    "asgd": [dict(lr=-1.0), dict(weight_decay=-0.1)],
    "adafactor": [dict(lr=-1.0), dict(beta2_decay=0.1), dict(eps=(-1e-30, 1e-3)),
                  dict(eps=(None, -1e-3)), dict(d=0.5), dict(weight_decay=-0.1)],
    "muon": [dict(lr=-1.0), dict(momentum=-0.1), dict(weight_decay=-0.1),
             dict(adjust_lr_fn="foo")],
    "sparse_adam": [dict(lr=0.0), dict(lr=-1.0), dict(eps=0.0), dict(eps=-1.0),
                    dict(betas=(1.0, 0.999)), dict(betas=(0.9, 1.0))],
}
assert set(BAD) == set(NAMES)
BAD_PARAMS = [pytest.param(n, kw, id=f"{n}-{kw}") for n, kws in BAD.items() for kw in kws]


def _torch_error(name, kw, shape=(2, 2), step=False):
    p = torch.nn.Parameter(torch.ones(shape))
    try:
        opt = TORCH[name]([p], **kw)
        if step:
            p.grad = torch.ones(shape)
            opt.step()
    except Exception as e:  # noqa: BLE001 -- the exception itself is the reference
        return e
    return None


@pytest.mark.parametrize("name,kw", BAD_PARAMS)
def test_bad_hyperparameter_message_is_torchs(name, kw):
    expected = _torch_error(name, kw)
    assert isinstance(expected, ValueError), expected
    with pytest.raises(ValueError) as got:
        getattr(optim, name)(**kw)
    assert str(got.value) == str(expected)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("lr", [[1e-3, 1e-3], -1.0, -0.1], ids=["2-elements", "neg", "neg-f32"])
def test_array_lr_messages_are_torchs(name, lr):
    """An array lr is torch's Tensor lr: it must have one element, and its value is checked
    and printed as torch prints a 0-d tensor (float32 rounding included)."""
    dtype = torch.float32 if lr == -0.1 else torch.float64
    expected = _torch_error(name, dict(lr=torch.tensor(lr, dtype=dtype)))
    assert isinstance(expected, ValueError)
    with pytest.raises(ValueError) as got:
        getattr(optim, name)(lr=jnp.asarray(lr, jnp.float32 if lr == -0.1 else jnp.float64))
    assert str(got.value) == str(expected)


NAN = [(n, k) for n in NAMES for k in ("lr", "eps", "weight_decay", "momentum")
       if k in TORCH[n].__init__.__code__.co_varnames and (n, k) != ("adafactor", "eps")]


@pytest.mark.parametrize("name,key", NAN, ids=[f"{n}-{k}" for n, k in NAN])
def test_nan_hyperparameter(name, key):
    """NaN fails torch's ``not 0.0 <= x`` checks with its message. torch's SGD checks
    ``x < 0.0`` instead and so accepts NaN (as does Muon for eps, which it does not
    check): fnn rejects a NaN SGD lr/momentum/weight_decay anyway, with the message torch
    gives for a negative one."""
    expected = _torch_error(name, {key: float("nan")})
    try:
        getattr(optim, name)(**{key: float("nan")})
        got = None
    except ValueError as e:
        got = str(e)
    if name == "sgd":
        assert expected is None
        assert got == str(_torch_error(name, {key: -1.0})).replace("-1.0", "nan")
    else:
        assert got == (None if expected is None else str(expected))


@pytest.mark.parametrize("kw", [dict(ns_steps=100), dict(ns_coefficients=(1.0, 2.0))],
                         ids=["ns_steps", "ns_coefficients"])
def test_muon_newton_schulz_checks(kw):
    """torch raises these at its first step; fnn at construction, same message."""
    expected = _torch_error("muon", kw, step=True)
    assert isinstance(expected, ValueError)
    with pytest.raises(ValueError) as got:
        optim.muon(**kw)
    assert str(got.value) == str(expected)


@pytest.mark.parametrize("name,kw", [
    ("adam", dict(betas=(0.9, 0.999))), ("adadelta", dict(rho=0.0)), ("adadelta", dict(rho=1.0)),
    ("rprop", dict(step_sizes=(-1.0, 50))), ("sgd", dict(dampening=-1.0)),
    ("adafactor", dict(beta2_decay=0.0, d=1.0, eps=(0.0, 0.0))),
    ("asgd", dict(lambd=-1.0, alpha=-1.0, t0=-5.0)),
], ids=lambda x: str(x))
def test_values_torch_accepts_are_accepted(name, kw):
    """The boundaries and the arguments torch does not validate."""
    assert _torch_error(name, kw, step=True) is None
    opt = getattr(optim, name)(**kw)
    p = {"w": jnp.ones((2, 2))}
    u, _ = opt.update(p, opt.init(p), p)
    assert u["w"].shape == (2, 2)


def test_mixed_float_and_array_betas_rejected_as_torch():
    expected = _torch_error("adam", dict(betas=(torch.tensor(0.9), 0.999)))
    with pytest.raises(ValueError) as got:
        optim.adam(betas=(jnp.asarray(0.9), 0.999))
    assert str(got.value) == str(expected) == "betas must be either both floats or both Tensors"
    optim.adam(betas=(jnp.asarray(0.9), jnp.asarray(0.999)))  # both arrays: fine, as torch


@pytest.mark.parametrize("name,key,value", [
    ("sgd", "lr", -1.0), ("sgd", "momentum", -0.5), ("adam", "betas", (0.9, 1.0)),
    ("rmsprop", "alpha", -0.1), ("adafactor", "d", 0.5), ("sparse_adam", "eps", 0.0),
    ("rprop", "etas", (0.5, 0.9)), ("muon", "weight_decay", -1.0),
])
def test_param_group_values_validated_with_torchs_message(name, key, value):
    """torch validates only the constructor's values; fnn also checks each group's, with the
    message torch gives for the same value in the constructor."""
    expected = _torch_error(name, {key: value})
    with pytest.raises(ValueError) as got:
        getattr(optim, name)(param_groups=[{"params": "0.*", key: value}])
    assert str(got.value) == str(expected)


def test_param_group_structure_errors():
    with pytest.raises(ValueError, match=re.escape(
            "param_groups[1]: unknown hyperparameter(s) ['betas', 'lrr'] for SGD; valid: ")):
        optim.sgd(param_groups=[{"params": "a"}, {"params": "b", "lrr": 0.1, "betas": (1, 2)}])
    with pytest.raises(ValueError, match=re.escape('param_groups[0] has no "params" entry')):
        optim.adam(param_groups=[{"lr": 0.1}])
    with pytest.raises(TypeError, match=re.escape('param_groups[0]["params"] must be a glob')):
        optim.adam(param_groups=[{"params": [jnp.ones(2)]}])


def test_muon_rejects_non_2d_params_with_torchs_message():
    for shape in [(32,), (2, 3, 4), ()]:
        expected = _torch_error("muon", {}, shape=shape)
        assert isinstance(expected, ValueError)
        with pytest.raises(ValueError) as got:
            optim.muon().init({"w": jnp.ones(shape)})
        assert str(got.value) == str(expected)


_VP = {"w": jnp.asarray(np.random.default_rng(3).standard_normal((3, 4)))}


def _vloss(q):
    w = q["w"]
    return jnp.sum(jnp.cos(w) * w**2) + 0.3 * jnp.sum(jnp.sin(w @ w.T))


def _vloss2(q):
    return _vloss(q) + jnp.sum(jnp.sin(q["b"]) * q["b"])


# ---------------------------------------------------------------------------------------
# e. jit with donated buffers
# ---------------------------------------------------------------------------------------


# every kind of state: none/optional buffers, float32 scalar slots in a float64 run (ASGD),
# factored row/col slots (Adafactor), the bf16 Newton-Schulz (Muon), masked updates
DONATE = ["sgd", "adam", "rmsprop", "rprop", "asgd", "adafactor", "muon", "sparse_adam"]


@pytest.mark.parametrize("name", DONATE)
def test_jit_donated_equals_not_donated(name):
    """``jax.jit(step, donate_argnums=(0, 1))`` consumes the params and optimizer state
    buffers (updated in place) and gives bit-for-bit the result of the undonated step."""
    opt = getattr(optim, name)(**BASE[name])

    def step(p, s, g):
        u, s = opt.update(g, s, p)
        return optim.apply_updates(p, u), s

    plain = jax.jit(step)
    donated = jax.jit(step, donate_argnums=(0, 1))
    fresh = lambda: {"w": jnp.array(_VP["w"]), "b": jnp.array(_VP["w"][0])}
    g0 = jax.grad(_vloss2)(fresh())
    grads = [jax.tree_util.tree_map(lambda x, c=c: c * x, g0) for c in (1.0, -0.5, 2.0)]
    if name == "muon":  # 2-D parameters only
        fresh = lambda: {"w": jnp.array(_VP["w"])}
        grads = [{"w": g["w"]} for g in grads]

    p, s = fresh(), opt.init(fresh())
    for g in grads:
        p, s = plain(p, s, g)
    pd, sd = fresh(), opt.init(fresh())
    for g in grads:
        old_p, old_slots = pd, sd.state
        pd, sd = donated(pd, sd, g)
        # the buffers really were donated (consumed), params and per-parameter state
        assert all(x.is_deleted() for x in jax.tree_util.tree_leaves((old_p, old_slots)))
    for a, b in zip(jax.tree_util.tree_leaves((p, s)), jax.tree_util.tree_leaves((pd, sd))):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.allclose(p["w"], _VP["w"])  # it did step


# ---------------------------------------------------------------------------------------
# f. vmap over hyperparameters
# ---------------------------------------------------------------------------------------

def _scan5(opt, state=None):
    state = opt.init(_VP) if state is None else state

    def body(carry, _):
        q, s = carry
        u, s = opt.update(jax.grad(_vloss)(q), s, q)
        return (optim.apply_updates(q, u), s), None

    return jax.lax.scan(body, (_VP, state), None, length=5)[0][0]["w"]


def _batched_and_separate(run, xs):
    """``vmap(run)(xs)`` and ``lax.map(run, xs)`` (one unbatched run per value, in a loop),
    compiled together."""
    return jax.jit(lambda xs: (jax.vmap(run)(xs), jax.lax.map(run, xs)))(xs)


@pytest.mark.parametrize("name", NAMES)
def test_vmap_over_lr_equals_separate_runs(name):
    """An optimizer built inside ``vmap`` with a batch of learning rates (traced, so not
    validated) equals separate runs with each."""
    kw = {k: v for k, v in BASE[name].items() if k != "lr"}
    lr0 = BASE[name]["lr"]
    batched, separate = _batched_and_separate(
        lambda lr: _scan5(getattr(optim, name)(lr=lr, **kw)), jnp.asarray([lr0 / 3, lr0, 2 * lr0]))
    np.testing.assert_allclose(batched, separate, rtol=1e-12, atol=1e-15)
    assert not np.allclose(batched[0], batched[2])


@pytest.mark.parametrize("name,key,values", [
    ("adam", "lr", [1e-3, 1e-2, 3e-2]),
    ("adam", "betas", [(0.5, 0.9), (0.9, 0.999), (0.95, 0.99)]),
    ("sgd", "momentum", [0.0, 0.5, 0.9]),
    ("rmsprop", "alpha", [0.5, 0.9, 0.99]),
])
def test_vmap_over_state_hyperparameter(name, key, values):
    """One optimizer, its state's hyperparameter batched with ``set_hyperparam`` inside
    ``vmap`` (the hyperparameters live in the state), equals optimizers built with each
    value, one at a time."""
    opt = getattr(optim, name)(**BASE[name])
    state = opt.init(_VP)
    arr = jnp.asarray(values)
    xs = tuple(arr.T) if arr.ndim == 2 else arr
    batched, _ = _batched_and_separate(
        lambda v: _scan5(opt, optim.set_hyperparam(state, key, v)), xs)
    _, separate = _batched_and_separate(
        lambda v: _scan5(getattr(optim, name)(**{**BASE[name], key: v})), xs)
    np.testing.assert_allclose(batched, separate, rtol=1e-12, atol=1e-15)
    assert not np.allclose(batched[0], batched[2])


# ---------------------------------------------------------------------------------------
# g. differentiating through optimizer steps (meta-learning)
# ---------------------------------------------------------------------------------------

DIFF_CASES = [
    ("sgd", dict(lr=3e-2, momentum=0.9)),
    ("sgd", dict(lr=3e-2, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("adam", dict(lr=3e-2)),
    ("rmsprop", dict(lr=1e-2, momentum=0.5, centered=True)),
    ("nadam", dict(lr=3e-2)),
    ("radam", dict(lr=3e-2)),  # 8 steps: past RAdam's rectification switch at t = 6
    ("adagrad", dict(lr=5e-2, lr_decay=0.1)),
]
K = 8


def _loss_after(name, kw, lr, p0):
    opt = getattr(optim, name)(**{**kw, "lr": lr})
    state = opt.init(p0)

    def body(carry, _):
        q, s = carry
        u, s = opt.update(jax.grad(NONCONVEX.loss)(q), s, q)
        return (optim.apply_updates(q, u), s), None

    p, _ = jax.lax.scan(body, (p0, state), None, length=K)[0]
    return NONCONVEX.loss(p)


@pytest.mark.parametrize("name,kw", DIFF_CASES, ids=[f"{n}-{kw}" for n, kw in DIFF_CASES])
def test_gradient_through_steps_matches_finite_differences(name, kw):
    """d(loss after K steps)/d(lr) and d/d(initial params) (along a random direction) by
    autodiff through the updates equal central finite differences (float64)."""
    p0 = init_params(NONCONVEX)
    vg = jax.jit(jax.value_and_grad(lambda lr, p: _loss_after(name, kw, lr, p), argnums=(0, 1)))
    f = lambda lr, p: vg(lr, p)[0]  # one compiled function for the value and the gradient
    lr = kw["lr"]
    _, (dlr, dp) = vg(lr, p0)
    h = 1e-6 * lr  # the trajectories are strongly non-linear in lr: a small step
    fd_lr = (f(lr + h, p0) - f(lr - h, p0)) / (2 * h)
    np.testing.assert_allclose(dlr, fd_lr, rtol=1e-6)
    rng = np.random.default_rng(7)
    v = jax.tree_util.tree_map(lambda x: jnp.asarray(rng.standard_normal(x.shape)), p0)
    e = 1e-6
    shift = lambda s: jax.tree_util.tree_map(lambda x, d: x + s * d, p0, v)
    fd_p = (f(lr, shift(e)) - f(lr, shift(-e))) / (2 * e)
    ad_p = sum(jnp.vdot(a, b) for a, b in zip(jax.tree_util.tree_leaves(dp),
                                              jax.tree_util.tree_leaves(v)))
    np.testing.assert_allclose(ad_p, fd_p, rtol=1e-6)
    assert abs(float(dlr)) > 1e-3 and abs(float(ad_p)) > 1e-3  # not trivially zero


def test_meta_gradient_through_set_lr_state():
    """The lr can also enter through the state (``set_lr``) of an optimizer built once."""
    opt = optim.adam(lr=1e-2)
    p0 = init_params(NONCONVEX)
    state0 = opt.init(p0)

    def f(lr):
        def body(carry, _):
            q, s = carry
            u, s = opt.update(jax.grad(NONCONVEX.loss)(q), s, q)
            return (optim.apply_updates(q, u), s), None

        p, _ = jax.lax.scan(body, (p0, optim.set_lr(state0, lr)), None, length=K)[0]
        return NONCONVEX.loss(p)

    vg = jax.jit(jax.value_and_grad(f))
    g = vg(3e-2)[1]
    np.testing.assert_allclose(g, (vg(3e-2 + 3e-8)[0] - vg(3e-2 - 3e-8)[0]) / 6e-8, rtol=1e-6)
    assert abs(float(g)) > 1.0


# ---------------------------------------------------------------------------------------
# h. optax in both directions
# ---------------------------------------------------------------------------------------


def test_chain_clip_by_global_norm_adam_matches_torch_clip_grad_norm():
    """``optax.chain(optax.clip_by_global_norm(c), optim.adam(...))`` against torch's
    ``clip_grad_norm_(params, c)`` before ``opt.step()``, with the lr changed half-way via
    ``set_lr`` on the chain's state. torch scales by ``c / (norm + 1e-6)`` where optax
    scales by ``c / norm``: a relative difference of ``1e-6 / norm`` (the MLP's gradient
    norm is >= 10 here, so <= 1e-7) in each clipped gradient. Each Adam step moves a
    parameter by at most ~lr, so the difference stays below ~60 * 1e-7 * lr = 6e-8:
    atol 1e-8 (far below any formula error, which shows at the first step)."""
    steps, c = 60, 5.0
    # run_torch computes the grads after before_step: clipping needs its own loop
    named = {k: torch.tensor(v, requires_grad=True) for k, v in MLP.params.items()}
    topt = torch.optim.Adam(list(named.values()), lr=1e-2)
    tt, norms = [], []
    for i in range(steps):
        if i == 30:
            topt.param_groups[0]["lr"] = 3e-3
        topt.zero_grad()
        MLP.torch_loss(named).backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(list(named.values()), c)))
        topt.step()
        tt.append({k: v.detach().numpy().copy() for k, v in named.items()})
    assert sum(n > c for n in norms) > steps // 2 and min(norms) > 10 * c / 5
    tx = optax.chain(optax.clip_by_global_norm(c), optim.adam(lr=1e-2))
    ft, _, state = run_fnn(tx, MLP, steps,
                           before_step=lambda s, i: optim.set_lr(s, 3e-3) if i == 30 else s)
    assert float(optim.get_lr(state)[0]) == 3e-3
    assert int(state[1].step) == steps  # the fnn state inside the chain
    assert_traj_close(ft, tt, rtol=1e-7, atol=1e-8)


def test_apply_if_finite_skips_nan_step():
    """A NaN gradient step is skipped (params and the fnn state untouched, the step count
    not advanced); after it the run continues as if it never happened. Past
    ``max_consecutive_errors`` optax applies the update anyway."""
    p0 = init_params(MLP)
    g0 = jax.grad(MLP.loss)(p0)
    nan = jax.tree_util.tree_map(lambda x: x.at[(0,) * x.ndim].set(jnp.nan), g0)
    grads = [g0, jax.tree_util.tree_map(lambda x: -0.5 * x, g0), nan,
             jax.tree_util.tree_map(lambda x: 2 * x, g0)]
    tx = optax.apply_if_finite(optim.sgd(lr=1e-3, momentum=0.9), max_consecutive_errors=2)
    ref = optim.sgd(lr=1e-3, momentum=0.9)

    def step(t, p, s, g):
        u, s = t.update(g, s, p)
        return optim.apply_updates(p, u), s

    step_tx = jax.jit(lambda p, s, g: step(tx, p, s, g))
    p, s = p0, tx.init(p0)
    pr, sr = p0, ref.init(p0)
    for i, g in enumerate(grads):
        before = p
        p, s = step_tx(p, s, g)
        if i == 2:
            assert int(s.notfinite_count) == 1 and not bool(s.last_finite)
            jax.tree_util.tree_map(np.testing.assert_array_equal, p, before)
            assert int(s.inner_state.step) == 2
        else:
            pr, sr = step(ref, pr, sr, g)
    jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-15), p, pr)
    assert int(s.inner_state.step) == int(sr.step) == 3
    assert [float(x) for x in optim.get_lr(s)] == [1e-3]
    s = optim.set_lr(s, 5e-4)
    assert float(s.inner_state.param_groups[0]["lr"]) == 5e-4
    # three NaN steps in a row with max_consecutive_errors=2: the third is applied
    for _ in range(3):
        p, s = step_tx(p, s, nan)
    assert np.isnan(np.asarray(p["0"]["weight"])[0, 0])


def test_fnn_optimizer_inside_chain_with_optax_transforms():
    """fnn optimizers compose with optax members: ``chain(optim.sgd(lr=1), optax.scale(lr))``
    is ``optim.sgd(lr)`` (deltas scaled after the fact), and ``chain(optax.scale(-1),
    optim.sgd(maximize=True))`` is plain SGD."""
    steps = 30
    a, _, sa = run_fnn(optax.chain(optim.sgd(lr=1.0, momentum=0.9), optax.scale(3e-4)),
                       MLP, steps)
    b, _, _ = run_fnn(optim.sgd(lr=3e-4, momentum=0.9), MLP, steps)
    assert_traj_close(a, b, rtol=1e-12, atol=1e-14)
    c, _, _ = run_fnn(optax.chain(optax.scale(-1.0), optim.sgd(lr=3e-4, momentum=0.9,
                                                               maximize=True)), MLP, steps)
    # the same math in two programs: equal up to XLA's FMA contraction choices (ulps,
    # carried over 30 steps); a sign error would be O(1)
    assert_traj_close(c, b)
    assert [float(x) for x in optim.get_lr(sa)] == [1.0]


# ---------------------------------------------------------------------------------------
# i. Muon's 2-D rule (partition) and SparseAdam on dense gradients
# ---------------------------------------------------------------------------------------


def test_muon_on_matrices_adam_on_biases_via_partition():
    """torch's recipe -- Muon for the 2-D weights, another optimizer (here Adam) for the
    rest, as two torch optimizers -- is ``optax.partition`` in fnn."""
    steps = 30
    named = {k: torch.tensor(v, requires_grad=True) for k, v in MLP.params.items()}
    weights = [named["0.weight"], named["2.weight"]]
    biases = [named["0.bias"], named["2.bias"]]
    t_muon = torch.optim.Muon(weights, lr=2e-2, weight_decay=0.05)
    t_adam = torch.optim.Adam(biases, lr=1e-2)
    tt = []
    for _ in range(steps):
        t_muon.zero_grad()
        t_adam.zero_grad()
        MLP.torch_loss(named).backward()
        t_muon.step()
        t_adam.step()
        tt.append({k: v.detach().numpy().copy() for k, v in named.items()})
    labels = {"0": {"weight": "muon", "bias": "adam"}, "2": {"weight": "muon", "bias": "adam"}}
    tx = optax.partition({"muon": optim.muon(lr=2e-2, weight_decay=0.05),
                          "adam": optim.adam(lr=1e-2)}, labels)
    ft, _, state = run_fnn(tx, MLP, steps)
    assert_traj_close(ft, tt)
    assert np.abs(ft[-1]["0.weight"] - MLP.params["0.weight"]).max() > 0.05  # Muon moved it
    with pytest.raises(ValueError, match=re.escape("torch.Size([32])")):
        optim.muon().init(init_params(MLP))


def _embedding_problem():
    """An embedding-bag regression: each step looks up a few rows of a 10x4 table (the
    other rows get exactly zero gradient, as torch's sparse embedding gradient omits them);
    one step looks up nothing at all."""
    rng = np.random.default_rng(5)
    table, w = rng.standard_normal((10, 4)), rng.standard_normal((4,))
    lookups = [rng.choice(10, size=3, replace=False) for _ in range(30)]
    lookups[7] = np.array([], dtype=int)
    targets = rng.standard_normal((30, 3))
    return table, w, lookups, targets


def test_sparse_adam_dense_gradient_is_torch_with_to_sparse():
    """fnn's documented SparseAdam: the nonzero entries of the dense gradient are the index
    set. Equals torch's SparseAdam fed ``grad.to_sparse()`` (float64, 1e-10), rows never
    looked up stay untouched with zero moments, and the step count advances on the
    all-zero step (torch's ``step += 1`` even without values)."""
    table, w, lookups, targets = _embedding_problem()
    kw = dict(lr=5e-2, betas=(0.8, 0.99))
    tt = torch.tensor(table, requires_grad=True)
    wt = torch.tensor(w)
    topt = torch.optim.SparseAdam([tt], **kw)
    t_traj = []
    for idx, y in zip(lookups, targets):
        topt.zero_grad()
        loss = ((tt[torch.as_tensor(idx, dtype=torch.long)] @ wt
                 - torch.tensor(y[:len(idx)])) ** 2).sum()
        loss.backward()
        tt.grad = tt.grad.to_sparse()
        topt.step()
        t_traj.append(tt.detach().numpy().copy())

    opt = optim.sparse_adam(**kw)
    p = {"table": jnp.asarray(table)}
    state = opt.init(p)

    @jax.jit
    def step(q, s, idx, y):
        g = jax.grad(lambda q: jnp.sum((q["table"][idx] @ jnp.asarray(w) - y) ** 2))(q)
        u, s = opt.update(g, s, q)
        return optim.apply_updates(q, u), s

    f_traj = []
    for idx, y in zip(lookups, targets):
        p, state = step(p, state, jnp.asarray(idx, dtype=jnp.int32), jnp.asarray(y[:len(idx)]))
        f_traj.append(np.asarray(p["table"]))
    for i, (a, b) in enumerate(zip(f_traj, t_traj)):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=f"step {i + 1}")
    never = sorted(set(range(10)) - set(np.concatenate(lookups).tolist()))
    touched = sorted(set(np.concatenate(lookups).tolist()))
    slots = fnn_state(state)["table"]
    np.testing.assert_allclose(slots["exp_avg"], topt.state[tt]["exp_avg"].numpy(),
                               rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(slots["exp_avg_sq"], topt.state[tt]["exp_avg_sq"].numpy(),
                               rtol=RTOL, atol=ATOL)
    assert int(state.step) == topt.state[tt]["step"] == len(lookups)
    if never:
        np.testing.assert_array_equal(f_traj[-1][never], table[never])
        assert not slots["exp_avg_sq"][never].any()
    assert (slots["exp_avg_sq"][touched] > 0).all()


@pytest.mark.parametrize("name", ["sgd", "rmsprop"])
def test_momentum_switched_off_and_on_between_steps_matches_torch(name):
    """torch tests ``momentum != 0`` (SGD) / ``> 0`` (RMSprop) at every step: momentum set
    to 0 between steps gives the plain step and leaves the buffer alone; set back, the
    buffer resumes. An optimizer built with momentum=0 has no buffer to switch on: fnn
    raises (torch would create one lazily)."""
    kw = dict(lr=3e-4, momentum=0.9, dampening=0.3) if name == "sgd" else dict(lr=1e-3,
                                                                               momentum=0.5)
    prob = PROBLEMS["mlp"]

    def value(i):
        return 0.0 if 10 <= i < 20 else kw["momentum"]

    tt, tl, topt, named = torch_case(name, kw, prob, 30,
                                    before_step=lambda o, i: _apply_torch(o, [("momentum", None,
                                                                               value(i))]))
    ft, fl, state = run_fnn(getattr(optim, name)(**kw), prob, 30, before_step=lambda s, i:
                            optim.set_hyperparam(s, "momentum", value(i)))
    np.testing.assert_allclose(fl, tl, rtol=RTOL, atol=ATOL)
    assert_traj_close(ft, tt)
    assert_state_close(state, topt, named)
    plain = getattr(optim, name)(lr=kw["lr"]).init(init_params(prob))
    with pytest.raises(ValueError, match="cannot switch momentum on .*keeps no momentum_buffer"):
        optim.set_hyperparam(plain, "momentum", 0.9)
