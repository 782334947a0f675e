"""The import graph of fnn: no cycles, arrows pointing one way, no private imports across packages.

Generic over whatever modules exist (the package is walked on disk), so new subpackages are
checked as they arrive. The layering rule is the table ``FORBIDDEN`` below; the import graph
is read with ``ast`` (imports inside functions count: a lazy import is still an arrow).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "fnn"

# the layers that sit on top: nothing below them may import them
TOP = ("fnn.train", "fnn.parallel", "fnn.explore", "fnn.interop", "fnn.checkpoint")

# (importers, targets they must not import, why)
FORBIDDEN = [
    (("fnn.nn", "fnn.losses"), ("fnn.optim",), "models and losses know nothing of optimizers"),
    (("fnn.optim",), ("fnn.nn", "fnn.losses"), "optimizers know nothing of models and losses"),
    (("<below the top>",), TOP, "train, parallel, explore, interop and checkpoint sit on top"),
]


def _under(mod: str, prefixes: tuple[str, ...]) -> bool:
    return any(mod == p or mod.startswith(p + ".") for p in prefixes)


def _modules() -> dict[str, Path]:
    """Every module of the package: dotted name -> file (packages by their __init__.py)."""
    out = {}
    for f in sorted(PKG.rglob("*.py")):
        parts = list(f.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


MODULES = _modules()


def _imports(mod: str, path: Path) -> list[tuple[str, str, int]]:
    """``(target module, imported name or "", line)`` for every fnn import in ``mod``."""
    is_pkg = path.name == "__init__.py"
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(a.name, "", node.lineno) for a in node.names if a.name.split(".")[0] == "fnn"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                pkg = mod.split(".") if is_pkg else mod.split(".")[:-1]
                pkg = pkg[:len(pkg) - (node.level - 1)]
                base = ".".join(pkg + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base.split(".")[0] != "fnn":
                continue
            for a in node.names:
                sub = f"{base}.{a.name}"
                out.append((sub, "", node.lineno) if sub in MODULES else (base, a.name, node.lineno))
    return out


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def _owner(target: str, name: str) -> str | None:
    """The package a private module or name belongs to (``None`` if nothing is private)."""
    parts = target.split(".") + ([name] if name else [])
    for i, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            owner = ".".join(parts[:i])
            # a private name of a plain module belongs to the module's package
            if owner in MODULES and MODULES[owner].name != "__init__.py":
                owner = owner.rpartition(".")[0]
            return owner
    return None


def test_the_package_is_walked():
    assert {"fnn", "fnn.optim", "fnn.nn", "fnn.train", "fnn.checkpoint"} <= set(MODULES)
    assert len(MODULES) > 50


def test_layering():
    bad = []
    for mod, imports in GRAPH.items():
        for importers, targets, why in FORBIDDEN:
            below_top = importers == ("<below the top>",) and mod != "fnn" and not _under(mod, TOP)
            if not (below_top or _under(mod, importers)):
                continue
            bad += [f"{mod}:{line} imports {t} ({why})" for t, _, line in imports
                    if _under(t, targets)]
    assert not bad, "\n".join(bad)


def test_no_private_imports_across_packages():
    bad = []
    for mod, imports in GRAPH.items():
        for target, name, line in imports:
            owner = _owner(target, name)
            if owner is not None and not _under(mod, (owner,)):
                bad.append(f"{mod}:{line} imports the private {target}{'.' + name if name else ''} "
                           f"of {owner}")
    assert not bad, "\n".join(bad)


def test_no_import_cycles():
    edges = {m: sorted({t for t, _, _ in imports if t in MODULES and t != m})
             for m, imports in GRAPH.items()}
    # a package's __init__ importing its own submodules is how packages work, not a cycle:
    # drop submodule -> ancestor-package edges when the package only re-exports
    state: dict[str, int] = {}
    cycles = []

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for t in edges[m]:
            if _under(m, (t,)):  # importing an enclosing package (fnn.optim from fnn.optim.x)
                continue
            if state.get(t) == 1:
                cycles.append(" -> ".join(stack[stack.index(t):] + [t]))
            elif t not in state:
                visit(t, stack + [t])
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m, [m])
    assert not cycles, "\n".join(cycles)


@pytest.mark.parametrize("order", ["sorted", "reversed"])
def test_every_module_imports_in_a_fresh_interpreter(order):
    names = sorted(MODULES)
    if order == "reversed":
        names = names[::-1]
    code = ("import importlib, sys\n"
            f"for name in {names!r}:\n"
            "    importlib.import_module(name)\n"
            "print(len(sys.modules))\n")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=300, env={"PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu",
                                           "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr[-3000:]
    assert int(run.stdout.split()[-1]) > len(names)
