"""fnn.explore.test_optim: trajectories from one jitted scan, figures, PNGs and GIFs."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from PIL import Image

from fnn import explore, optim, testfns

SMALL = dict(bg_xy_breaks=30, ct_levels=5)  # small grids: matplotlib is the slow part


def _check_figure(res, path):
    d = res.test_fn.domain
    ax = res.figure.axes[0]
    assert ax.get_xlim() == (d.xmin, d.xmax)
    assert ax.get_ylim() == (d.ymin, d.ymax)  # y limits from the domain (torchopt ignores them)
    (line,) = [ln for ln in ax.lines if ln.get_label() == "path"]
    np.testing.assert_array_equal(np.column_stack(line.get_data()), res.trajectory)
    ends = {c.get_label(): c.get_offsets() for c in ax.collections if c.get_label() in ("start", "end")}
    np.testing.assert_array_equal(ends["start"], res.trajectory[:1])
    np.testing.assert_array_equal(ends["end"], res.trajectory[-1:])
    res.save(path)
    with Image.open(path) as im:
        assert im.format == "PNG" and im.size == (600, 600)


def _check_trajectory(res, steps):
    tf = res.test_fn
    assert res.trajectory.shape == (steps + 1, 2)
    np.testing.assert_array_equal(res.trajectory[0], [tf.domain.x0, tf.domain.y0])
    np.testing.assert_allclose(res.losses, tf(res.trajectory[:, 0], res.trajectory[:, 1]),
                               rtol=1e-12, atol=1e-12)


def _python_loop(opt, tf, steps, key=None):
    """The same run as test_optim, as a plain Python loop of optim.step."""
    p = {"x": jnp.float64(tf.domain.x0), "y": jnp.float64(tf.domain.y0)}
    s = opt.init(p)
    keys = jax.random.split(jax.random.key(0) if key is None else key, steps)
    out = [[p["x"], p["y"]]]
    step = jax.jit(lambda p, s, k: optim.step(opt, lambda q: tf(q["x"], q["y"]), p, s, key=k))
    for k in keys:
        p, s, _ = step(p, s, k)
        out.append([p["x"], p["y"]])
    return np.array(out, dtype=np.float64)


@pytest.mark.parametrize("lr", [0.01, 0.1, 2.0])
def test_adamw_flower_three_learning_rates(lr, tmp_path):
    """The post's experiment: from (20, 20), lr 0.01 never reaches the box in 200 steps,
    lr 0.1 gets close to the origin, and a too-large lr keeps jumping around."""
    res = explore.test_optim(optim.adamw(lr=lr), "flower", 200, **SMALL)
    _check_trajectory(res, 200)
    _check_figure(res, tmp_path / f"adamw_flower_{lr}.png")
    final_r = np.hypot(*res.trajectory[-1])
    if lr == 0.01:
        assert res.trajectory[:, 0].min() > 3 and res.trajectory[:, 1].min() > 3  # outside
    elif lr == 0.1:
        assert final_r < 1.5
        np.testing.assert_allclose(res.trajectory, _python_loop(optim.adamw(lr=lr), res.test_fn, 200),
                                   rtol=1e-12, atol=1e-12)
    else:
        late = np.hypot(res.trajectory[100:, 0], res.trajectory[100:, 1])
        assert late.max() - late.min() > 1.0  # still hopping in the second half


def test_lbfgs_rosenbrock(tmp_path):
    res = explore.test_optim(optim.lbfgs(), "rosenbrock", 5, **SMALL)
    _check_trajectory(res, 5)
    _check_figure(res, tmp_path / "lbfgs_rosenbrock.png")
    np.testing.assert_allclose(res.trajectory[-1], [1.0, 1.0], atol=1e-6)
    assert res.figure.axes[0].get_ylim() == (-1.0, 3.0)


def test_adahessian_beale(tmp_path):
    key = jax.random.key(3)
    res = explore.test_optim(optim.adahessian(lr=0.2), "beale", 50, key=key, **SMALL)
    _check_trajectory(res, 50)
    _check_figure(res, tmp_path / "adahessian_beale.png")
    assert res.losses[-1] < 0.5 * res.losses[0]
    np.testing.assert_allclose(res.trajectory, _python_loop(optim.adahessian(lr=0.2), res.test_fn, 50, key),
                               rtol=1e-12, atol=1e-12)


def test_plot_each_step_gif_has_one_frame_per_step(tmp_path):
    path = tmp_path / "path.gif"
    res = explore.test_optim(optim.adam(lr=0.3), "sphere", 6, gif=path, plot=False,
                             bg_xy_breaks=20, ct_levels=0, figsize=(3, 3), dpi=50)
    assert res.figure is None
    with Image.open(path) as im:
        assert im.format == "GIF" and im.n_frames == 6


def test_optax_transformation_custom_function_and_options(tmp_path):
    f = lambda x, y: (x - 1) ** 2 + 3 * (y + 0.5) ** 2
    dom = dict(x0=-2, y0=2, xmin=-3, xmax=3, ymin=-2, ymax=4)
    res = explore.test_optim(optax.sgd(0.05), (f, dom), 30, bg_palette="magma", bg_z_breaks=8,
                             ct_levels=[1.0, 5.0], ct_labels=True, log_scale=True,
                             title="mine", **{"bg_xy_breaks": 25})
    _check_trajectory(res, 30)
    _check_figure(res, tmp_path / "sgd.png")
    ax = res.figure.axes[0]
    assert ax.get_title() == "mine"
    assert ax.images[0].get_cmap().N == 8
    # sgd on this quadratic: x_{k+1} - 1 = 0.9 (x_k - 1) exactly
    np.testing.assert_allclose(res.trajectory[:, 0] - 1, -3 * 0.9 ** np.arange(31), rtol=1e-12)
    assert res._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_input():
    with pytest.raises(ValueError, match="unknown test function 'nope'; valid names: ackley, beale, booth"):
        explore.test_optim(optim.adam(), "nope", 3, plot=False)
    with pytest.raises(ValueError, match="the domain has no start point"):
        explore.test_optim(optim.adam(), (testfns.sphere, dict(xmin=-1, xmax=1, ymin=-1, ymax=1)), 3)
    with pytest.raises(ValueError, match="steps must be a positive int"):
        explore.test_optim(optim.adam(), "sphere", 0)
    with pytest.raises(ValueError, match="unknown bg_palette"):
        explore.test_optim(optim.adam(), "sphere", 2, bg_palette="nope")
