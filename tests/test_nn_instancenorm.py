"""InstanceNorm1d/2d/3d, BatchNorm3d, SyncBatchNorm, LocalResponseNorm, CrossMapLRN2d,
F.instance_norm / local_response_norm / normalize against torch 2.13."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from layer_parity import check_layer

import fnn.nn as nn
import fnn.nn.functional as F

RNG = np.random.default_rng(0)
TORCH_SHAPES = {1: (3, 4, 5), 2: (2, 4, 3, 5), 3: (2, 4, 2, 3, 3)}


def _randomize(tl):
    with torch.no_grad():
        for p in tl.parameters():
            p.copy_(torch.randn(p.shape))
        for name, b in tl.named_buffers():
            if name == "running_mean":
                b.copy_(torch.randn(b.shape))
            elif name == "running_var":
                b.copy_(torch.rand(b.shape) + 0.5)
    return tl


@pytest.mark.parametrize("n,affine,track,train,momentum", [
    (1, False, False, True, 0.1), (2, True, False, False, 0.1), (3, True, True, True, 0.3),
    (1, False, True, False, 0.1), (2, True, True, True, None)])
def test_instance_norm_parity(n, affine, track, train, momentum):
    torch.manual_seed(n)
    name = f"InstanceNorm{n}d"
    f = getattr(nn, name)(4, eps=1e-4, momentum=momentum, affine=affine, track_running_stats=track)
    t = _randomize(getattr(torch.nn, name)(4, eps=1e-4, momentum=momentum, affine=affine,
                                           track_running_stats=track))
    x = RNG.standard_normal(TORCH_SHAPES[n])
    check_layer(f, t, x, np.float64, train=train)
    if n == 2:
        check_layer(f, t, x[0], np.float64, train=train)        # unbatched (C, H, W)
        check_layer(f, t, x.astype(np.float32), np.float32, 1e-5, 1e-5, train=train)


def test_instance_norm_params_buffers_and_repr():
    f = nn.InstanceNorm2d(3, affine=True, track_running_stats=True)
    t = torch.nn.InstanceNorm2d(3, affine=True, track_running_stats=True)
    assert repr(f) == repr(t)
    assert list(f.init(jax.random.key(0))) == [k for k, _ in t.named_parameters()]
    assert list(f.init_buffers()) == [k for k, _ in t.named_buffers()]
    assert f.init_buffers()["num_batches_tracked"].dtype == jnp.int64
    assert nn.InstanceNorm1d(3).init(jax.random.key(0)) == {} and not nn.InstanceNorm1d(3).init_buffers()


def test_instance_norm_errors_and_warnings():
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        nn.InstanceNorm1d(3)(None, jnp.ones((2, 3, 4, 5)))
    with pytest.raises(ValueError, match=r"expected input's size at dim=1 to match num_features "
                                         r"\(3\), but got: 4."):
        nn.InstanceNorm1d(3, affine=True)(nn.InstanceNorm1d(3, affine=True).init(jax.random.key(0)),
                                          jnp.ones((2, 4, 5)))
    with pytest.warns(UserWarning, match="does not match num_features"):
        nn.InstanceNorm1d(3)(None, jnp.ones((2, 4, 5)))
    with pytest.raises(ValueError, match="Expected more than 1 spatial element when training"):
        F.instance_norm(jnp.ones((2, 3, 1)))
    with pytest.raises(ValueError, match="running_mean should contain 6 elements not 4"):
        F.instance_norm(jnp.ones((2, 3, 4)), jnp.zeros(2), jnp.ones(2))


def test_functional_instance_norm_running_stats():
    x = RNG.standard_normal((3, 2, 5))
    rm, rv = RNG.standard_normal(2), RNG.random(2) + 0.5
    w, b = RNG.standard_normal(2), RNG.standard_normal(2)
    trm, trv = torch.tensor(rm), torch.tensor(rv)
    want = torch.nn.functional.instance_norm(torch.tensor(x), trm, trv, torch.tensor(w),
                                             torch.tensor(b), True, 0.2, 1e-3)
    out, m, v = jax.jit(F.instance_norm, static_argnums=(5,))(x, rm, rv, w, b, True, 0.2, 1e-3)
    np.testing.assert_allclose(out, want.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(m, trm.numpy(), rtol=1e-10)
    np.testing.assert_allclose(v, trv.numpy(), rtol=1e-10)


@pytest.mark.parametrize("momentum,train", [(None, True), (0.1, False)])
def test_batchnorm3d_and_syncbatchnorm(momentum, train):
    x = RNG.standard_normal((2, 3, 2, 2, 3))
    torch.manual_seed(0)
    for fcls, tcls in ((nn.BatchNorm3d, torch.nn.BatchNorm3d),
                       (nn.SyncBatchNorm, torch.nn.SyncBatchNorm)):
        t = _randomize(tcls(3, momentum=momentum))
        assert repr(fcls(3, momentum=momentum)) == repr(t)
        check_layer(fcls(3, momentum=momentum), t, x, np.float64, train=train)
    t = _randomize(torch.nn.SyncBatchNorm(3, affine=False))
    check_layer(nn.SyncBatchNorm(3, affine=False), t, x[:, :, 0, 0], np.float64, train=True)
    with pytest.raises(ValueError, match=r"expected 5D input \(got 3D input\)"):
        nn.BatchNorm3d(3)(None, jnp.ones((2, 3, 4)))
    with pytest.raises(ValueError, match=r"expected at least 2D input \(got 1D input\)"):
        nn.SyncBatchNorm(3)(None, jnp.ones(3))


def test_convert_sync_batchnorm():
    class Net(nn.Module):
        def __init__(self):
            self.body = nn.Sequential(nn.Conv2d(2, 3, 1), nn.BatchNorm2d(3, momentum=0.2),
                                      nn.InstanceNorm2d(3))
            self.bn = nn.BatchNorm1d(3, affine=False)

    net = Net()
    params, buffers = net.init(jax.random.key(0)), net.init_buffers()
    out = nn.SyncBatchNorm.convert_sync_batchnorm(net, process_group=None)
    assert type(out.body[1]) is nn.SyncBatchNorm and out.body[1].momentum == 0.2
    assert type(out.bn) is nn.SyncBatchNorm and not out.bn.affine
    assert type(out.body[2]) is nn.InstanceNorm2d
    assert jax.tree.structure(out.init(jax.random.key(0))) == jax.tree.structure(params)
    assert jax.tree.structure(out.init_buffers()) == jax.tree.structure(buffers)
    assert type(nn.SyncBatchNorm.convert_sync_batchnorm(nn.BatchNorm1d(4))) is nn.SyncBatchNorm


@pytest.mark.parametrize("shape,size", [((2, 5, 3), 3), ((2, 6, 3, 2), 4), ((1, 4, 2, 2, 2), 7)])
def test_local_response_norm(shape, size):
    x = RNG.standard_normal(shape) * 3
    kw = dict(alpha=0.3, beta=0.6, k=1.5)
    t = torch.nn.LocalResponseNorm(size, **kw)
    assert repr(nn.LocalResponseNorm(size, **kw)) == repr(t)
    check_layer(nn.LocalResponseNorm(size, **kw), t, x, np.float64)
    check_layer(nn.LocalResponseNorm(size, **kw), t, x, np.float32)
    with pytest.raises(ValueError, match="Expected 3D or higher dimensionality"):
        F.local_response_norm(jnp.ones((3, 4)), 2)


@pytest.mark.parametrize("channels,size", [(7, 3), (3, 5), (6, 4)])
def test_cross_map_lrn2d(channels, size):
    x = RNG.standard_normal((2, channels, 2, 3)) * 2
    t = torch.nn.CrossMapLRN2d(size, alpha=0.2, beta=0.8, k=1.3)
    assert repr(nn.CrossMapLRN2d(size, alpha=0.2, beta=0.8, k=1.3)) == repr(t)
    check_layer(nn.CrossMapLRN2d(size, alpha=0.2, beta=0.8, k=1.3), t, x, np.float64)
    with pytest.raises(ValueError, match="CrossMapLRN2d: Expected input to be 4D, got 3D instead."):
        nn.CrossMapLRN2d(3)(None, jnp.ones((3, 4, 5)))


@pytest.mark.parametrize("p,dim", [(2.0, 1), (1.0, -1), (3.0, 0), (float("inf"), 1)])
def test_normalize(p, dim):
    x = RNG.standard_normal((3, 4, 2))
    x[0, :, 0] = 0.0   # a zero slice: clamped by eps
    tx = torch.tensor(x, requires_grad=True)
    want = torch.nn.functional.normalize(tx, p, dim, 1e-6)
    cot = RNG.standard_normal(x.shape)
    (want * torch.tensor(cot)).sum().backward()
    fn = jax.jit(lambda a: F.normalize(a, p, dim, 1e-6))
    np.testing.assert_allclose(fn(x), want.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = jax.grad(lambda a: jnp.sum(fn(a) * cot))(x)
    np.testing.assert_allclose(g, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    with pytest.raises(IndexError, match="Dimension out of range"):
        F.normalize(jnp.ones((3, 4)), dim=3)


def test_vmap_over_new_functions():
    """vmap of the new functional ops equals the loop over the batch."""
    from fnn.nn._functional.lrn import cross_map_lrn2d
    xs = RNG.standard_normal((2, 2, 4, 3, 3))
    for fn in (lambda x: F.instance_norm(x)[0], lambda x: cross_map_lrn2d(x, 3),
               lambda x: F.pdist(x.reshape(8, -1)),
               lambda x: F.embedding_bag(jnp.asarray([0, 2, 1, 3]), x.reshape(24, 3)[:4],
                                         jnp.asarray([0, 2]), mode="max")):
        one = jax.jit(fn)
        np.testing.assert_allclose(jax.jit(jax.vmap(fn))(xs), np.stack([one(x) for x in xs]),
                                   rtol=1e-12, atol=1e-14)
