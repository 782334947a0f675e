"""Torch interop: weights and optimizer state move both ways and training continues identically.

For each optimizer: train the posts' MLP N steps in torch, convert model and optimizer
state, continue M steps in fnn, and compare with continuing in torch (float64, 1e-10);
then the reverse direction.
"""

import copy

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from helpers import FleuretNet, fnn_mlp_loss, mlp_problem, torch_mlp

from fnn import _tree, nn, optim
from fnn.interop import torch as tinterop

N, M = 7, 8

OPTIMIZERS = [
    ("sgd", dict(lr=1e-3, momentum=0.9, nesterov=True), torch.optim.SGD),
    ("sgd", dict(lr=1e-3), torch.optim.SGD),
    ("adam", dict(lr=1e-2, amsgrad=True, weight_decay=1e-2), torch.optim.Adam),
    ("adamw", dict(lr=1e-2), torch.optim.AdamW),
    ("adamax", dict(lr=1e-2), torch.optim.Adamax),
    ("nadam", dict(lr=1e-2), torch.optim.NAdam),
    ("radam", dict(lr=1e-2), torch.optim.RAdam),
    ("adagrad", dict(lr=1e-2, lr_decay=1e-3), torch.optim.Adagrad),
    ("adadelta", dict(lr=0.5), torch.optim.Adadelta),
    ("rmsprop", dict(lr=1e-3, momentum=0.5, centered=True), torch.optim.RMSprop),
    ("rprop", dict(lr=1e-3), torch.optim.Rprop),
    ("asgd", dict(lr=1e-3, t0=3), torch.optim.ASGD),
    ("adafactor", dict(lr=1e-2), torch.optim.Adafactor),
]


def _mlp_model():
    return nn.Sequential(nn.Linear(3, 32), nn.ReLU(), nn.Linear(32, 1))


def _torch_steps(net, opt, x, y, k):
    xt, yt = torch.tensor(x), torch.tensor(y)
    for _ in range(k):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(net(xt), yt, reduction="sum")
        loss.backward()
        opt.step()


_STEP_CACHE = {}


def _fnn_steps(opt_key, opt, params, state, x, y, k):
    if opt_key not in _STEP_CACHE:
        @jax.jit
        def step(p, s):
            g = jax.grad(fnn_mlp_loss)(p, x, y)
            u, s = opt.update(g, s, p)
            return optim.apply_updates(p, u), s
        _STEP_CACHE[opt_key] = step
    step = _STEP_CACHE[opt_key]
    for _ in range(k):
        params, state = step(params, state)
    return params, state


def _compare(params, net, rtol=1e-10):
    sd = net.state_dict()
    for name, v in _tree.flatten(params).items():
        np.testing.assert_allclose(np.asarray(v), sd[name].detach().numpy(), rtol=rtol, atol=1e-13,
                                   err_msg=name)


@pytest.mark.parametrize("i", range(len(OPTIMIZERS)), ids=[f"{o[0]}-{k}" for k, o in enumerate(OPTIMIZERS)])
def test_torch_to_fnn_and_back(i):
    name, kw, tcls = OPTIMIZERS[i]
    x, y, p0 = mlp_problem()
    model = _mlp_model()
    opt = getattr(optim, name)(**kw)

    # torch -> fnn
    net = torch_mlp(p0)
    topt = tcls(net.parameters(), **kw)
    _torch_steps(net, topt, x, y, N)
    params, buffers = tinterop.load_state_dict(model, net)
    assert buffers == {}
    state = tinterop.optimizer_state_from_torch(opt, params, topt, net)
    ref_net, ref_opt = copy.deepcopy((net, topt))  # torch continuing, untouched by conversion
    _torch_steps(ref_net, ref_opt, x, y, M)
    p_fnn, s_fnn = _fnn_steps(i, opt, params, state, jnp.asarray(x), jnp.asarray(y), M)
    _compare(p_fnn, ref_net)

    # fnn -> torch: continue the fnn run in a fresh torch optimizer
    net2 = torch_mlp(p0)
    net2.load_state_dict(tinterop.state_dict(p_fnn))
    topt2 = tcls(net2.parameters(), **kw)
    tinterop.optimizer_state_to_torch(opt, s_fnn, p_fnn, topt2, net2)
    _torch_steps(net2, topt2, x, y, M)
    p_more, _ = _fnn_steps(i, opt, p_fnn, s_fnn, jnp.asarray(x), jnp.asarray(y), M)
    _compare(p_more, net2)


def test_weights_roundtrip_keeps_dtypes_and_names():
    x, y, p0 = mlp_problem()
    net = torch_mlp(p0)
    params, _ = tinterop.load_state_dict(_mlp_model(), net.state_dict())
    assert params["0"]["weight"].dtype == jnp.float64
    back = tinterop.state_dict(params)
    assert list(back) == list(net.state_dict())
    for k, v in net.state_dict().items():
        assert back[k].dtype == v.dtype
        assert torch.equal(back[k], v)


def test_mismatches_name_the_key():
    x, y, p0 = mlp_problem()
    net = torch_mlp(p0)
    sd = dict(net.state_dict())
    del sd["2.bias"]
    with pytest.raises(ValueError, match=r"missing keys \['2.bias'\]"):
        tinterop.load_state_dict(_mlp_model(), sd)
    sd = dict(net.state_dict())
    sd["0.weight"] = torch.zeros(31, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"shape mismatch for '0.weight'.*\(31, 3\).*\(32, 3\)"):
        tinterop.load_state_dict(_mlp_model(), sd)
    sd = dict(net.state_dict())
    sd["extra.weight"] = torch.zeros(1)
    with pytest.raises(ValueError, match=r"unexpected keys \['extra.weight'\]"):
        tinterop.load_state_dict(_mlp_model(), sd)

    params, _ = tinterop.load_state_dict(_mlp_model(), net)
    topt = torch.optim.Adam(net.parameters(), lr=1e-2)
    _torch_steps(net, topt, x, y, 2)
    with pytest.raises(ValueError, match="different optimizers: torch has Adam, fnn has SGD"):
        tinterop.optimizer_state_from_torch(optim.sgd(lr=1e-2), params, topt, net)
    with pytest.raises(ValueError, match=r"hyperparameter 'eps' differs in group 0: torch 1e-08, fnn 1e-06"):
        tinterop.optimizer_state_from_torch(optim.adam(lr=1e-2, eps=1e-6), params, topt, net)


def test_param_groups_and_lr_transfer():
    x, y, p0 = mlp_problem()
    net = torch_mlp(p0)
    topt = torch.optim.SGD([{"params": net[0].parameters(), "lr": 5e-4, "momentum": 0.5},
                            {"params": net[2].parameters()}], lr=1e-4, momentum=0.9)
    _torch_steps(net, topt, x, y, N)
    topt.param_groups[1]["lr"] = 2e-4  # as a scheduler would
    opt = optim.sgd(lr=1e-4, momentum=0.9, param_groups=[{"params": "0.*", "lr": 5e-4, "momentum": 0.5}])
    params, _ = tinterop.load_state_dict(_mlp_model(), net)
    state = tinterop.optimizer_state_from_torch(opt, params, topt, net)
    assert [float(v) for v in optim.get_lr(state)] == [5e-4, 2e-4]
    ref, ropt = copy.deepcopy((net, topt))
    _torch_steps(ref, ropt, x, y, M)
    p_fnn, _ = _fnn_steps("groups", opt, params, state, jnp.asarray(x), jnp.asarray(y), M)
    assert np.isfinite(np.asarray(p_fnn["0"]["weight"])).all()
    _compare(p_fnn, ref)


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_state_both_ways(line_search_fn):
    x, y, p0 = mlp_problem()
    kw = dict(lr=1, max_iter=4, history_size=3, line_search_fn=line_search_fn)
    net = torch_mlp(p0)
    topt = torch.optim.LBFGS(net.parameters(), **kw)
    xt, yt = torch.tensor(x), torch.tensor(y)

    def closure_for(n, o):
        def closure():
            o.zero_grad()
            loss = torch.nn.functional.mse_loss(n(xt), yt)
            loss.backward()
            return loss
        return closure

    for _ in range(2):
        topt.step(closure_for(net, topt))
    opt = optim.lbfgs(**kw)
    params, _ = tinterop.load_state_dict(_mlp_model(), net)
    state = tinterop.optimizer_state_from_torch(opt, params, topt, net)
    assert int(state.n_iter) == topt.state[next(iter(net.parameters()))]["n_iter"]

    xj, yj = jnp.asarray(x), jnp.asarray(y)
    loss_fn = lambda p: jnp.mean((jnp.maximum(xj @ p["0"]["weight"].T + p["0"]["bias"], 0)
                                  @ p["2"]["weight"].T + p["2"]["bias"] - yj) ** 2)
    step = jax.jit(lambda p, s: optim.step(opt, loss_fn, p, s))
    ref, ropt = copy.deepcopy((net, topt))
    # LBFGS's __getstate__ drops these attributes
    ropt._params, ropt._numel_cache = ropt.param_groups[0]["params"], None
    for _ in range(2):
        ropt.step(closure_for(ref, ropt))
        params, state, _ = step(params, state)
    _compare(params, ref, rtol=1e-9)

    # back to torch: a fresh LBFGS continues from the fnn state as fnn does
    net2 = torch_mlp(p0)
    net2.load_state_dict(tinterop.state_dict(params))
    topt2 = torch.optim.LBFGS(net2.parameters(), **kw)
    tinterop.optimizer_state_to_torch(opt, state, params, topt2, net2)
    topt2.step(closure_for(net2, topt2))
    params, state, _ = step(params, state)
    _compare(params, net2, rtol=1e-9)


class _FnnNet(nn.Module):
    def __init__(self):
        self.conv1 = nn.Conv2d(1, 32, kernel_size=5)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=5)
        self.fc1 = nn.Linear(256, 200)
        self.fc2 = nn.Linear(200, 10)

    def forward(self, p, x):
        F = nn.functional
        x = F.relu(F.max_pool2d(self.conv1(p["conv1"], x), kernel_size=3, stride=3))
        x = F.relu(F.max_pool2d(self.conv2(p["conv2"], x), kernel_size=2, stride=2))
        x = F.relu(self.fc1(p["fc1"], x.reshape(-1, 256)))
        return self.fc2(p["fc2"], x)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_fleuret_cnn_logits_with_torch_weights(dtype):
    torch.manual_seed(0)
    tnet = FleuretNet().to(dtype)
    x = torch.randn(8, 1, 28, 28, dtype=dtype)
    params, buffers = tinterop.load_state_dict(_FnnNet(), tnet)
    assert buffers == {}
    logits = _FnnNet()(params, jnp.asarray(x.numpy()))
    assert logits.dtype == (jnp.float64 if dtype == torch.float64 else jnp.float32)
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == torch.float64 else dict(rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(logits), tnet(x).detach().numpy(), **tol)


def test_batchnorm_buffers_roundtrip():
    tnet = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.BatchNorm1d(6), torch.nn.ReLU(),
                               torch.nn.Linear(6, 2)).double()
    tnet.train()
    for _ in range(3):
        tnet(torch.randn(16, 4, dtype=torch.float64))
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 2))
    params, buffers = tinterop.load_state_dict(model, tnet.state_dict())
    assert list(_tree.flatten(buffers)) == ["1.running_mean", "1.running_var", "1.num_batches_tracked"]
    assert int(buffers["1"]["num_batches_tracked"]) == 3
    assert buffers["1"]["num_batches_tracked"].dtype == jnp.int64
    tnet.eval()
    x = torch.randn(5, 4, dtype=torch.float64)
    np.testing.assert_allclose(np.asarray(model(params, jnp.asarray(x.numpy()), buffers=buffers)),
                               tnet(x).detach().numpy(), rtol=1e-12, atol=1e-12)
    back = tinterop.state_dict(params, buffers)
    assert list(back) == list(tnet.state_dict())
    for k, v in tnet.state_dict().items():
        assert back[k].dtype == v.dtype and torch.equal(back[k], v), k


def _bias_free_mlp(p0):
    """The posts' MLP without biases (Muon takes 2-D parameters only, as in torch)."""
    net = torch.nn.Sequential(torch.nn.Linear(3, 32, bias=False), torch.nn.ReLU(),
                              torch.nn.Linear(32, 1, bias=False)).double()
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor(p0["0.weight"]))
        net[2].weight.copy_(torch.tensor(p0["2.weight"]))
    model = nn.Sequential(nn.Linear(3, 32, bias=False), nn.ReLU(), nn.Linear(32, 1, bias=False))
    return net, model


def _loss_no_bias(p, x, y):
    h = jnp.maximum(x @ p["0"]["weight"].T, 0)
    return jnp.sum((h @ p["2"]["weight"].T - y) ** 2)


@pytest.mark.parametrize("name,kw,tcls,rtol,atol", [
    # Muon orthogonalises in bfloat16 (as torch): compared at bf16 precision
    ("muon", dict(lr=1e-3, momentum=0.9), torch.optim.Muon, 0, 2e-3),
    ("sparse_adam", dict(lr=1e-2), torch.optim.SparseAdam, 1e-10, 1e-13),
])
def test_muon_and_sparse_adam_state_both_ways(name, kw, tcls, rtol, atol):
    x, y, p0 = mlp_problem()
    xt, yt = torch.tensor(x), torch.tensor(y)
    sparse = name == "sparse_adam"

    def steps(net, topt, k):
        for _ in range(k):
            topt.zero_grad()
            torch.sum((net(xt) - yt) ** 2).backward()
            if sparse:  # SparseAdam takes sparse gradients only
                for t in net.parameters():
                    t.grad = t.grad.to_sparse()
            topt.step()

    def compare(params, net):
        for k, v in _tree.flatten(params).items():
            np.testing.assert_allclose(np.asarray(v), net.state_dict()[k].numpy(), rtol=rtol,
                                       atol=atol, err_msg=k)

    opt = getattr(optim, name)(**kw)
    xj, yj = jnp.asarray(x), jnp.asarray(y)

    @jax.jit
    def fnn_step(p, s):
        u, s = opt.update(jax.grad(_loss_no_bias)(p, xj, yj), s, p)
        return optim.apply_updates(p, u), s

    net, model = _bias_free_mlp(p0)
    topt = tcls(net.parameters(), **kw)
    steps(net, topt, N)
    params, _ = tinterop.load_state_dict(model, net)
    # torch's Muon keeps no step count (its update does not use one): fnn infers 1 unless told
    inferred = tinterop.optimizer_state_from_torch(opt, params, topt, net)
    assert int(inferred.step) == (1 if name == "muon" else N)
    state = tinterop.optimizer_state_from_torch(opt, params, topt, net, step=N)
    assert int(state.step) == N
    ref, ropt = copy.deepcopy((net, topt))
    steps(ref, ropt, M)
    for _ in range(M):
        params, state = fnn_step(params, state)
    compare(params, ref)
    assert not np.allclose(np.asarray(params["0"]["weight"]), p0["0.weight"])

    net2, _ = _bias_free_mlp(p0)
    net2.load_state_dict(tinterop.state_dict(params))
    topt2 = tcls(net2.parameters(), **kw)
    tinterop.optimizer_state_to_torch(opt, state, params, topt2, net2)
    steps(net2, topt2, M)
    for _ in range(M):
        params, state = fnn_step(params, state)
    compare(params, net2)
