"""fnn.testfns: values and gradients against torch autograd, and the known minima."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from fnn import testfns

T = torch
PI = math.pi

# independent torch formulas (the textbook definitions)
TORCH = {
    "ackley": lambda x, y: (-20 * T.exp(-0.2 * T.sqrt(0.5 * (x**2 + y**2)))
                            - T.exp(0.5 * (T.cos(2 * PI * x) + T.cos(2 * PI * y))) + math.e + 20),
    "beale": lambda x, y: (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2
    + (2.625 - x + x * y**3) ** 2,
    "booth": lambda x, y: (x + 2 * y - 7) ** 2 + (2 * x + y - 5) ** 2,
    "bukin_n6": lambda x, y: 100 * T.sqrt(T.abs(y - 0.01 * x**2)) + 0.01 * T.abs(x + 10),
    "easom": lambda x, y: -T.cos(x) * T.cos(y) * T.exp(-((x - PI) ** 2) - (y - PI) ** 2),
    "goldstein_price": lambda x, y: (
        (1 + (x + y + 1) ** 2 * (19 - 14 * x + 3 * x**2 - 14 * y + 6 * x * y + 3 * y**2))
        * (30 + (2 * x - 3 * y) ** 2 * (18 - 32 * x + 12 * x**2 + 48 * y - 36 * x * y + 27 * y**2))),
    "himmelblau": lambda x, y: (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2,
    "levi_n13": lambda x, y: (T.sin(3 * PI * x) ** 2 + (x - 1) ** 2 * (1 + T.sin(3 * PI * y) ** 2)
                              + (y - 1) ** 2 * (1 + T.sin(2 * PI * y) ** 2)),
    "matyas": lambda x, y: 0.26 * (x**2 + y**2) - 0.48 * x * y,
    "rastrigin": lambda x, y: 20 + x**2 - 10 * T.cos(2 * PI * x) + y**2 - 10 * T.cos(2 * PI * y),
    "rosenbrock": lambda x, y: 100 * (y - x**2) ** 2 + (1 - x) ** 2,
    "sphere": lambda x, y: x**2 + y**2,
    "flower": lambda x, y: T.sqrt(x**2 + y**2) + T.sin(4 * T.atan2(y, x)),
}


def test_the_thirteen():
    assert testfns.names() == sorted(TORCH)


@pytest.mark.parametrize("name", sorted(TORCH))
def test_values_and_gradients_match_torch(name):
    tf = testfns.get(name)
    d = tf.domain
    rng = np.random.default_rng(0)
    pts = np.stack([rng.uniform(d.xmin, d.xmax, 16), rng.uniform(d.ymin, d.ymax, 16)], 1)
    x = torch.tensor(pts[:, 0], requires_grad=True)
    y = torch.tensor(pts[:, 1], requires_grad=True)
    tv = TORCH[name](x, y)
    tv.sum().backward()
    fv = tf(jnp.asarray(pts[:, 0]), jnp.asarray(pts[:, 1]))
    gx, gy = jax.vmap(jax.grad(tf, argnums=(0, 1)))(jnp.asarray(pts[:, 0]), jnp.asarray(pts[:, 1]))
    np.testing.assert_allclose(fv, tv.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gx, x.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(gy, y.grad.numpy(), rtol=1e-10, atol=1e-10)


SMOOTH_AT_MIN = sorted(set(TORCH) - {"bukin_n6", "flower"})


@pytest.mark.parametrize("name", sorted(set(TORCH) - {"flower"}))
def test_value_at_known_minima(name):
    tf = testfns.get(name)
    approx = name == "himmelblau"  # three of its minima are known to 6 decimals
    for mx, my in tf.minima:
        np.testing.assert_allclose(float(tf(mx, my)), tf.f_min, atol=1e-8 if approx else 1e-12)


@pytest.mark.parametrize("name", SMOOTH_AT_MIN)
def test_gradient_vanishes_at_known_minima(name):
    tf = testfns.get(name)
    for mx, my in tf.minima:
        g = jax.grad(tf, argnums=(0, 1))(jnp.float64(mx), jnp.float64(my))
        np.testing.assert_allclose(np.array(g), 0.0, atol=1e-4 if name == "himmelblau" else 1e-10)


def test_standard_beale_minimum():
    beale = testfns.get("beale")
    assert float(beale(3.0, 0.5)) == 0.0
    # not torchopt's variant (-x*y^2 in the middle term), which is 2.25 there
    assert float(beale(3.0, 0.5)) != (1.5 - 3 + 1.5) ** 2 + (2.25 - 3 - 0.75) ** 2 + (2.625 - 3 + 0.375) ** 2


def test_domains_contain_start_and_minima():
    for name, tf in testfns.FUNCTIONS.items():
        d = tf.domain
        for mx, my in tf.minima:
            assert d.xmin <= mx <= d.xmax and d.ymin <= my <= d.ymax, name
        if name != "flower":  # the post starts flower at (20, 20), far outside
            assert d.xmin <= d.x0 <= d.xmax and d.ymin <= d.y0 <= d.ymax, name
    # bounds as in the literature, not swapped as in torchopt
    assert testfns.get("goldstein_price").domain.ymin == -3
    assert testfns.get("rosenbrock").domain.ymax == 3


def test_flower_infimum_near_origin():
    f = testfns.get("flower")
    theta = -PI / 8  # sin(4 theta) = -1: a petal valley
    for r in (1e-1, 1e-3, 1e-6):
        np.testing.assert_allclose(float(f(r * math.cos(theta), r * math.sin(theta))), -1 + r, rtol=1e-9)


def test_log_variant_is_an_option():
    tf = testfns.get("rosenbrock")
    lg = tf.log()
    assert lg.name == "log_rosenbrock" and lg.f_min == -math.inf and tf.f_min == 0.0
    np.testing.assert_allclose(float(lg(0.3, 0.2)), math.log(float(tf(0.3, 0.2))), rtol=1e-14)
    assert testfns.get("goldstein_price").log().f_min == pytest.approx(math.log(3))


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match="unknown test function 'bael'; valid names: ackley, beale"):
        testfns.get("bael")


def test_custom_function_and_domain_errors():
    f = lambda x, y: (x - 1) ** 2 + y**2
    tf = testfns.resolve((f, dict(x0=2, y0=2, xmin=-3, xmax=3, ymin=-3, ymax=3)))
    assert tf.domain == testfns.Domain(2, 2, -3, 3, -3, 3) and float(tf(1.0, 0.0)) == 0.0
    with pytest.raises(ValueError, match=r"the domain has no start point: missing \['x0', 'y0'\]"):
        testfns.resolve((f, dict(xmin=-3, xmax=3, ymin=-3, ymax=3)))
    with pytest.raises(ValueError, match="needs a domain"):
        testfns.resolve(f)
    with pytest.raises(ValueError, match="xmin < xmax"):
        testfns.Domain(0, 0, 1, -1, 0, 1)
    # torchopt's domain vector (x0, y0, xmin, xmax, ymin, ymax)
    assert testfns.resolve((f, (2, 2, -3, 3, -3, 3))).domain == tf.domain
    with pytest.raises(ValueError, match=r"the domain has no start point: got the 4 values"):
        testfns.resolve((f, (-3, 3, -3, 3)))
    with pytest.raises(ValueError, match=r"6 values .* got 5"):
        testfns.resolve((f, (0, -3, 3, -3, 3)))
    moved = testfns.resolve("sphere", domain=lambda: dict(x0=1, y0=1, xmin=-1, xmax=2, ymin=-1, ymax=2))
    assert moved.domain.x0 == 1 and moved.fn is testfns.sphere
