"""Generate one API page per public module of ``fnn``, at every build.

Every module whose dotted name has no ``_``-prefixed part (``fnn.optim.sgd``, not
``fnn.optim._engine``) gets ``api/<module>.rst``: its docstring, a summary table of its
public names, and the full documentation of the names whose home it is. A name's home is
the public module that defines it; names defined in a private module (``fnn.optim._engine``)
are documented in the shallowest public module that exports them (``fnn.optim``). Other
public modules that re-export a name only list it in their table, linked to its home, so
nothing is documented twice. New modules get pages without editing the docs.

A module's public names are its ``__all__``, or, without one, the functions and classes it
defines whose names do not start with ``_``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path
from types import ModuleType
from typing import Any

PACKAGE = "fnn"
OUT = "api"  # relative to the Sphinx source directory; generated, not committed


def _is_public(modname: str) -> bool:
    return not any(part.startswith("_") for part in modname.split("."))


def public_modules(package: str = PACKAGE) -> list[str]:
    """Every public module of ``package``, parents before children."""
    root = importlib.import_module(package)
    names = [package]
    for info in pkgutil.walk_packages(root.__path__, package + "."):
        if _is_public(info.name):
            names.append(info.name)
    return sorted(names, key=lambda n: (n.count("."), n))


def public_names(module: ModuleType) -> list[str]:
    """``__all__``, or the public functions and classes defined in ``module``."""
    names = getattr(module, "__all__", None)
    if names is not None:
        return list(names)
    return [n for n, obj in vars(module).items()
            if not n.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj))
            and getattr(obj, "__module__", None) == module.__name__]


def _home(obj: Any) -> str | None:
    home = getattr(obj, "__module__", None)
    if not isinstance(home, str) or not (inspect.isfunction(obj) or inspect.isclass(obj)
                                         or callable(obj)):
        return None
    return home


def _public_path(obj: Any, home: str, name: str) -> str:
    """``optax.apply_updates`` rather than ``optax._src.update.apply_updates``."""
    top = importlib.import_module(home.split(".")[0])
    qualname = getattr(obj, "__qualname__", name)
    return f"{top.__name__}.{qualname}" if getattr(top, qualname, None) is obj else f"{home}.{qualname}"


def _directive(obj: Any) -> str:
    if inspect.isclass(obj):
        return "autoclass"
    if callable(obj):
        return "autofunction"
    return "autodata"


def _has_own_doc(modname: str, name: str, obj: Any) -> bool:
    """Whether autodoc would show ``obj``'s own docs, not its type's (a dict's, a partial's).

    Functions and classes have their own; other objects need a ``__doc__`` of their own or
    a ``#:`` doc comment where they are assigned.
    """
    if inspect.isclass(obj) or inspect.isroutine(obj):
        return True
    doc = getattr(obj, "__doc__", None)
    if doc and doc != getattr(type(obj), "__doc__", None):
        return True
    try:  # a `#:` comment (only Sphinx reads them)
        from sphinx.pycode import ModuleAnalyzer

        return ("", name) in ModuleAnalyzer.for_module(modname).find_attr_docs()
    except Exception:  # no Sphinx here, or no source to read
        return False


def _entry(modname: str, name: str, obj: Any) -> str:
    """The directive documenting ``modname.name``."""
    if _has_own_doc(modname, name, obj):
        return f".. {_directive(obj)}:: {modname}.{name}\n"
    # no docs of its own: its name and type only (autodoc would print its type's docstring)
    return f".. py:data:: {modname}.{name}\n   :type: {type(obj).__name__}\n"


def plan(modules: list[str]) -> dict[str, tuple[list[str], list[tuple[str, Any]]]]:
    """For each module: (summary targets, [(name, obj) documented on its page])."""
    documented: dict[int, str] = {}  # id(obj) -> "module.name" where it is documented
    # a public module is the home of the names it defines and exports
    exported = {m: set(public_names(importlib.import_module(m))) for m in modules}
    result: dict[str, tuple[list[str], list[tuple[str, Any]]]] = {}
    for modname in modules:
        module = importlib.import_module(modname)
        summary: list[str] = []
        here: list[tuple[str, Any]] = []
        for name in public_names(module):
            obj = getattr(module, name)
            if inspect.ismodule(obj):
                continue  # a submodule: listed in the toctree
            home = _home(obj)
            if home is None or home == modname:
                here.append((name, obj))
                if _has_own_doc(modname, name, obj):  # autosummary would show its type's doc
                    summary.append(name)
            elif getattr(obj, "__name__", name) in exported.get(home, ()):
                summary.append(f"{home}.{getattr(obj, '__qualname__', name)}")
            elif home.split(".")[0] == PACKAGE and id(obj) not in documented:
                documented[id(obj)] = f"{modname}.{name}"
                here.append((name, obj))
                summary.append(name)
            elif home.split(".")[0] == PACKAGE:
                summary.append(documented[id(obj)])
            else:  # defined outside fnn (optax.apply_updates): listed, not documented
                summary.append(_public_path(obj, home, name))
        result[modname] = (summary, here)
    return result


def _title(text: str) -> str:
    return f"{text}\n{'=' * len(text)}\n"


def render(modname: str, summary: list[str], here: list[tuple[str, Any]],
           children: list[str]) -> str:
    lines = [_title(f"``{modname}``"), f".. automodule:: {modname}", "   :no-members:", ""]
    if summary:
        lines += [".. autosummary::", "   :nosignatures:", ""]
        # names under this module are relative (autosummary's rule), the others absolute
        lines += [f"   ~{t.removeprefix(modname + '.')}" for t in summary]
        lines.append("")
    if children:
        lines += [".. toctree::", "   :maxdepth: 1", "   :caption: Submodules", ""]
        lines += [f"   {child}" for child in children]
        lines.append("")
    lines += [_entry(modname, name, obj) for name, obj in here]
    return "\n".join(lines)


def generate(srcdir: str | Path) -> list[Path]:
    """Write ``api/index.rst`` and one page per public module; return the files written."""
    out = Path(srcdir) / OUT
    out.mkdir(exist_ok=True)
    modules = public_modules()
    pages = {f"{m}.rst": render(m, *plan_entry, children=[
        c for c in modules if c.rpartition(".")[0] == m])
        for m, plan_entry in plan(modules).items()}
    pages["index.rst"] = "\n".join([
        _title("API reference"),
        "One page per public module of ``fnn``, generated from the docstrings at every "
        "build. Names re-exported by a package (``fnn.optim.adam``, ``fnn.nn.Linear``) are "
        "listed on the package's page and documented on the page of the module that "
        "defines them.", "",
        ".. toctree::", "   :maxdepth: 2", "", f"   {PACKAGE}", ""])
    written = []
    for old in out.glob("*.rst"):
        if old.name not in pages:
            old.unlink()
    for fname, text in pages.items():
        path = out / fname
        if not path.exists() or path.read_text() != text:  # keep unchanged pages' mtimes
            path.write_text(text)
            written.append(path)
    return written


def _on_builder_inited(app: Any) -> None:
    generate(app.srcdir)


def setup(app: Any) -> dict[str, Any]:
    app.connect("builder-inited", _on_builder_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
