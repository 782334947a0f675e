"""Watch an optimizer walk a 2-D test function: :func:`test_optim`, after R's torchopt.

::

    from fnn import optim, explore
    res = explore.test_optim(optim.adamw(lr=0.1), "flower", steps=200)
    res.trajectory      # (201, 2): the start point and the point after every step
    res.losses          # (201,): f at each of them
    res.figure          # a matplotlib Figure: heat map, contours, path, start and end
    res.save("adamw_flower.png")
    explore.test_optim(optim.adahessian(lr=0.2), "beale", steps=50, gif="adahessian.gif")

The whole trajectory is one jitted ``lax.scan`` of :func:`fnn.optim.step`, so any fnn
optimizer (L-BFGS and AdaHessian included) or optax transformation runs unchanged. In a
notebook the result displays as its figure.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import _check, testfns
from .optim.step import step as optim_step

__all__ = ["test_optim", "TestOptimResult", "trajectory"]


def trajectory(optimizer: optax.GradientTransformation, tf: testfns.TestFunction, steps: int,
               key: jax.Array | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Run ``optimizer`` for ``steps`` steps on ``tf`` from its start point, in one jitted
    ``lax.scan`` of :func:`fnn.optim.step` over ``params = {"x": x, "y": y}`` (two scalar
    parameters, as torchopt's ``list(x, y)``). ``key`` (default ``jax.random.key(0)``) is
    split into one key per step for optimizers that draw (AdaHessian).

    Returns ``(trajectory, losses)``: the ``(steps + 1, 2)`` points, start included, and
    ``f`` at each of them, as numpy arrays.
    """
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"test_optim: steps must be a positive int, got {steps!r}")
    _check.transformation("test_optim", optimizer, "optimizer")
    if not isinstance(tf, testfns.TestFunction):
        raise TypeError(f"trajectory: tf must be a fnn.testfns.TestFunction (testfns.get(name) "
                        f"or testfns.resolve(...)), got {type(tf).__name__}")
    dtype = jnp.result_type(float)
    start = {"x": jnp.asarray(tf.domain.x0, dtype), "y": jnp.asarray(tf.domain.y0, dtype)}
    loss_fn = lambda p: tf(p["x"], p["y"])
    keys = jax.random.split(jax.random.key(0) if key is None else key, steps)

    @jax.jit
    def run(params, keys):
        def body(carry, k):
            p, s = carry
            p, s, _ = optim_step(optimizer, loss_fn, p, s, key=k)
            return (p, s), jnp.stack([p["x"], p["y"]])

        _, pts = jax.lax.scan(body, (params, optimizer.init(params)), keys)
        pts = jnp.concatenate([jnp.stack([params["x"], params["y"]])[None], pts])
        return pts, tf(pts[:, 0], pts[:, 1])

    pts, losses = run(start, keys)
    return np.asarray(pts), np.asarray(losses)


@dataclass
class _Style:
    pt_start_color: str
    pt_end_color: str
    ln_color: str
    ln_weight: float
    bg_xy_breaks: int
    bg_z_breaks: int
    bg_palette: str | Sequence[str]
    ct_levels: int | Sequence[float]
    ct_labels: bool
    ct_color: str
    log_scale: bool
    title: str | None
    xlabel: str
    ylabel: str
    figsize: tuple[float, float]
    dpi: int


@dataclass
class TestOptimResult:
    """What :func:`test_optim` returns.

    ``trajectory``: ``(steps + 1, 2)`` points (start first, the point after the last step
    last); ``losses``: ``f`` at each point; ``test_fn``: the :class:`~fnn.testfns.TestFunction`
    used; ``figure``: the matplotlib ``Figure`` (``None`` with ``plot=False``).
    """

    __test__ = False  # not a pytest test class

    trajectory: np.ndarray
    losses: np.ndarray
    test_fn: testfns.TestFunction
    figure: Any = None
    style: _Style | None = None

    def save(self, path: str | Path, **savefig_kwargs: Any) -> Path:
        """Write the figure (PNG, or any format matplotlib knows from the suffix)."""
        if self.figure is None:
            raise ValueError("test_optim ran with plot=False: there is no figure to save")
        self.figure.savefig(path, **savefig_kwargs)
        return Path(path)

    def save_gif(self, path: str | Path, fps: float = 10) -> Path:
        """Write an animated GIF with one frame per step (frame k: the path after k steps)."""
        return _write_gif(self, Path(path), fps)

    def _repr_png_(self) -> bytes | None:  # inline display in Jupyter
        if self.figure is None:
            return None
        buf = io.BytesIO()
        self.figure.savefig(buf, format="png")
        return buf.getvalue()


def _cmap(palette: str | Sequence[str], n: int):
    import matplotlib
    from matplotlib.colors import ListedColormap

    if isinstance(palette, str):
        if palette not in matplotlib.colormaps:
            raise ValueError(f"test_optim: unknown bg_palette {palette!r}; use a matplotlib "
                             "colormap name (viridis, magma, ...) or a list of colours")
        return matplotlib.colormaps[palette].resampled(n)
    return ListedColormap(list(palette)).resampled(n)


def _draw(res: TestOptimResult):
    """The heat map, contour lines, path, start and end points, in torchopt's layout."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    st, d = res.style, res.test_fn.domain
    assert st is not None  # test_optim always sets it
    xs = np.linspace(d.xmin, d.xmax, st.bg_xy_breaks)
    ys = np.linspace(d.ymin, d.ymax, st.bg_xy_breaks)
    gx, gy = np.meshgrid(xs, ys)
    z = np.asarray(res.test_fn(jnp.asarray(gx), jnp.asarray(gy)), dtype=np.float64)
    if st.log_scale:
        z = np.log1p(z - np.nanmin(z[np.isfinite(z)]))
    z = np.ma.masked_invalid(z)
    fig = Figure(figsize=st.figsize, dpi=st.dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.imshow(z, extent=(d.xmin, d.xmax, d.ymin, d.ymax), origin="lower", aspect="auto",
              cmap=_cmap(st.bg_palette, st.bg_z_breaks), interpolation="nearest")
    if np.size(st.ct_levels) > 1 or st.ct_levels:
        cs = ax.contour(gx, gy, z, levels=st.ct_levels, colors=[st.ct_color], linewidths=0.8)
        if st.ct_labels:
            ax.clabel(cs, fontsize=7)
    t = res.trajectory
    ax.scatter(t[:1, 0], t[:1, 1], s=60, c=st.pt_start_color, edgecolors="black", zorder=3,
               label="start")
    ax.plot(t[:, 0], t[:, 1], color=st.ln_color, linewidth=st.ln_weight, zorder=2, label="path")
    ax.scatter(t[-1:, 0], t[-1:, 1], s=60, c=st.pt_end_color, edgecolors="black", zorder=4,
               label="end")
    ax.set_xlim(d.xmin, d.xmax)
    ax.set_ylim(d.ymin, d.ymax)
    ax.set_xlabel(st.xlabel)
    ax.set_ylabel(st.ylabel)
    ax.set_title(st.title if st.title is not None else res.test_fn.name)
    return fig


def _write_gif(res: TestOptimResult, path: Path, fps: float) -> Path:
    from matplotlib.animation import FuncAnimation, PillowWriter

    fig = _draw(res)
    ax = fig.axes[0]
    line = next(a for a in ax.lines if a.get_label() == "path")
    end = next(c for c in ax.collections if c.get_label() == "end")
    t, steps = res.trajectory, len(res.trajectory) - 1
    title = ax.get_title()

    def frame(k):
        line.set_data(t[: k + 1, 0], t[: k + 1, 1])
        end.set_offsets(t[k : k + 1])
        ax.set_title(f"{title}: step {k}/{steps}")  # also keeps every frame distinct
        return line, end

    FuncAnimation(fig, frame, frames=range(1, steps + 1), blit=False).save(
        path, writer=PillowWriter(fps=fps))  # type: ignore[arg-type]  # a float fps works
    return path


def test_optim(
    optimizer: optax.GradientTransformation,
    test_fn: str | testfns.TestFunction | tuple | Callable = "beale",
    steps: int = 200,
    *,
    domain: Any = None,
    key: jax.Array | None = None,
    plot: bool = True,
    gif: str | Path | None = None,
    gif_fps: float = 10,
    pt_start_color: str = "#5050FF7F",
    pt_end_color: str = "#FF5050FF",
    ln_color: str = "#FF0000FF",
    ln_weight: float = 2,
    bg_xy_breaks: int = 100,
    bg_z_breaks: int = 32,
    bg_palette: str | Sequence[str] = "viridis",
    ct_levels: int | Sequence[float] = 10,
    ct_labels: bool = False,
    ct_color: str = "#FFFFFF7F",
    log_scale: bool = False,
    title: str | None = None,
    xlabel: str = "x",
    ylabel: str = "y",
    figsize: tuple[float, float] = (6, 6),
    dpi: int = 100,
) -> TestOptimResult:
    """Run ``optimizer`` on a 2-D test function and plot its path (R torchopt's ``test_optim``).

    ``optimizer``: any fnn optimizer (``optim.adamw(lr=0.1)``, ``optim.lbfgs()``,
    ``optim.adahessian()``) or optax transformation; it is driven by :func:`fnn.optim.step`
    in one jitted ``lax.scan`` (see :func:`trajectory`). ``test_fn``: a name from
    :func:`fnn.testfns.names`, a :class:`~fnn.testfns.TestFunction`, or ``(fn, domain)``
    for your own ``fn(x, y)``; ``domain=`` (x0, y0, xmin, xmax, ymin, ymax) overrides the
    start point and bounds. ``key``: for optimizers that draw random numbers.

    The figure (torchopt's options and defaults): a heat map of ``f`` on a
    ``bg_xy_breaks`` x ``bg_xy_breaks`` grid over the domain in ``bg_z_breaks`` colours of
    ``bg_palette`` (a matplotlib colormap name or a list of colours); ``ct_levels``
    contour lines (a count, or the levels; 0 for none) in ``ct_color``, labelled if
    ``ct_labels``; the path in ``ln_color`` with width ``ln_weight``; the start and end
    points filled with ``pt_start_color``, ``pt_end_color``. Colours take ``#RRGGBBAA``.
    ``log_scale`` colours by ``log(1 + f - min f)`` (torchopt plots the log of six of its
    functions). The axes span exactly the domain in x *and* y (torchopt reuses the x
    limits for y). Unlike torchopt, the point after the last step is part of the path.

    ``gif=path`` also writes an animated GIF with one frame per step (torchopt's
    ``plot_each_step``). ``plot=False`` skips drawing. Returns a :class:`TestOptimResult`.
    """
    tf = testfns.resolve(test_fn, domain)
    pts, losses = trajectory(optimizer, tf, steps, key)
    style = _Style(pt_start_color, pt_end_color, ln_color, ln_weight, bg_xy_breaks, bg_z_breaks,
                   bg_palette, ct_levels, ct_labels, ct_color, log_scale, title, xlabel, ylabel,
                   figsize, dpi)
    res = TestOptimResult(pts, losses, tf, None, style)
    if plot:
        res.figure = _draw(res)
    if gif is not None:
        res.save_gif(gif, fps=gif_fps)
    return res
