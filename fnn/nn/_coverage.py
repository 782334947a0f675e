"""How much of ``torch.nn`` fnn covers, and why the rest is left out.

Counted: every ``nn.Module`` subclass exported by ``torch.nn``, every public function of
``torch.nn.functional`` and of ``torch.nn.init`` (classes and ``typing`` names excluded). Each
needs a counterpart of the same name in ``fnn.nn`` / ``fnn.nn.functional`` / ``fnn.nn.init``
or an entry in :data:`EXCLUDED` with the reason. ``tests/test_coverage.py`` enforces this
against the installed torch; :func:`print_coverage` prints the numbers (needs torch).
"""

from __future__ import annotations

from typing import Any

__all__ = ["EXCLUDED", "PENDING_IN_OTHER_BRANCHES", "torch_names", "coverage", "print_coverage"]

_INPLACE = "in-place variant: JAX arrays are immutable (use the out-of-place function)"
_DISPATCH = "torch-function dispatch plumbing (__torch_function__ overrides), not an op"
_DEPRECATED_INIT = ("deprecated alias of the trailing-underscore initializer (torch warns); "
                    "fnn.nn.init has the underscore name")

# namespace -> {torch name: why fnn has no counterpart}
EXCLUDED: dict[str, dict[str, str]] = {
    "nn": {
        "Container": "deprecated since torch 0.4 (all of it is in nn.Module)",
        "DataParallel": "single-process data parallelism: fnn.parallel (meshes and sharded "
                        "jitted steps) replaces it",
        "NLLLoss2d": "deprecated alias of NLLLoss (which takes (N, C, H, W) inputs)",
    },
    "functional": {
        **{n: _INPLACE for n in ("celu_", "elu_", "hardtanh_", "leaky_relu_", "relu_", "rrelu_",
                                 "selu_", "threshold_")},
        **{n: _DISPATCH for n in ("handle_torch_function", "has_torch_function",
                                  "has_torch_function_unary", "has_torch_function_variadic")},
        "boolean_dispatch": "TorchScript helper choosing between two functions on a bool "
                            "argument (e.g. return_indices), not an op",
        "assert_int_or_pair": "internal argument-check helper of torch.nn.functional",
        "scaled_mm": "float8 matmul with CUDA scaling recipes and swizzles (quantization "
                     "plumbing for cuBLAS/CUTLASS kernels)",
        "scaled_grouped_mm": "float8 grouped matmul with CUDA scaling recipes (quantization "
                             "plumbing for CUTLASS kernels)",
    },
    "init": {n: _DEPRECATED_INIT for n in (
        "uniform", "normal", "constant", "eye", "dirac", "xavier_uniform", "xavier_normal",
        "kaiming_uniform", "kaiming_normal", "orthogonal", "sparse")},
}

# Names being built on other branches: allowed while those branches are unmerged (empty
# once everything is merged; kept so the test's "stale pending entry" check has a place).
PENDING_IN_OTHER_BRANCHES: dict[str, dict[str, str]] = {"nn": {}, "functional": {}, "init": {}}


def torch_names() -> dict[str, list[str]]:
    """The public names of the installed torch that fnn should cover, by namespace."""
    import torch.nn
    import torch.nn.functional
    import torch.nn.init

    def functions(mod: Any) -> list[str]:
        out = []
        for name in dir(mod):
            obj = getattr(mod, name)
            if (name.startswith("_") or not callable(obj) or isinstance(obj, type)
                    or getattr(obj, "__module__", "") == "typing"):
                continue
            out.append(name)
        return sorted(out)

    modules = sorted(n for n in dir(torch.nn) if not n.startswith("_")
                     and isinstance(getattr(torch.nn, n), type)
                     and issubclass(getattr(torch.nn, n), torch.nn.Module))
    return {"nn": modules, "functional": functions(torch.nn.functional),
            "init": functions(torch.nn.init)}


def _fnn_namespace(kind: str) -> Any:
    import fnn.nn
    import fnn.nn.functional
    import fnn.nn.init
    return {"nn": fnn.nn, "functional": fnn.nn.functional, "init": fnn.nn.init}[kind]


def coverage() -> dict[str, dict[str, list[str]]]:
    """Per namespace: torch's names split into ``covered`` (same name in fnn), ``excluded``
    (in :data:`EXCLUDED`), ``pending`` (being built on another branch) and ``missing``."""
    out = {}
    for kind, names in torch_names().items():
        ns = _fnn_namespace(kind)
        rows: dict[str, list[str]] = {"covered": [], "excluded": [], "pending": [], "missing": []}
        for name in names:
            if hasattr(ns, name):
                rows["covered"].append(name)
            elif name in EXCLUDED[kind]:
                rows["excluded"].append(name)
            elif name in PENDING_IN_OTHER_BRANCHES[kind]:
                rows["pending"].append(name)
            else:
                rows["missing"].append(name)
        out[kind] = rows
    return out


def print_coverage() -> dict[str, dict[str, list[str]]]:
    """Print how many of torch's ``nn`` modules, ``functional`` and ``init`` functions fnn
    has (``python -c "from fnn.nn._coverage import print_coverage; print_coverage()"``)."""
    import torch

    cov = coverage()
    titles = {"nn": "torch.nn modules", "functional": "torch.nn.functional functions",
              "init": "torch.nn.init functions"}
    print(f"fnn coverage of torch {torch.__version__}:")
    for kind, rows in cov.items():
        total = sum(len(v) for v in rows.values())
        line = (f"  {titles[kind]:<31} {len(rows['covered']):>4} / {total:<4} covered, "
                f"{len(rows['excluded'])} excluded with a reason")
        if rows["pending"]:
            line += f", {len(rows['pending'])} pending on other branches"
        if rows["missing"]:
            line += f", MISSING: {', '.join(rows['missing'])}"
        print(line)
    return cov
