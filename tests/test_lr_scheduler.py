"""fnn.optim.lr_scheduler against torch.optim.lr_scheduler 2.13 (float64, 1e-12 relative).

Every scheduler runs 300 steps with non-default arguments on an optimizer with three param
groups of different base lrs (torch group i is fnn group i; fnn's default group is last);
the lrs (and cycled momentum/betas) are compared at every step.
"""

from __future__ import annotations

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler as tls

from fnn import _tree, optim
from fnn.optim import lr_scheduler as ls
from tests.helpers import fnn_mlp_loss, mlp_problem, torch_mlp

pytestmark = pytest.mark.filterwarnings("ignore:Detected call of:UserWarning")

LRS = (0.1, 0.05, 0.3)  # group 0, group 1, default group
STEPS = 300
RTOL = 1e-12


def torch_opt(kind: str = "sgd") -> torch.optim.Optimizer:
    ps = [torch.nn.Parameter(torch.zeros(2, dtype=torch.float64)) for _ in range(3)]
    groups = [{"params": [ps[0]], "lr": LRS[0]}, {"params": [ps[1]], "lr": LRS[1]},
              {"params": [ps[2]]}]
    if kind == "sgd":
        opt = torch.optim.SGD(groups, lr=LRS[2], momentum=0.9)
    else:
        opt = torch.optim.Adam(groups, lr=LRS[2], betas=(0.9, 0.999))
    opt.step()  # no grads: a no-op that silences the "scheduler before optimizer" warning
    return opt


def fnn_opt_state(kind: str = "sgd"):
    pg = [{"params": "a", "lr": LRS[0]}, {"params": "b", "lr": LRS[1]}]
    if kind == "sgd":
        opt = optim.sgd(LRS[2], momentum=0.9, param_groups=pg)
    else:
        opt = optim.adam(LRS[2], betas=(0.9, 0.999), param_groups=pg)
    return opt.init({k: jnp.zeros(2) for k in "abc"})


def _mom(groups, kind):
    return [g["betas"][0] if kind == "adam" else g["momentum"] for g in groups]


def run_both(make_torch, sched, kind="sgd", steps=STEPS, metrics=None, epochs=None, jit=False):
    """Step torch and fnn side by side; return (torch rows, fnn rows) of
    [last_lr..., group lr..., momentum...] per step (the construction included)."""
    topt = torch_opt(kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        tsched = make_torch(topt)
        t_rows = [tsched.get_last_lr() + [g["lr"] for g in topt.param_groups]
                  + _mom(topt.param_groups, kind)]
        for i in range(steps):
            if metrics is not None:
                tsched.step(metrics[i])
            elif epochs is not None:
                tsched.step(epochs[i])
            else:
                tsched.step()
            t_rows.append(tsched.get_last_lr() + [g["lr"] for g in topt.param_groups]
                          + _mom(topt.param_groups, kind))
    ost = fnn_opt_state(kind)
    s, ost = sched.init(ost)

    def row(s, ost):
        groups = ost.param_groups
        return list(ls.get_last_lr(s)) + [g["lr"] for g in groups] + _mom(groups, kind)

    f_rows = [row(s, ost)]
    step = jax.jit(sched.step) if jit else sched.step
    for i in range(steps):
        if metrics is not None:
            s, ost = step(s, ost, metrics[i])
        elif epochs is not None:
            s, ost = step(s, ost, epoch=epochs[i])
        else:
            s, ost = step(s, ost)
        f_rows.append(row(s, ost))
    f = np.asarray(jnp.stack([jnp.stack([jnp.asarray(v, jnp.float64) for v in r])
                              for r in f_rows]))
    return np.asarray(t_rows, dtype=np.float64), f, (tsched, topt, s, ost)


def _lambdas():
    return [lambda e: 0.97**e, lambda e: 1.0 / (1.0 + 0.05 * e), lambda e: 0.5 + 0.5 * (e % 7 == 0)]


# (id, torch factory, fnn scheduler, optimizer kind)
CASES = [
    ("LambdaLR", lambda o: tls.LambdaLR(o, _lambdas()), lambda: ls.LambdaLR(_lambdas()), "sgd"),
    ("MultiplicativeLR", lambda o: tls.MultiplicativeLR(o, lambda e: 0.99 if e % 3 else 1.01),
     lambda: ls.MultiplicativeLR(lambda e: jnp.where(e % 3 != 0, 0.99, 1.01)), "sgd"),
    ("StepLR", lambda o: tls.StepLR(o, 7, gamma=0.7), lambda: ls.StepLR(7, gamma=0.7), "sgd"),
    ("MultiStepLR", lambda o: tls.MultiStepLR(o, [80, 30, 80, 150], gamma=0.5),
     lambda: ls.MultiStepLR([80, 30, 80, 150], gamma=0.5), "sgd"),
    ("ConstantLR", lambda o: tls.ConstantLR(o, factor=0.4, total_iters=13),
     lambda: ls.ConstantLR(factor=0.4, total_iters=13), "sgd"),
    ("LinearLR", lambda o: tls.LinearLR(o, 0.2, 0.9, total_iters=40),
     lambda: ls.LinearLR(0.2, 0.9, total_iters=40), "sgd"),
    ("ExponentialLR", lambda o: tls.ExponentialLR(o, 0.99), lambda: ls.ExponentialLR(0.99), "sgd"),
    ("PolynomialLR", lambda o: tls.PolynomialLR(o, total_iters=120, power=2.0),
     lambda: ls.PolynomialLR(total_iters=120, power=2.0), "sgd"),
    ("CosineAnnealingLR", lambda o: tls.CosineAnnealingLR(o, T_max=37, eta_min=0.001),
     lambda: ls.CosineAnnealingLR(37, eta_min=0.001), "sgd"),
    ("CosineAnnealingLR-eta0", lambda o: tls.CosineAnnealingLR(o, T_max=20),
     lambda: ls.CosineAnnealingLR(20), "sgd"),
    ("WarmRestarts-mult2", lambda o: tls.CosineAnnealingWarmRestarts(o, 5, T_mult=2, eta_min=0.002),
     lambda: ls.CosineAnnealingWarmRestarts(5, T_mult=2, eta_min=0.002), "sgd"),
    ("WarmRestarts-mult1", lambda o: tls.CosineAnnealingWarmRestarts(o, 9, eta_min=0.01),
     lambda: ls.CosineAnnealingWarmRestarts(9, eta_min=0.01), "sgd"),
    ("CyclicLR-triangular", lambda o: tls.CyclicLR(o, [0.01, 0.02, 0.03], [0.1, 0.2, 0.5], 13, 7),
     lambda: ls.CyclicLR([0.01, 0.02, 0.03], [0.1, 0.2, 0.5], 13, 7), "sgd"),
    ("CyclicLR-triangular2-adam",
     lambda o: tls.CyclicLR(o, 0.01, 0.1, 11, mode="triangular2", base_momentum=0.7,
                            max_momentum=[0.95, 0.9, 0.85]),
     lambda: ls.CyclicLR(0.01, 0.1, 11, mode="triangular2", base_momentum=0.7,
                         max_momentum=[0.95, 0.9, 0.85]), "adam"),
    ("CyclicLR-exp_range", lambda o: tls.CyclicLR(o, 0.01, [0.1, 0.2, 0.3], 17, 5, mode="exp_range",
                                                 gamma=0.995),
     lambda: ls.CyclicLR(0.01, [0.1, 0.2, 0.3], 17, 5, mode="exp_range", gamma=0.995), "sgd"),
    ("CyclicLR-scale_fn", lambda o: tls.CyclicLR(o, 0.01, 0.1, 10, scale_fn=lambda x: 1 / (1 + x / 50),
                                                scale_mode="iterations", cycle_momentum=False),
     lambda: ls.CyclicLR(0.01, 0.1, 10, scale_fn=lambda x: 1 / (1 + x / 50),
                         scale_mode="iterations", cycle_momentum=False), "sgd"),
    ("OneCycleLR-cos", lambda o: tls.OneCycleLR(o, [0.5, 1.0, 2.0], total_steps=STEPS),
     lambda: ls.OneCycleLR([0.5, 1.0, 2.0], total_steps=STEPS), "sgd"),
    ("OneCycleLR-linear-3phase-adam",
     lambda o: tls.OneCycleLR(o, 1.0, epochs=30, steps_per_epoch=10, pct_start=0.25,
                              anneal_strategy="linear", three_phase=True, div_factor=10.0,
                              final_div_factor=100.0, base_momentum=0.8),
     lambda: ls.OneCycleLR(1.0, epochs=30, steps_per_epoch=10, pct_start=0.25,
                           anneal_strategy="linear", three_phase=True, div_factor=10.0,
                           final_div_factor=100.0, base_momentum=0.8), "adam"),
    ("SequentialLR",
     lambda o: tls.SequentialLR(o, [tls.LinearLR(o, 0.1, total_iters=20), tls.ExponentialLR(o, 0.98),
                                    tls.CosineAnnealingLR(o, 30, 0.001)], milestones=[15, 100]),
     lambda: ls.SequentialLR([ls.LinearLR(0.1, total_iters=20), ls.ExponentialLR(0.98),
                              ls.CosineAnnealingLR(30, 0.001)], milestones=[15, 100]), "sgd"),
    ("SequentialLR-restarts",
     lambda o: tls.SequentialLR(o, [tls.ConstantLR(o, 0.5, 10), tls.CosineAnnealingWarmRestarts(o, 8),
                                    tls.StepLR(o, 9, 0.8)], milestones=[40, 200]),
     lambda: ls.SequentialLR([ls.ConstantLR(0.5, 10), ls.CosineAnnealingWarmRestarts(8),
                              ls.StepLR(9, 0.8)], milestones=[40, 200]), "sgd"),
    ("ChainedScheduler",
     lambda o: tls.ChainedScheduler([tls.ConstantLR(o, 0.3, 25), tls.ExponentialLR(o, 0.995),
                                     tls.MultiStepLR(o, [50, 120], 0.5)]),
     lambda: ls.ChainedScheduler([ls.ConstantLR(0.3, 25), ls.ExponentialLR(0.995),
                                  ls.MultiStepLR([50, 120], 0.5)]), "sgd"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_trajectory_matches_torch(case):
    _, make_torch, make_fnn, kind = case
    t, f, (tsched, topt, s, ost) = run_both(make_torch, make_fnn(), kind)
    np.testing.assert_allclose(f, t, rtol=RTOL, atol=1e-300)
    # torch's constructor side effects land in the groups too
    for key in ("initial_lr", "max_lr", "min_lr", "max_momentum", "base_momentum"):
        if key in topt.param_groups[0]:
            np.testing.assert_allclose([float(g[key]) for g in ost.param_groups],
                                       [g[key] for g in topt.param_groups], rtol=RTOL)


JIT_CASES = ["CosineAnnealingLR", "WarmRestarts-mult2", "CyclicLR-triangular2-adam",
             "OneCycleLR-cos", "SequentialLR", "ChainedScheduler", "PolynomialLR"]


@pytest.mark.parametrize("case", [c for c in CASES if c[0] in JIT_CASES],
                         ids=[c[0] for c in CASES if c[0] in JIT_CASES])
def test_jitted_step_matches_torch(case):
    """The same trajectories with ``jax.jit(sched.step)`` (traced state, XLA arithmetic:
    equal to a few ulp; XLA may leave 1e-35 where torch computes an exact 0)."""
    _, make_torch, make_fnn, kind = case
    t, f, _ = run_both(make_torch, make_fnn(), kind, steps=150, jit=True)
    np.testing.assert_allclose(f, t, rtol=1e-12, atol=1e-30)


def test_group_lrs_really_differ():
    """The harness exercises distinct base lrs per group (default group last)."""
    t, f, _ = run_both(lambda o: tls.StepLR(o, 5), ls.StepLR(5), steps=2)
    np.testing.assert_allclose(f[0, :3], [0.1, 0.05, 0.3])


def test_warm_restarts_fractional_epochs():
    iters = 7
    epochs = [e + i / iters for e in range(15) for i in range(iters)]
    for mult in (1, 2, 3):
        t, f, _ = run_both(lambda o, m=mult: tls.CosineAnnealingWarmRestarts(o, 4, m, 0.001),
                           ls.CosineAnnealingWarmRestarts(4, mult, 0.001),
                           steps=len(epochs), epochs=epochs)
        np.testing.assert_allclose(f, t, rtol=1e-12, atol=1e-300, err_msg=f"T_mult={mult}")


def _plateau_metrics(mode):
    rng = np.random.default_rng(0)
    m, out = 1.0, []
    for i in range(STEPS):
        if i % 40 < 15:  # improving stretches, then plateaus with noise
            m *= 0.97
        out.append(m * (1 + 1e-5 * rng.standard_normal()) if i % 3 else m)
    return out if mode == "min" else [2.0 - x for x in out]


PLATEAU = [
    dict(mode="min", factor=0.5, patience=3, cooldown=2, min_lr=[0.01, 0.004, 0.02]),
    dict(mode="max", factor=0.3, patience=5, threshold=1e-3, threshold_mode="abs", cooldown=4,
         min_lr=0.005),
    dict(mode="min", factor=0.7, patience=0, threshold=0.01, threshold_mode="abs", eps=1e-3),
    dict(mode="max", factor=0.2, patience=2, threshold=0.02, min_lr=1e-3),
]


@pytest.mark.parametrize("kw", PLATEAU, ids=[f"{k['mode']}-{k.get('threshold_mode', 'rel')}-{i}"
                                             for i, k in enumerate(PLATEAU)])
def test_reduce_lr_on_plateau(kw):
    metrics = _plateau_metrics(kw["mode"])
    t, f, (tsched, _, s, _) = run_both(lambda o: tls.ReduceLROnPlateau(o, **kw),
                                       ls.ReduceLROnPlateau(**kw), metrics=metrics)
    np.testing.assert_allclose(f, t, rtol=RTOL)
    assert len(np.unique(t[:, 0])) >= 3  # several reductions happened
    assert float(s.extra["best"]) == tsched.best
    assert int(s.extra["num_bad_epochs"]) == tsched.num_bad_epochs


def test_reduce_lr_on_plateau_reference_sequence():
    """The probe from the reference: patience 1, cooldown 1."""
    metrics = [1, 1, 1, 1, 1, .5, .5, .5]
    t, f, _ = run_both(lambda o: tls.ReduceLROnPlateau(o, factor=0.5, patience=1, cooldown=1),
                       ls.ReduceLROnPlateau(factor=0.5, patience=1, cooldown=1),
                       steps=len(metrics), metrics=metrics)
    np.testing.assert_allclose(f, t, rtol=RTOL)
    np.testing.assert_allclose(f[1:, 0], [0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.05, 0.025])


def test_swa_lr_through_sequential():
    from fnn.optim import swa_utils
    t, f, _ = run_both(
        lambda o: tls.SequentialLR(o, [tls.CosineAnnealingLR(o, 50), torch.optim.swa_utils.SWALR(
            o, swa_lr=[0.01, 0.02, 0.03], anneal_epochs=7)], milestones=[60]),
        ls.SequentialLR([ls.CosineAnnealingLR(50), swa_utils.SWALR([0.01, 0.02, 0.03], 7)], [60]))
    np.testing.assert_allclose(f, t, rtol=RTOL, atol=1e-300)


# ---------------------------------------------------------------------- closed forms
CLOSED = [
    (lambda o: tls.StepLR(o, 7, 0.7), ls.StepLR(7, 0.7)),
    (lambda o: tls.MultiStepLR(o, [30, 80, 80], 0.5), ls.MultiStepLR([30, 80, 80], 0.5)),
    (lambda o: tls.ConstantLR(o, 0.4, 13), ls.ConstantLR(0.4, 13)),
    (lambda o: tls.LinearLR(o, 0.2, 0.9, 40), ls.LinearLR(0.2, 0.9, 40)),
    (lambda o: tls.ExponentialLR(o, 0.99), ls.ExponentialLR(0.99)),
    (lambda o: tls.PolynomialLR(o, 120, 2.0), ls.PolynomialLR(120, 2.0)),
    (lambda o: tls.CosineAnnealingLR(o, 37, 0.001), ls.CosineAnnealingLR(37, 0.001)),
    (lambda o: tls.CosineAnnealingWarmRestarts(o, 5, 2, 0.002),
     ls.CosineAnnealingWarmRestarts(5, 2, 0.002)),
    (lambda o: tls.LambdaLR(o, lambda e: 0.97**e), ls.LambdaLR(lambda e: 0.97**e)),
]


@pytest.mark.parametrize("make_torch,sched", CLOSED,
                         ids=[type(c[1]).__name__ for c in CLOSED])
def test_as_schedule_matches_torch_trajectory(make_torch, sched):
    """``as_schedule(base)(count)`` equals torch's lr after ``count`` scheduler steps."""
    topt = torch_opt()
    tsched = make_torch(topt)
    want = [tsched.get_last_lr()[0]]
    for _ in range(STEPS):
        tsched.step()
        want.append(tsched.get_last_lr()[0])
    fn = jax.jit(jax.vmap(sched.as_schedule(LRS[0]) if not isinstance(sched, ls.LambdaLR)
                          else (lambda c: LRS[0] * 0.97**c)))
    got = np.asarray(fn(jnp.arange(STEPS + 1)))
    # under jit XLA rewrites x/c as x*(1/c): an lr torch computes as exactly 0 may be 1e-35
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-30)


def test_cyclic_and_onecycle_as_schedule():
    for make_torch, sched in [
        (lambda o: tls.CyclicLR(o, 0.01, 0.1, 13, 7, mode="triangular2", cycle_momentum=False),
         ls.CyclicLR(0.01, 0.1, 13, 7, mode="triangular2", cycle_momentum=False)),
        (lambda o: tls.OneCycleLR(o, 1.0, total_steps=STEPS, three_phase=True),
         ls.OneCycleLR(1.0, total_steps=STEPS, three_phase=True)),
    ]:
        topt = torch_opt()
        tsched = make_torch(topt)
        want = [tsched.get_last_lr()[0]]
        for _ in range(STEPS):
            tsched.step()
            want.append(tsched.get_last_lr()[0])
        got = np.asarray(jax.vmap(sched.as_schedule())(jnp.arange(STEPS + 1)))
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_schedule_as_optimizer_lr_matches_torch_training():
    """``lr=StepLR(...).as_schedule(base)``: the lr follows the update count, as torch's
    scheduler stepped after every optimizer step."""
    x, y, p0 = mlp_problem()
    net = torch_mlp(p0)
    topt = torch.optim.SGD(net.parameters(), lr=0.002, momentum=0.9)
    tsched = tls.CosineAnnealingLR(topt, 15, 1e-4)
    xt, yt = torch.tensor(x), torch.tensor(y)
    for _ in range(40):
        topt.zero_grad()
        torch.nn.functional.mse_loss(net(xt), yt, reduction="sum").backward()
        topt.step()
        tsched.step()
    opt = optim.sgd(ls.CosineAnnealingLR(15, 1e-4).as_schedule(0.002), momentum=0.9)
    p = _tree.unflatten({k: jnp.asarray(v) for k, v in p0.items()})

    def body(carry, _):
        p, st = carry
        g = jax.grad(fnn_mlp_loss)(p, x, y)
        u, st = opt.update(g, st, p)
        return (optim.apply_updates(p, u), st), None

    (p, _), _ = jax.lax.scan(body, (p, opt.init(p)), None, length=40)
    for k, v in net.state_dict().items():
        np.testing.assert_allclose(_tree.flatten(p)[k], v.numpy(), rtol=1e-10, atol=1e-13)


# ---------------------------------------------------------------------- training runs
def _train_torch(make_sched, epochs, batches=4):
    x, y, p0 = mlp_problem()
    net = torch_mlp(p0)
    topt = torch.optim.SGD(net.parameters(), lr=0.002, momentum=0.9)
    tsched = make_sched(topt)
    xt, yt = torch.tensor(x), torch.tensor(y)
    for _ in range(epochs):
        for b in range(batches):
            sl = slice(b * 25, (b + 1) * 25)
            topt.zero_grad()
            torch.nn.functional.mse_loss(net(xt[sl]), yt[sl], reduction="sum").backward()
            topt.step()
        tsched.step()
    return net.state_dict(), tsched.get_last_lr()


@jax.jit
def _epoch_step(p, ost, x, y):
    """One epoch of 4 minibatches with a fixed-lr SGD(momentum): scan over batches."""
    opt = optim.sgd(0.002, momentum=0.9)

    def body(carry, b):
        p, ost = carry
        g = jax.grad(fnn_mlp_loss)(p, b[0], b[1])
        u, ost = opt.update(g, ost, p)
        return (optim.apply_updates(p, u), ost), None

    (p, ost), _ = jax.lax.scan(body, (p, ost), (x.reshape(4, 25, 3), y.reshape(4, 25, 1)))
    return p, ost


def test_training_run_matches_torch():
    """The posts' MLP, SGD(momentum=0.9), a StepLR-then-cosine schedule stepped per epoch."""
    epochs = 30
    want, want_lr = _train_torch(lambda o: tls.SequentialLR(
        o, [tls.LinearLR(o, 0.3, total_iters=5), tls.CosineAnnealingLR(o, 12, 1e-4)], [6]), epochs)
    x, y, p0 = mlp_problem()
    p = _tree.unflatten({k: jnp.asarray(v) for k, v in p0.items()})
    ost = optim.sgd(0.002, momentum=0.9).init(p)
    sched = ls.SequentialLR([ls.LinearLR(0.3, total_iters=5), ls.CosineAnnealingLR(12, 1e-4)], [6])
    s, ost = sched.init(ost)
    for _ in range(epochs):
        p, ost = _epoch_step(p, ost, jnp.asarray(x), jnp.asarray(y))
        s, ost = sched.step(s, ost)
    np.testing.assert_allclose(np.asarray(ls.get_last_lr(s)), want_lr, rtol=RTOL)
    flat = _tree.flatten(p)
    for k, v in want.items():
        np.testing.assert_allclose(flat[k], v.numpy(), rtol=1e-10, atol=1e-13, err_msg=k)


def test_scheduler_step_inside_jit_with_onecycle_momentum():
    """A jitted train step that also steps OneCycleLR (momentum cycling) equals torch."""
    steps = 50
    x, y, p0 = mlp_problem()
    net = torch_mlp(p0)
    topt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    tsched = tls.OneCycleLR(topt, 0.02, total_steps=steps)
    xt, yt = torch.tensor(x), torch.tensor(y)
    for _ in range(steps):
        topt.zero_grad()
        torch.nn.functional.mse_loss(net(xt), yt, reduction="sum").backward()
        topt.step()
        tsched.step()

    opt = optim.sgd(0.01, momentum=0.9, nesterov=True)
    sched = ls.OneCycleLR(0.02, total_steps=steps)
    p = _tree.unflatten({k: jnp.asarray(v) for k, v in p0.items()})
    s, ost = sched.init(opt.init(p))

    @jax.jit
    def train_step(p, ost, s):
        g = jax.grad(fnn_mlp_loss)(p, x, y)
        u, ost = opt.update(g, ost, p)
        s, ost = sched.step(s, ost)
        return optim.apply_updates(p, u), ost, s

    for _ in range(steps):
        p, ost, s = train_step(p, ost, s)
    assert train_step._cache_size() == 1
    np.testing.assert_allclose(float(ost.param_groups[0]["momentum"]),
                               topt.param_groups[0]["momentum"], rtol=RTOL)
    flat = _tree.flatten(p)
    for k, v in net.state_dict().items():
        np.testing.assert_allclose(flat[k], v.numpy(), rtol=1e-10, atol=1e-13, err_msg=k)


def test_plateau_inside_jit_with_traced_metric():
    sched = ls.ReduceLROnPlateau(factor=0.5, patience=1)
    s, ost = sched.init(fnn_opt_state())
    step = jax.jit(lambda s, ost, m: sched.step(s, ost, m))
    for m in [1.0, 1.0, 1.0, 0.5, 0.5, 0.5]:
        s, ost = step(s, ost, jnp.asarray(m))
    np.testing.assert_allclose(np.asarray(ls.get_last_lr(s)), [0.025, 0.0125, 0.075])


def test_vmap_over_scheduler_states():
    """A batch of scheduler states (e.g. a sweep) steps under vmap."""
    sched = ls.CosineAnnealingLR(10, 0.0)
    s, ost = sched.init(fnn_opt_state())
    batched = jax.tree.map(lambda a: jnp.stack([a, a]), (s, ost))
    out_s, _ = jax.vmap(lambda s, o: sched.step(s, o))(*batched)
    np.testing.assert_allclose(np.asarray(out_s.last_lr[0]),
                               [0.1 * (1 + math.cos(math.pi / 10)) / 2] * 2, rtol=1e-14)


# ---------------------------------------------------------------------- errors
def _torch_error(fn):
    with pytest.raises(Exception) as info:
        fn()
    return type(info.value), str(info.value)


ERRORS = [
    (lambda o: tls.ConstantLR(o, factor=1.5), lambda: ls.ConstantLR(factor=1.5)),
    (lambda o: tls.LinearLR(o, start_factor=0), lambda: ls.LinearLR(start_factor=0)),
    (lambda o: tls.LinearLR(o, end_factor=1.5), lambda: ls.LinearLR(end_factor=1.5)),
    (lambda o: tls.CosineAnnealingWarmRestarts(o, 0), lambda: ls.CosineAnnealingWarmRestarts(0)),
    (lambda o: tls.CosineAnnealingWarmRestarts(o, 3, 0),
     lambda: ls.CosineAnnealingWarmRestarts(3, 0)),
    (lambda o: tls.CosineAnnealingWarmRestarts(o, 3, 1, "a"),
     lambda: ls.CosineAnnealingWarmRestarts(3, 1, "a")),
    (lambda o: tls.CyclicLR(o, 0.1, 1.0, mode="foo"), lambda: ls.CyclicLR(0.1, 1.0, mode="foo")),
    (lambda o: tls.OneCycleLR(o, 1.0), lambda: ls.OneCycleLR(1.0)),
    (lambda o: tls.OneCycleLR(o, 1.0, total_steps=0), lambda: ls.OneCycleLR(1.0, total_steps=0)),
    (lambda o: tls.OneCycleLR(o, 1.0, epochs=0, steps_per_epoch=3),
     lambda: ls.OneCycleLR(1.0, epochs=0, steps_per_epoch=3)),
    (lambda o: tls.OneCycleLR(o, 1.0, epochs=2, steps_per_epoch=-1),
     lambda: ls.OneCycleLR(1.0, epochs=2, steps_per_epoch=-1)),
    (lambda o: tls.OneCycleLR(o, 1.0, 10, pct_start=0),
     lambda: ls.OneCycleLR(1.0, 10, pct_start=0)),
    (lambda o: tls.OneCycleLR(o, 1.0, 10, anneal_strategy="exp"),
     lambda: ls.OneCycleLR(1.0, 10, anneal_strategy="exp")),
    (lambda o: tls.ReduceLROnPlateau(o, factor=1.0), lambda: ls.ReduceLROnPlateau(factor=1.0)),
    (lambda o: tls.ReduceLROnPlateau(o, mode="avg"), lambda: ls.ReduceLROnPlateau(mode="avg")),
    (lambda o: tls.ReduceLROnPlateau(o, threshold_mode="x"),
     lambda: ls.ReduceLROnPlateau(threshold_mode="x")),
    (lambda o: tls.SequentialLR(o, [], []), lambda: ls.SequentialLR([], [])),
    (lambda o: tls.SequentialLR(o, [tls.StepLR(o, 2), tls.StepLR(o, 3)], [1, 2]),
     lambda: ls.SequentialLR([ls.StepLR(2), ls.StepLR(3)], [1, 2])),
    (lambda o: tls.SequentialLR(o, [tls.ReduceLROnPlateau(o)], []),
     lambda: ls.SequentialLR([ls.ReduceLROnPlateau()], [])),
    (lambda o: tls.ChainedScheduler([]), lambda: ls.ChainedScheduler([])),
]


@pytest.mark.parametrize("make_torch,make_fnn", ERRORS)
def test_construction_errors_match_torch(make_torch, make_fnn):
    t_type, t_msg = _torch_error(lambda: make_torch(torch_opt()))
    f_type, f_msg = _torch_error(make_fnn)
    assert (f_type, f_msg) == (t_type, t_msg)


INIT_ERRORS = [
    (lambda o: tls.LambdaLR(o, [lambda e: 1.0] * 2), ls.LambdaLR([lambda e: 1.0] * 2)),
    (lambda o: tls.MultiplicativeLR(o, [1, 2, 3]), ls.MultiplicativeLR([1, 2, 3])),
    (lambda o: tls.CyclicLR(o, [0.1, 0.2], 1.0), ls.CyclicLR([0.1, 0.2], 1.0)),
    (lambda o: tls.OneCycleLR(o, [1.0], 10), ls.OneCycleLR([1.0], 10)),
    (lambda o: tls.ReduceLROnPlateau(o, min_lr=[0.1]), ls.ReduceLROnPlateau(min_lr=[0.1])),
]


@pytest.mark.parametrize("make_torch,sched", INIT_ERRORS)
def test_init_errors_match_torch(make_torch, sched):
    t_type, t_msg = _torch_error(lambda: make_torch(torch_opt()))
    f_type, f_msg = _torch_error(lambda: sched.init(fnn_opt_state()))
    assert (f_type, f_msg) == (t_type, t_msg)


def test_onecycle_past_total_steps():
    topt = torch_opt()
    tsched = tls.OneCycleLR(topt, 1.0, total_steps=3)
    sched = ls.OneCycleLR(1.0, total_steps=3)
    s, ost = sched.init(fnn_opt_state())
    for _ in range(3):
        tsched.step()
        s, ost = sched.step(s, ost)
    np.testing.assert_allclose(np.asarray(ls.get_last_lr(s)), tsched.get_last_lr(), rtol=RTOL)
    t_type, t_msg = _torch_error(tsched.step)
    f_type, f_msg = _torch_error(lambda: sched.step(s, ost))
    assert (f_type, f_msg) == (t_type, t_msg)
    # inside jit the error cannot be raised: the lrs become NaN
    s2, _ = jax.jit(lambda s, o: sched.step(s, o))(s, ost)
    assert np.isnan(np.asarray(ls.get_last_lr(s2))).all()


def test_warm_restarts_negative_epoch():
    t_type, t_msg = _torch_error(lambda: tls.CosineAnnealingWarmRestarts(torch_opt(), 3).step(-1))
    sched = ls.CosineAnnealingWarmRestarts(3)
    s, ost = sched.init(fnn_opt_state())
    f_type, f_msg = _torch_error(lambda: sched.step(s, ost, epoch=-1))
    assert (f_type, f_msg) == (t_type, t_msg)


def test_cycle_momentum_errors():
    # an optimizer without momentum or betas: torch's message
    opt = optim.sgd(0.1, momentum=0.9)
    ost = opt.init({"a": jnp.zeros(2)})
    no_mom = ost._replace(param_groups=tuple({"lr": g["lr"]} for g in ost.param_groups))
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        ls.CyclicLR(0.01, 0.1).init(no_mom)
    # fnn's SGD(momentum=0) has no buffer to cycle: a clear error (torch sets 0.9 silently)
    ost0 = optim.sgd(0.1).init({"a": jnp.zeros(2)})
    with pytest.raises(ValueError, match="nonzero momentum"):
        ls.OneCycleLR(1.0, 10).init(ost0)
    s, ost0 = ls.OneCycleLR(1.0, 10, cycle_momentum=False).init(ost0)
    assert float(ls.get_last_lr(s)[0]) == pytest.approx(0.04)


def test_step_argument_errors():
    s, ost = ls.StepLR(3).init(fnn_opt_state())
    with pytest.raises(TypeError, match="takes no metrics"):
        ls.StepLR(3).step(s, ost, 1.0)
    ps, ost = ls.ReduceLROnPlateau().init(fnn_opt_state())
    with pytest.raises(TypeError, match="needs the metrics"):
        ls.ReduceLROnPlateau().step(ps, ost)
    with pytest.raises(ValueError, match="increasing milestones"):
        ls.SequentialLR([ls.StepLR(2), ls.StepLR(3), ls.StepLR(4)], [5, 3])
