"""No function in fnn/ longer than ~80 lines (docstring excluded) unless listed with a reason.

Long functions hide several jobs; split them so each reads top to bottom on one screen. A
function that really must be long goes into ``ALLOWED`` with the reason, and says the same
in its docstring.
"""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "fnn"
LIMIT = 80

# "module.path:function" -> why it may be longer than LIMIT
ALLOWED: dict[str, str] = {}


def _code_lines(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines from the signature to the end, less the docstring's."""
    n = fn.end_lineno - fn.lineno + 1
    first = fn.body[0]
    if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)):
        n -= first.end_lineno - first.lineno + 1
    return n


def _long_functions() -> dict[str, int]:
    out = {}
    for f in sorted(PKG.rglob("*.py")):
        mod = ".".join(f.relative_to(PKG.parent).with_suffix("").parts)
        for node in ast.walk(ast.parse(f.read_text(), str(f))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = _code_lines(node)
                if n > LIMIT:
                    out[f"{mod}:{node.name}"] = n
    return out


def test_no_function_over_the_limit_without_a_reason():
    long = _long_functions()
    unexplained = {k: n for k, n in long.items() if k not in ALLOWED}
    assert not unexplained, (f"functions over {LIMIT} lines (split them, or list them in "
                             f"ALLOWED with a reason): {unexplained}")
    stale = sorted(set(ALLOWED) - set(long))
    assert not stale, f"ALLOWED entries that are no longer long: {stale}"


def test_the_count_excludes_docstrings():
    fn = ast.parse('def f():\n    """a\n\n    b\n    """\n    return 1\n').body[0]
    assert _code_lines(fn) == 2
