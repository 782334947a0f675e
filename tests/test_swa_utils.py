"""fnn.optim.swa_utils against torch.optim.swa_utils 2.13 (float64)."""

from __future__ import annotations

import copy

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from torch.optim import swa_utils as tswa

from fnn import _tree, nn
from fnn.optim import swa_utils
from tests.helpers import mlp_problem, torch_mlp
from tests.test_lr_scheduler import run_both


def _param_sequence(k=8):
    return [mlp_problem(seed=s)[2] for s in range(k)]


def _run_torch_avg(seq, **kw):
    net = torch_mlp(seq[0])
    avg = tswa.AveragedModel(net, **kw)
    for p in seq:
        net.load_state_dict({k: torch.tensor(v) for k, v in p.items()})
        avg.update_parameters(net)
    return {k: v.detach().numpy() for k, v in avg.module.state_dict().items()}, int(avg.n_averaged)


AVG = [
    ("swa-default", {}, {}),
    ("ema-avg_fn", {"avg_fn": tswa.get_ema_avg_fn(0.9)},
     {"avg_fn": swa_utils.get_ema_avg_fn(0.9)}),
    ("ema-multi", {"multi_avg_fn": tswa.get_ema_multi_avg_fn(0.7)},
     {"multi_avg_fn": swa_utils.get_ema_multi_avg_fn(0.7)}),
    ("swa-multi", {"multi_avg_fn": tswa.get_swa_multi_avg_fn()},
     {"multi_avg_fn": swa_utils.get_swa_multi_avg_fn()}),
    ("swa-avg_fn", {"avg_fn": tswa.get_swa_avg_fn()}, {"avg_fn": swa_utils.get_swa_avg_fn()}),
]


@pytest.mark.parametrize("tkw,fkw", [a[1:] for a in AVG], ids=[a[0] for a in AVG])
def test_averaged_model_matches_torch(tkw, fkw):
    seq = _param_sequence()
    want, n = _run_torch_avg(seq, **tkw)
    avg = swa_utils.AveragedModel(**fkw)
    state = avg.init(_tree.unflatten({k: jnp.zeros_like(jnp.asarray(v)) for k, v in seq[0].items()}))
    update = jax.jit(avg.update_parameters)
    for p in seq:
        state = update(state, _tree.unflatten({k: jnp.asarray(v) for k, v in p.items()}))
    assert int(state.n_averaged) == n == len(seq)
    flat = _tree.flatten(state.params)
    for k, v in want.items():
        np.testing.assert_allclose(flat[k], v, rtol=1e-13, atol=1e-15, err_msg=k)
    # a real average: not equal to the last or the first model
    assert not np.allclose(flat["0.weight"], seq[-1]["0.weight"])


def test_averaged_model_buffers():
    """use_buffers=False copies buffers; True averages them (ints truncated as torch)."""
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4)).double()
    avg_t = tswa.AveragedModel(net, use_buffers=True)
    avg_f = swa_utils.AveragedModel(use_buffers=True)
    copy_f = swa_utils.AveragedModel()
    sd = {k: jnp.asarray(v.numpy()) for k, v in net.state_dict().items()}
    split = lambda sd: ({k: v for k, v in sd.items() if "running" not in k and "num" not in k},
                        {k: v for k, v in sd.items() if "running" in k or "num" in k})
    p0, b0 = split(sd)
    st, st_copy = avg_f.init(p0, b0), copy_f.init(p0, b0)
    rng = np.random.default_rng(0)
    for i in range(5):
        with torch.no_grad():
            for v in net.state_dict().values():
                v.copy_(torch.tensor(rng.uniform(0, 5, v.shape)) if v.is_floating_point()
                        else torch.tensor(i * 3 + 1))
        avg_t.update_parameters(net)
        p, b = split({k: jnp.asarray(v.numpy()) for k, v in net.state_dict().items()})
        st, st_copy = avg_f.update_parameters(st, p, b), copy_f.update_parameters(st_copy, p, b)
    want = avg_t.module.state_dict()
    for k, v in {**st.params, **st.buffers}.items():
        np.testing.assert_allclose(np.asarray(v), want[k].numpy(), rtol=1e-13, err_msg=k)
    assert st.buffers["1.num_batches_tracked"].dtype == b0["1.num_batches_tracked"].dtype
    for k, v in st_copy.buffers.items():
        np.testing.assert_array_equal(np.asarray(v), net.state_dict()[k].numpy())


def test_errors_match_torch():
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError) as t:
            tswa.get_ema_avg_fn(bad)
        with pytest.raises(ValueError) as f:
            swa_utils.get_ema_avg_fn(bad)
        assert str(f.value) == str(t.value)
        with pytest.raises(ValueError) as f:
            swa_utils.get_ema_multi_avg_fn(bad)
        assert str(f.value) == str(t.value)
    with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn"):
        swa_utils.AveragedModel(avg_fn=swa_utils.get_swa_avg_fn(),
                                multi_avg_fn=swa_utils.get_swa_multi_avg_fn())
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    for kw in (dict(anneal_strategy="exp"), dict(anneal_epochs=-1), dict(anneal_epochs=2.0)):
        with pytest.raises(ValueError) as t:
            tswa.SWALR(opt, 0.01, **kw)
        with pytest.raises(ValueError) as f:
            swa_utils.SWALR(0.01, **kw)
        assert str(f.value) == str(t.value)


@pytest.mark.parametrize("kw", [dict(anneal_epochs=7, anneal_strategy="cos"),
                                dict(anneal_epochs=3, anneal_strategy="linear"),
                                dict(anneal_epochs=0)])
def test_swalr_matches_torch(kw):
    t, f, (_, topt, _, ost) = run_both(lambda o: tswa.SWALR(o, [0.01, 0.02, 0.5], **kw),
                                       swa_utils.SWALR([0.01, 0.02, 0.5], **kw), steps=40)
    np.testing.assert_allclose(f, t, rtol=1e-12)
    assert [float(g["swa_lr"]) for g in ost.param_groups] == [0.01, 0.02, 0.5]


# ---------------------------------------------------------------------- update_bn
class _ToyBN(nn.Module):
    """A minimal BatchNorm1d (no affine) with torch's running-statistics rule, to test
    update_bn's plumbing independently of fnn.nn.BatchNorm1d."""

    def __init__(self, n, momentum=0.1):
        self.n, self.momentum = n, momentum

    def init_own_buffers(self, dtype):
        return {"running_mean": jnp.zeros(self.n, dtype), "running_var": jnp.ones(self.n, dtype),
                "num_batches_tracked": jnp.zeros((), jnp.int64)}

    def forward(self, params, x):
        b = self.get_buffers()
        if not self.is_training():
            return (x - b["running_mean"]) / jnp.sqrt(b["running_var"] + 1e-5)
        mean, var = x.mean(0), x.var(0)
        nbt = b["num_batches_tracked"] + 1
        f = 1.0 / nbt if self.momentum is None else self.momentum
        unbiased = var * x.shape[0] / (x.shape[0] - 1)
        self.set_buffers({"running_mean": (1 - f) * b["running_mean"] + f * mean,
                          "running_var": (1 - f) * b["running_var"] + f * unbiased,
                          "num_batches_tracked": nbt})
        return (x - mean) / jnp.sqrt(var + 1e-5)


def test_update_bn_matches_torch():
    rng = np.random.default_rng(1)
    batches = [(rng.standard_normal((16, 3)) * 2 + 1, None) for _ in range(6)]
    tnet = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4, affine=False,
                                                                           momentum=0.3)).double()
    tnet.eval()
    tswa.update_bn([(torch.tensor(x), y) for x, y in batches], tnet)
    fnet = nn.Sequential(nn.Linear(3, 4), _ToyBN(4, momentum=0.3))
    params = {"0": {k.split(".")[1]: jnp.asarray(v.detach().numpy())
                    for k, v in tnet.state_dict().items() if k.startswith("0.")}}
    bufs = fnet.init_buffers(jnp.float64)
    bufs = jax.tree.map(lambda a: a + 3, bufs)  # stale statistics: reset by update_bn
    new = swa_utils.update_bn([(jnp.asarray(x), y) for x, y in batches], fnet, params, bufs)
    flat = _tree.flatten(new)
    for k in ("1.running_mean", "1.running_var"):
        np.testing.assert_allclose(flat[k], tnet.state_dict()[k].numpy(), rtol=1e-12, err_msg=k)
    assert int(flat["1.num_batches_tracked"]) == 6
    assert fnet[1].momentum == 0.3 and tnet[1].momentum == 0.3  # restored
    # no BatchNorm: buffers returned unchanged
    plain = nn.Sequential(nn.Linear(3, 4))
    assert swa_utils.update_bn(batches, plain, params, {}) == {}


def test_swa_training_loop_copy_semantics():
    """The first update copies: after one update the average is the model itself."""
    p = _tree.unflatten({k: jnp.asarray(v) for k, v in mlp_problem()[2].items()})
    avg = swa_utils.AveragedModel(avg_fn=swa_utils.get_ema_avg_fn(0.5))
    st = avg.update_parameters(avg.init(jax.tree.map(jnp.zeros_like, p)), p)
    jax.tree.map(lambda a, b: np.testing.assert_array_equal(a, b), st.params, copy.deepcopy(p))
