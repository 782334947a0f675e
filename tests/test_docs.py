"""The API reference's inputs: every public module and name has a docstring, and the page
generator (``docs/_ext/fnn_apigen.py``) documents each public name exactly once.

The Sphinx build itself (warnings as errors) and ``mypy`` run in CI (``.ci/run``), not here.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs" / "_ext"))
import fnn_apigen  # noqa: E402

MODULES = fnn_apigen.public_modules()


def test_the_public_modules_are_found():
    for name in ("fnn", "fnn.nn", "fnn.nn.functional", "fnn.nn.init", "fnn.losses",
                 "fnn.optim", "fnn.optim.lr_scheduler", "fnn.optim.adam", "fnn.train"):
        assert name in MODULES, name
    assert not [m for m in MODULES if "._" in m]  # private modules get no page


def _own_doc(obj):
    """The object's own docstring (a class does not inherit its base's here)."""
    doc = vars(obj).get("__doc__") if inspect.isclass(obj) else getattr(obj, "__doc__", None)
    return (doc or "").strip()


@pytest.mark.parametrize("modname", MODULES)
def test_every_public_name_has_a_docstring(modname):
    module = importlib.import_module(modname)
    assert _own_doc(module), f"module {modname} has no docstring"
    names = fnn_apigen.public_names(module)
    undocumented = [n for n in names if not inspect.ismodule(getattr(module, n))
                    and callable(getattr(module, n)) and not _own_doc(getattr(module, n))]
    assert not undocumented, f"{modname}: no docstring for {undocumented}"


def test_each_public_name_is_documented_once_and_listed_where_exported():
    plan = fnn_apigen.plan(MODULES)
    seen: dict[int, str] = {}
    for modname, (summary, here) in plan.items():
        for name, obj in here:
            where = f"{modname}.{name}"
            assert id(obj) not in seen, f"{where} is also documented as {seen[id(obj)]}"
            seen[id(obj)] = where
        module = importlib.import_module(modname)
        exported = [n for n in fnn_apigen.public_names(module)
                    if not inspect.ismodule(getattr(module, n))]
        listed = [n for n in exported if callable(getattr(module, n))]
        assert len(listed) <= len(summary) <= len(exported), modname
    # a re-exported name is documented where it is defined: fnn.optim.adam, not fnn.optim
    assert "fnn.optim.adam.adam" in seen.values()
    assert "fnn.nn.linear.Linear" in seen.values()
    assert "fnn.optim.Rule" in seen.values()  # defined in the private fnn.optim._engine
