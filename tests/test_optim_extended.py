"""The extended family (AdaBelief, AdaBound, AdaHessian, MADGRAD, QHAdam, SWATS, Yogi)
against torch-optimizer 0.3.0 on the posts' MLP: float64 within 1e-10 over 100 steps.

Where torch-optimizer departs from the paper (Yogi's m_0, SWATS's SGD-phase buffer), fnn
follows the paper, and the test runs the reference with exactly that departure undone and
shows equality, and shows the unpatched reference differs.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch_optimizer as topt
from helpers import (
    assert_trajectories_close,
    fnn_mlp_loss,
    mlp,
    mlp_problem,
    run_fnn,
    run_torch,
    torch_mlp,
)

from fnn import _tree, optim

STEPS = 100

# (fnn name, kwargs shared by both, torch-optimizer class)
CASES = [
    ("adabelief", dict(lr=1e-2), topt.AdaBelief),
    ("adabelief", dict(lr=1e-2, weight_decay=0.1, weight_decouple=True, rectify=True), topt.AdaBelief),
    ("adabelief", dict(lr=1e-2, weight_decay=0.01, weight_decouple=True, fixed_decay=True,
                       amsgrad=True), topt.AdaBelief),
    ("adabound", dict(lr=1e-2, final_lr=0.05), topt.AdaBound),
    ("adabound", dict(lr=1e-2, final_lr=0.01, gamma=0.01, amsbound=True, weight_decay=0.1),
     topt.AdaBound),
    ("madgrad", dict(lr=1e-3), topt.MADGRAD),
    ("madgrad", dict(lr=1e-3, momentum=0.0, weight_decay=0.1), topt.MADGRAD),
    ("qhadam", dict(lr=1e-2, nus=(0.7, 0.9), weight_decay=0.1), topt.QHAdam),
    ("qhadam", dict(lr=1e-2, nus=(0.8, 1.0), weight_decay=0.1, decouple_weight_decay=True,
                    betas=(0.95, 0.99)), topt.QHAdam),
    ("swats", dict(lr=1e-3, weight_decay=0.01, amsgrad=True), topt.SWATS),
]


def _ids(case):
    name, kw, _ = case
    return name + "-" + "-".join(f"{k}={v}" for k, v in kw.items())


@pytest.mark.parametrize("name,kw,torch_cls", CASES, ids=[_ids(c) for c in CASES])
def test_parity_float64(name, kw, torch_cls):
    prob = mlp()
    tt, tl, topt_, _ = run_torch(lambda named: torch_cls(named.values(), **kw), prob, STEPS)
    ft, fl, state = run_fnn(getattr(optim, name)(**kw), prob, STEPS)
    np.testing.assert_allclose(fl, tl, rtol=1e-10)
    assert_trajectories_close(ft, tt, rtol=1e-10, atol=1e-13, what=name)
    if name == "swats":  # the Adam phase throughout: no switch on either side
        assert all(g["phase"] == "ADAM" for g in topt_.param_groups)
        assert not any(jax.tree.leaves(jax.tree.map(bool, _slots(state, "phase_sgd"))))


F32 = [CASES[4], CASES[8]]


@pytest.mark.parametrize("name,kw,torch_cls", F32, ids=[_ids(c) for c in F32])
def test_parity_float32(name, kw, torch_cls):
    """float32: 30 steps within 2e-5 relative (a few ulp per step, compounded)."""
    prob = mlp(np.float32)
    tt, tl, _, _ = run_torch(lambda named: torch_cls(named.values(), **kw), prob, 30,
                          dtype=torch.float32)
    ft, fl, _ = run_fnn(getattr(optim, name)(**kw), prob, 30, dtype=np.float32)
    assert ft[0]["0.weight"].dtype == np.float32
    np.testing.assert_allclose(fl, tl, rtol=2e-5)
    assert_trajectories_close(ft, tt, rtol=2e-5, atol=2e-6, what=name)


def _slots(state, slot):
    is_slots = lambda s: isinstance(s, dict) and slot in s
    return jax.tree.map(lambda s: s[slot], state.state, is_leaf=is_slots)


# --- Yogi: the paper's m_0 = 0 -----------------------------------------------------------

def _yogi_paper_init(opt, named, init):
    """Undo torch-optimizer's one departure: it starts exp_avg at initial_accumulator."""
    for p in named.values():
        opt.state[p] = {"step": 0, "exp_avg": torch.zeros_like(p),
                        "exp_avg_sq": torch.full_like(p, init)}
    return opt


@pytest.mark.parametrize("kw", [dict(lr=1e-2), dict(lr=1e-2, weight_decay=0.1, eps=1e-6,
                                                     initial_accumulator=1e-3)])
def test_yogi_paper_init(kw):
    prob = mlp()
    p0 = prob.params
    init = kw.get("initial_accumulator", 1e-6)

    def make(named):
        return _yogi_paper_init(topt.Yogi(named.values(), **kw), named, init)

    tt, tl, _, _ = run_torch(make, prob, STEPS)
    ft, fl, _ = run_fnn(optim.yogi(**kw), prob, STEPS)
    np.testing.assert_allclose(fl, tl, rtol=1e-10)
    assert_trajectories_close(ft, tt, rtol=1e-10, atol=1e-13, what="yogi")
    # the unpatched reference differs, already after one step
    ut, _, _, _ = run_torch(lambda named: topt.Yogi(named.values(), **kw), prob, 1)
    diff = max(np.max(np.abs(ut[0][k] - ft[0][k]) / np.abs(ft[0][k] - p0[k]).max()) for k in p0)
    assert diff > 1e-8


# --- SWATS: a real switch to SGD -----------------------------------------------------------

def _lsq_problem():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((40, 5))
    b = a @ rng.standard_normal(5) + 0.1 * rng.standard_normal(40)
    return a, b, rng.standard_normal(5)


def _torch_swats(w0, a, b, steps, kw, undo_buffer_scaling):
    w = torch.nn.Parameter(torch.tensor(w0))
    opt = topt.SWATS([w], **kw)
    at, bt = torch.tensor(a), torch.tensor(b)
    traj, phases, sgd_steps = [], [], 0
    for _ in range(steps):
        opt.zero_grad()
        ((at @ w - bt) ** 2).sum().backward()
        in_sgd = opt.param_groups[0]["phase"] == "SGD"
        opt.step()
        if in_sgd:
            sgd_steps += 1
            if undo_buffer_scaling and sgd_steps > 1:
                # torch-optimizer's departure: `grad = buf; grad.mul_(1 - beta1)` scales
                # the buffer in place after the 1st SGD step; the paper keeps v_t unscaled.
                opt.state[w]["momentum_buffer"] /= 1 - kw.get("betas", (0.9, 0.999))[0]
        traj.append(w.detach().numpy().copy())
        phases.append(opt.param_groups[0]["phase"])
    return np.array(traj), phases, opt.param_groups[0]["lr"]


@jax.jit
def _lsq_loss(p, a, b):
    return jnp.sum((a @ p["w"] - b) ** 2)


def _fnn_swats(w0, a, b, steps, kw):
    opt = optim.swats(**kw)
    p = {"w": jnp.asarray(w0)}
    state = opt.init(p)

    @jax.jit
    def step(p, state):
        g = jax.grad(_lsq_loss)(p, a, b)
        u, state = opt.update(g, state, p)
        return optim.apply_updates(p, u), state

    traj, phases = [], []
    for _ in range(steps):
        p, state = step(p, state)
        traj.append(np.asarray(p["w"]))
        phases.append("SGD" if bool(state.state["w"]["phase_sgd"]) else "ADAM")
    return np.array(traj), phases, float(state.state["w"]["sgd_lr"])


@pytest.mark.parametrize("kw", [dict(lr=3e-3), dict(lr=5e-3, weight_decay=0.01)])
def test_swats_switches_to_sgd(kw):
    a, b, w0 = _lsq_problem()
    ft, fphase, f_lr = _fnn_swats(w0, a, b, STEPS, kw)
    pt, pphase, p_lr = _torch_swats(w0, a, b, STEPS, kw, undo_buffer_scaling=True)
    switch = fphase.index("SGD")
    assert 1 < switch < STEPS - 10, "the switch must happen inside the run"
    assert fphase == pphase
    np.testing.assert_allclose(f_lr, p_lr, rtol=1e-12)
    np.testing.assert_allclose(ft, pt, rtol=1e-10, atol=1e-13)
    # the unpatched reference agrees up to and including the 1st SGD step, then departs
    ut, uphase, _ = _torch_swats(w0, a, b, STEPS, kw, undo_buffer_scaling=False)
    assert uphase == fphase
    np.testing.assert_allclose(ut[:switch + 2], ft[:switch + 2], rtol=1e-10, atol=1e-13)
    assert np.abs(ut[switch + 2:] - ft[switch + 2:]).max() > 1e-8


# --- AdaHessian: the same Rademacher probes on both sides ------------------------------------

def _torch_adahessian(params, x, y, steps, kw, probes, monkeypatch, conv=False):
    """torch-optimizer's Adahessian, with torch.randint_like serving the given 0/1 draws."""
    draws = iter([torch.tensor(v) for step in probes for v in step])
    monkeypatch.setattr(torch, "randint_like", lambda p, high, **k: next(draws))
    net = _torch_conv(params) if conv else torch_mlp(params)
    opt = topt.Adahessian(net.parameters(), **kw)
    xt, yt = torch.tensor(x), torch.tensor(y)
    traj, losses = [], []
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(net(xt), yt, reduction="sum")
        loss.backward(create_graph=True)
        opt.step()
        losses.append(loss.item())
        traj.append({k: v.detach().numpy().copy() for k, v in net.state_dict().items()})
    return traj, losses


def _fnn_adahessian(params, x, y, steps, kw, probes, loss_fn=fnn_mlp_loss):
    """fnn's adahessian fed the same probes (as +-1) through ``hutchinson_vectors``."""
    opt = optim.adahessian(**kw)
    p = _tree.unflatten({k: jnp.asarray(v) for k, v in params.items()})
    state = opt.init(p)
    names = list(params)

    @jax.jit
    def step(p, state, z):
        f = lambda q: loss_fn(q, x, y)
        loss, g = jax.value_and_grad(f)(p)
        u, state = opt.update(g, state, p, value_fn=f, hutchinson_vectors=z)
        return optim.apply_updates(p, u), state, loss

    traj, losses = [], []
    for draws in probes:
        z = _tree.unflatten({k: jnp.asarray(2.0 * v - 1) for k, v in zip(names, draws)})
        p, state, loss = step(p, state, z)
        losses.append(float(loss))
        traj.append({k: np.asarray(v) for k, v in _tree.flatten(p).items()})
    return traj, losses


def _probes(params, steps, seed=0):
    rng = np.random.default_rng(seed)
    return [[rng.integers(0, 2, v.shape).astype(v.dtype) for v in params.values()]
            for _ in range(steps)]


@pytest.mark.parametrize("kw", [dict(lr=1e-2), dict(lr=2e-2, hessian_power=1.0,
                                                     weight_decay=1e-3, betas=(0.8, 0.99))])
def test_adahessian_parity(kw, monkeypatch):
    x, y, p0 = mlp_problem()
    probes = _probes(p0, STEPS)
    tt, tl = _torch_adahessian(p0, x, y, STEPS, kw, probes, monkeypatch)
    ft, fl = _fnn_adahessian(p0, x, y, STEPS, kw, probes)
    np.testing.assert_allclose(fl, tl, rtol=1e-10)
    assert_trajectories_close(ft, tt, rtol=1e-10, atol=1e-13, what="adahessian")


class _ConvNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 3, 3)

    def forward(self, x):
        return torch.tanh(self.conv(x)).sum(dim=(2, 3))


def _torch_conv(params):
    net = _ConvNet().double()
    net.load_state_dict({k: torch.tensor(v) for k, v in params.items()})
    return net


def _fnn_conv_loss(p, x, y):
    out = jax.lax.conv_general_dilated(x, p["conv"]["weight"], (1, 1), "VALID")
    out = jnp.tanh(out + p["conv"]["bias"][None, :, None, None]).sum(axis=(2, 3))
    return jnp.sum((out - y) ** 2)


def test_adahessian_conv_spatial_average(monkeypatch):
    """A 4-D kernel: |Hz| averaged over the two kernel dims, as in the reference."""
    rng = np.random.default_rng(1)
    p0 = {"conv.weight": 0.3 * rng.standard_normal((3, 2, 3, 3)),
          "conv.bias": 0.1 * rng.standard_normal(3)}
    x, y = rng.standard_normal((4, 2, 5, 5)), rng.standard_normal((4, 3))
    probes = _probes(p0, 20, seed=2)
    tt, tl = _torch_adahessian(p0, x, y, 20, dict(lr=0.05), probes, monkeypatch, conv=True)
    ft, fl = _fnn_adahessian(p0, x, y, 20, dict(lr=0.05), probes, loss_fn=_fnn_conv_loss)
    np.testing.assert_allclose(fl, tl, rtol=1e-10)
    assert_trajectories_close(ft, tt, rtol=1e-10, atol=1e-13, what="adahessian conv")


def test_hutchinson_diagonal_matches_exact_hessian():
    """D = |z * Hz|, with H from jax.hessian; 3-D kernels averaged over their last dim."""
    from fnn.optim.adahessian import hutchinson_diagonal

    w = jnp.asarray(np.random.default_rng(4).standard_normal((2, 3, 4)))
    f = lambda p: jnp.sum(jnp.sin(p["w"]) ** 3) + jnp.sum(p["w"]) ** 2
    z = {"w": jax.random.rademacher(jax.random.key(0), w.shape, w.dtype)}
    h = jax.jit(jax.hessian(lambda v: f({"w": v.reshape(w.shape)})))(w.ravel())
    expected = jnp.abs(z["w"].ravel() * (h @ z["w"].ravel())).reshape(w.shape).mean(-1, keepdims=True)
    got = jax.jit(hutchinson_diagonal, static_argnums=0)(f, {"w": w}, z)["w"]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_adahessian_key_draws_rademacher_probes():
    """With a key, the probes are jax.random.rademacher over split keys, one per leaf."""
    p = {"a": jnp.linspace(-1.0, 1.0, 3), "b": jnp.arange(4.0).reshape(2, 2)}
    f = lambda q: jnp.sum(jnp.sin(q["a"]) ** 2) * jnp.sum(jnp.cos(q["b"]))
    opt = optim.adahessian(lr=1e-2)
    g = jax.grad(f)(p)
    key = jax.random.key(7)
    leaves, treedef = jax.tree.flatten(p)
    keys = jax.random.split(key, len(leaves))
    z = treedef.unflatten([jax.random.rademacher(k, v.shape, v.dtype) for k, v in zip(keys, leaves)])
    update = jax.jit(lambda **extra: opt.update(g, opt.init(p), p, value_fn=f, **extra)[0])
    u_key, u_z = update(key=key), update(hutchinson_vectors=z)
    for a, b in zip(jax.tree.leaves(u_key), jax.tree.leaves(u_z)):
        np.testing.assert_array_equal(a, b)
    u_other = update(key=jax.random.key(8))
    assert not all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(u_key), jax.tree.leaves(u_other)))


def test_adahessian_needs_value_fn_and_key():
    p = {"w": jnp.ones(3)}
    opt = optim.adahessian()
    with pytest.raises(ValueError, match="needs the loss function"):
        opt.update(p, opt.init(p), p)
    with pytest.raises(ValueError, match="needs a PRNG key"):
        opt.update(p, opt.init(p), p, value_fn=lambda q: jnp.sum(q["w"] ** 2))


# --- bad hyperparameters: torch-optimizer's messages --------------------------------------

BAD = [
    ("adabelief", "AdaBelief", dict(lr=0.0)),
    ("adabelief", "AdaBelief", dict(eps=-1.0)),
    ("adabelief", "AdaBelief", dict(betas=(0.9, 1.0))),
    ("adabelief", "AdaBelief", dict(weight_decay=-0.1)),
    ("adabound", "AdaBound", dict(final_lr=-0.1)),
    ("adabound", "AdaBound", dict(gamma=1.0)),
    ("adabound", "AdaBound", dict(betas=(-0.1, 0.9))),
    ("adahessian", "Adahessian", dict(eps=0.0)),
    ("adahessian", "Adahessian", dict(hessian_power=1.5)),
    ("adahessian", "Adahessian", dict(lr=-1.0)),
    ("madgrad", "MADGRAD", dict(momentum=1.0)),
    ("madgrad", "MADGRAD", dict(lr=0.0)),
    ("madgrad", "MADGRAD", dict(eps=-1e-3)),
    ("qhadam", "QHAdam", dict(lr=-0.5)),
    ("qhadam", "QHAdam", dict(weight_decay=-1.0)),
    ("swats", "SWATS", dict(lr=-1.0)),
    ("swats", "SWATS", dict(eps=-1.0)),
    ("yogi", "Yogi", dict(lr=0.0)),
    ("yogi", "Yogi", dict(betas=(0.9, 1.5))),
]


@pytest.mark.parametrize("name,cls,kw", BAD, ids=[f"{n}-{k}" for n, _, k in BAD])
def test_bad_hyperparameters_torch_messages(name, cls, kw):
    with pytest.raises(ValueError) as expected:
        getattr(topt, cls)([torch.nn.Parameter(torch.ones(1))], **kw)
    with pytest.raises(ValueError) as got:
        getattr(optim, name)(**kw)
    assert str(got.value) == str(expected.value)


@pytest.mark.parametrize("name", ["adabelief", "madgrad", "swats"])
def test_jit_vmap_over_lr(name):
    """vmap over the learning rate (hyperparameters live in the state) equals separate runs."""
    p = {"w": jnp.linspace(-1.0, 1.0, 4)}
    f = lambda q: jnp.sum(jnp.cos(q["w"]) * q["w"] ** 2)

    def run(lr):
        opt = getattr(optim, name)(lr=lr)
        state = opt.init(p)

        def body(carry, _):
            q, s = carry
            u, s = opt.update(jax.grad(f)(q), s, q)
            return (optim.apply_updates(q, u), s), None

        return jax.lax.scan(body, (p, state), None, length=5)[0][0]["w"]

    lrs = jnp.array([1e-3, 1e-2])
    batched = jax.jit(jax.vmap(run))(lrs)
    for i, lr in enumerate([1e-3, 1e-2]):
        np.testing.assert_allclose(batched[i], run(lr), rtol=1e-12)
    assert not np.allclose(batched[0], batched[1])
