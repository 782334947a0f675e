"""Sphinx configuration: the API reference of fnn, built from its docstrings.

Build: ``python -m sphinx -W --keep-going -b html docs docs/_build/html`` (CI runs it).
One page per public module is generated at every build by ``_ext/fnn_apigen.py``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))  # the checkout's fnn, also without an install
os.environ.setdefault("JAX_PLATFORMS", "cpu")  # importing fnn needs no accelerator

import fnn  # noqa: E402

project = "fnn"
author = "the fnn authors"
copyright = "the fnn authors"
version = release = fnn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_parser",
    "fnn_apigen",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_ext"]
templates_path: list[str] = []

# -- autodoc / napoleon: Google ("Args:") and numpy ("Parameters\n----------") docstrings
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True  # show `lr=1e-3`, not a float's repr
autoclass_content = "both"  # class docstring + __init__'s
autodoc_inherit_docstrings = False  # a layer's init_params shows its own doc, or none
autosummary_generate = False  # the pages are written by fnn_apigen, not by autosummary
napoleon_google_docstring = True
napoleon_numpy_docstring = True
napoleon_use_rtype = False
python_maximum_signature_line_length = 88  # long signatures: one parameter per line

# Cross-references to names outside fnn (jax.Array, optax.GradientTransformation) are not
# resolved (no intersphinx: the build must not need the network); they stay plain text.
nitpicky = False

myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3
# The README's sections are included as they are: their heading levels are the README's
# (an H4 under an H2 there is not an error here).
suppress_warnings = ["myst.header"]

html_theme = "alabaster"
html_title = f"fnn {release}"
html_static_path: list[str] = []
html_theme_options = {"description": "torch.nn and torch.optim, exactly, on JAX",
                      "fixed_sidebar": True}
