"""Two-dimensional test functions for optimizers, with their domains and known minima.

Each entry of :data:`FUNCTIONS` is a :class:`TestFunction`: a pure function ``f(x, y)`` on
JAX arrays (element-wise, so it evaluates a whole grid at once, and is differentiable and
jit-able), a :class:`Domain` (start point and plot bounds) and the known global minima::

    from fnn import testfns
    beale = testfns.get("beale")
    beale(3.0, 0.5)                      # 0.0, the global minimum
    beale.domain                         # Domain(x0=1.0, y0=1.5, xmin=-4.5, ...)

Bring your own with ``TestFunction("mine", f, Domain(x0=..., y0=..., xmin=..., ...))``.
The functions are the standard ones (Surjanovic & Bingham's Virtual Library of Simulation
Experiments; Jamil & Yang, "A literature survey of benchmark functions for global
optimization problems", 2013). The R package torchopt optimises and plots the logarithm
of six of them (beale, booth, goldstein_price, himmelblau, matyas, rosenbrock); that
variant is an option here (:meth:`TestFunction.log`), not the function. Unlike torchopt,
fnn's start points are fixed (not drawn at random), and its ``beale`` is the standard one
(minimum 0 at (3, 0.5)).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import jax.numpy as jnp
import numpy as np

__all__ = ["Domain", "TestFunction", "FUNCTIONS", "get", "names", "resolve",
           "ackley", "beale", "booth", "bukin_n6", "easom", "goldstein_price", "himmelblau",
           "levi_n13", "matyas", "rastrigin", "rosenbrock", "sphere", "flower"]

PI = math.pi


@dataclass(frozen=True)
class Domain:
    """Start point ``(x0, y0)`` and the rectangle ``[xmin, xmax] x [ymin, ymax]`` to plot."""

    x0: float
    y0: float
    xmin: float
    xmax: float
    ymin: float
    ymax: float

    def __post_init__(self) -> None:
        for name in ("x0", "y0", "xmin", "xmax", "ymin", "ymax"):
            value = getattr(self, name)
            if isinstance(value, (bool, str)) or not (isinstance(value, numbers.Real) or (
                    hasattr(value, "dtype") and np.ndim(value) == 0)):
                raise TypeError(f"Domain: {name} must be a number, got {value!r}")
        if not (self.xmin < self.xmax and self.ymin < self.ymax):
            raise ValueError(f"Domain: need xmin < xmax and ymin < ymax, got x in "
                             f"[{self.xmin}, {self.xmax}], y in [{self.ymin}, {self.ymax}]")

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any]) -> Domain:
        """A Domain from a dict with keys ``x0, y0, xmin, xmax, ymin, ymax`` (torchopt's
        ``domain_fn()`` vector, by name)."""
        missing_start = [k for k in ("x0", "y0") if k not in d]
        if missing_start:
            raise ValueError(f"the domain has no start point: missing {missing_start} in "
                             f"{dict(d)} (a domain needs x0, y0, xmin, xmax, ymin, ymax)")
        missing = [k for k in ("xmin", "xmax", "ymin", "ymax") if k not in d]
        if missing:
            raise ValueError(f"the domain has no bounds {missing}: got {dict(d)} "
                             "(a domain needs x0, y0, xmin, xmax, ymin, ymax)")
        return cls(**{k: float(d[k]) for k in ("x0", "y0", "xmin", "xmax", "ymin", "ymax")})


@dataclass(frozen=True)
class TestFunction:
    """A 2-D test function ``fn(x, y)``, its :class:`Domain` and its known global minima.

    ``minima``: the points where the global minimum ``f_min`` is attained (or approached,
    for ``flower``). Call it as ``tf(x, y)``.
    """

    __test__ = False  # not a pytest test class

    name: str
    fn: Callable[[Any, Any], Any]
    domain: Domain
    minima: tuple[tuple[float, float], ...] = ()
    f_min: float | None = None
    note: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise TypeError(f"TestFunction {self.name!r}: fn must be callable f(x, y), got "
                            f"{type(self.fn).__name__}")
        if not isinstance(self.domain, Domain):
            raise TypeError(f"TestFunction {self.name!r}: domain must be a Domain (see "
                            f"Domain.from_mapping), got {type(self.domain).__name__}")

    def __call__(self, x: Any, y: Any) -> Any:
        return self.fn(x, y)

    def log(self) -> TestFunction:
        """torchopt's log-scaled variant ``log f(x, y)`` (for functions with ``f > 0`` off
        their minima; the minimum becomes ``log f_min``, ``-inf`` where ``f_min = 0``)."""
        fn = self.fn
        f_min = None if self.f_min is None else (math.log(self.f_min) if self.f_min > 0
                                                 else -math.inf)
        return replace(self, name=f"log_{self.name}", fn=lambda x, y: jnp.log(fn(x, y)),
                       f_min=f_min)


def ackley(x, y):
    r""":math:`-20 e^{-0.2\sqrt{(x^2+y^2)/2}} - e^{(\cos 2\pi x + \cos 2\pi y)/2} + e + 20`;
    minimum 0 at (0, 0) (gradient 0 there: the cone's subgradient)."""
    s = 0.5 * (x * x + y * y)
    safe = jnp.where(s > 0, s, 1.0)
    r = jnp.where(s > 0, jnp.sqrt(safe), 0.0)  # sqrt with a finite gradient at 0
    return (-20.0 * jnp.exp(-0.2 * r) - jnp.exp(0.5 * (jnp.cos(2 * PI * x) + jnp.cos(2 * PI * y)))
            + math.e + 20.0)


def beale(x, y):
    r""":math:`(1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2`; minimum 0 at (3, 0.5)."""
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


def booth(x, y):
    r""":math:`(x + 2y - 7)^2 + (2x + y - 5)^2`; minimum 0 at (1, 3)."""
    return (x + 2 * y - 7) ** 2 + (2 * x + y - 5) ** 2


def bukin_n6(x, y):
    r""":math:`100\sqrt{|y - 0.01x^2|} + 0.01|x + 10|`; minimum 0 at (-10, 1) (not
    differentiable there)."""
    return 100.0 * jnp.sqrt(jnp.abs(y - 0.01 * x**2)) + 0.01 * jnp.abs(x + 10)


def easom(x, y):
    r""":math:`-\cos x \cos y\, e^{-(x-\pi)^2 - (y-\pi)^2}`; minimum -1 at (pi, pi)."""
    return -jnp.cos(x) * jnp.cos(y) * jnp.exp(-((x - PI) ** 2) - (y - PI) ** 2)


def goldstein_price(x, y):
    r""":math:`[1 + (x+y+1)^2(19 - 14x + 3x^2 - 14y + 6xy + 3y^2)]
    [30 + (2x-3y)^2(18 - 32x + 12x^2 + 48y - 36xy + 27y^2)]`; minimum 3 at (0, -1)."""
    a = 1 + (x + y + 1) ** 2 * (19 - 14 * x + 3 * x**2 - 14 * y + 6 * x * y + 3 * y**2)
    b = 30 + (2 * x - 3 * y) ** 2 * (18 - 32 * x + 12 * x**2 + 48 * y - 36 * x * y + 27 * y**2)
    return a * b


def himmelblau(x, y):
    r""":math:`(x^2 + y - 11)^2 + (x + y^2 - 7)^2`; minimum 0 at four points."""
    return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2


def levi_n13(x, y):
    r""":math:`\sin^2 3\pi x + (x-1)^2(1 + \sin^2 3\pi y) + (y-1)^2(1 + \sin^2 2\pi y)`;
    minimum 0 at (1, 1)."""
    return (jnp.sin(3 * PI * x) ** 2 + (x - 1) ** 2 * (1 + jnp.sin(3 * PI * y) ** 2)
            + (y - 1) ** 2 * (1 + jnp.sin(2 * PI * y) ** 2))


def matyas(x, y):
    r""":math:`0.26(x^2 + y^2) - 0.48xy`; minimum 0 at (0, 0)."""
    return 0.26 * (x**2 + y**2) - 0.48 * x * y


def rastrigin(x, y):
    r""":math:`20 + x^2 - 10\cos 2\pi x + y^2 - 10\cos 2\pi y`; minimum 0 at (0, 0)."""
    return 20.0 + (x**2 - 10 * jnp.cos(2 * PI * x)) + (y**2 - 10 * jnp.cos(2 * PI * y))


def rosenbrock(x, y):
    r""":math:`100(y - x^2)^2 + (1 - x)^2`; minimum 0 at (1, 1)."""
    return 100.0 * (y - x**2) ** 2 + (1 - x) ** 2


def sphere(x, y):
    r""":math:`x^2 + y^2`; minimum 0 at (0, 0)."""
    return x**2 + y**2


def flower(x, y, a: float = 1.0, b: float = 1.0, c: float = 4.0):
    r"""The torchopt post's flower: :math:`a\sqrt{x^2+y^2} + b\sin(c\,\operatorname{atan2}(y, x))`
    (a=1, b=1, c=4). Its infimum -b is approached towards the origin along the four petal
    valleys (:math:`\sin 4\theta = -1`) but not attained: f is undefined at (0, 0)."""
    return a * jnp.sqrt(x**2 + y**2) + b * jnp.sin(c * jnp.arctan2(y, x))


def _tf(fn, start, box, minima, f_min, note=""):
    return TestFunction(fn.__name__, fn, Domain(*start, *box), tuple(minima), f_min, note)


#: name -> TestFunction, with fixed start points inside (or, for flower, far outside) the box
FUNCTIONS: dict[str, TestFunction] = {t.name: t for t in (
    _tf(ackley, (-4.0, 3.5), (-5, 5, -5, 5), [(0, 0)], 0.0),
    _tf(beale, (1.0, 1.5), (-4.5, 4.5, -4.5, 4.5), [(3, 0.5)], 0.0),
    _tf(booth, (-8.0, -6.0), (-10, 10, -10, 10), [(1, 3)], 0.0),
    _tf(bukin_n6, (-7.0, 2.0), (-15, -5, -3, 3), [(-10, 1)], 0.0, "not differentiable at the minimum"),
    _tf(easom, (1.5, 4.5), (-1, 7, -1, 7), [(PI, PI)], -1.0),
    _tf(goldstein_price, (1.5, -2.5), (-2, 2, -3, 1), [(0, -1)], 3.0),
    _tf(himmelblau, (-0.5, -0.5), (-5, 5, -5, 5),
        [(3, 2), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126)], 0.0,
        "three of the four minima are known to 6 decimals"),
    _tf(levi_n13, (-3.0, 5.0), (-5, 7, -5, 7), [(1, 1)], 0.0),
    _tf(matyas, (8.0, -6.0), (-10, 10, -10, 10), [(0, 0)], 0.0),
    _tf(rastrigin, (3.2, -2.7), (-5.12, 5.12, -5.12, 5.12), [(0, 0)], 0.0),
    _tf(rosenbrock, (-2.0, 2.0), (-2, 2, -1, 3), [(1, 1)], 0.0),
    _tf(sphere, (1.5, -1.8), (-2, 2, -2, 2), [(0, 0)], 0.0),
    _tf(flower, (20.0, 20.0), (-3, 3, -3, 3), [(0, 0)], -1.0,
        "infimum approached towards the origin, not attained; undefined at (0, 0)"),
)}


def names() -> list[str]:
    """The built-in test functions' names, sorted."""
    return sorted(FUNCTIONS)


def get(name: str) -> TestFunction:
    """The built-in test function ``name``; a clear error listing the valid names otherwise."""
    if name not in FUNCTIONS:
        raise ValueError(f"unknown test function {name!r}; valid names: {', '.join(names())} "
                         "(or pass a TestFunction, or a pair (fn, domain))")
    return FUNCTIONS[name]


def resolve(test_fn: str | TestFunction | tuple | Callable, domain: Any = None) -> TestFunction:
    """Turn what a user passes into a :class:`TestFunction`.

    Accepts a name, a :class:`TestFunction`, a pair ``(fn, domain)`` (torchopt's
    ``list(fn, domain_fn)``), or a bare ``fn`` with ``domain=``. A domain is a
    :class:`Domain`, a mapping with ``x0, y0, xmin, xmax, ymin, ymax``, or a callable
    returning one; ``domain=`` also overrides a named function's domain.
    """
    if isinstance(test_fn, tuple):
        if len(test_fn) != 2:
            raise ValueError(f"test_fn as a tuple must be (fn, domain), got {len(test_fn)} items")
        pair = test_fn
        test_fn, domain = pair[0], domain if domain is not None else pair[1]
    if isinstance(test_fn, str):
        tf = get(test_fn)
    elif isinstance(test_fn, TestFunction):
        tf = test_fn
    elif callable(test_fn):
        if domain is None:
            raise ValueError("a custom test function needs a domain: pass test_fn=(fn, domain) "
                             "or domain=dict(x0=..., y0=..., xmin=..., xmax=..., ymin=..., ymax=...)")
        tf = TestFunction(getattr(test_fn, "__name__", "custom"), test_fn, _domain(domain))
        return tf
    else:
        raise TypeError(f"test_fn must be a name ({', '.join(names())}), a TestFunction, or "
                        f"(fn, domain); got {type(test_fn).__name__}")
    return tf if domain is None else replace(tf, domain=_domain(domain))


def _domain(d: Any) -> Domain:
    if callable(d) and not isinstance(d, Domain):
        d = d()
    if isinstance(d, Domain):
        return d
    if isinstance(d, Mapping):
        return Domain.from_mapping(d)
    if isinstance(d, (tuple, list, np.ndarray)):  # torchopt's domain_fn() vector
        vals = [float(v) for v in np.ravel(np.asarray(d, dtype=float))]
        if len(vals) == 4:
            raise ValueError(f"the domain has no start point: got the 4 values {vals} "
                             "(a domain is x0, y0, xmin, xmax, ymin, ymax)")
        if len(vals) != 6:
            raise ValueError(f"a domain is the 6 values x0, y0, xmin, xmax, ymin, ymax; got "
                             f"{len(vals)}: {vals}")
        return Domain(*vals)
    raise TypeError(f"a domain must be a Domain, a mapping with x0, y0, xmin, xmax, ymin, "
                    f"ymax, or those 6 values in that order; got {type(d).__name__}")
