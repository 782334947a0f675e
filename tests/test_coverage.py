"""Every nn.Module of torch.nn and every function of torch.nn.functional / torch.nn.init (in
the installed torch 2.13) has an fnn counterpart of the same name or an excluded reason."""

import torch

from fnn.nn import _coverage


def test_every_torch_nn_name_is_covered_or_excluded():
    cov = _coverage.coverage()
    missing = {kind: rows["missing"] for kind, rows in cov.items() if rows["missing"]}
    assert not missing, (f"torch {torch.__version__} names without an fnn counterpart or an "
                         f"entry in fnn/nn/_coverage.py EXCLUDED: {missing}")
    assert len(cov["nn"]["covered"]) >= 100 and len(cov["functional"]["covered"]) >= 80


def test_exclusion_table_has_no_stale_entries():
    names = _coverage.torch_names()
    for kind, table in _coverage.EXCLUDED.items():
        ns = _coverage._fnn_namespace(kind)
        for name, reason in table.items():
            assert name in names[kind], f"EXCLUDED[{kind!r}] lists {name!r}, not in torch"
            assert not hasattr(ns, name), f"EXCLUDED[{kind!r}] lists {name!r}, which fnn has"
            assert len(reason) > 20, f"EXCLUDED[{kind!r}][{name!r}] needs a real reason"


def test_pending_table_lists_only_unmerged_torch_names():
    """Names other branches are building; once merged they exist and must leave the table."""
    names = _coverage.torch_names()
    for kind, table in _coverage.PENDING_IN_OTHER_BRANCHES.items():
        ns = _coverage._fnn_namespace(kind)
        for name, branch in table.items():
            assert name in names[kind], f"PENDING[{kind!r}] lists {name!r}, not in torch"
            assert not hasattr(ns, name), (f"{name!r} is merged (from {branch}): delete it from "
                                           "PENDING_IN_OTHER_BRANCHES")
            assert name not in _coverage.EXCLUDED[kind]


def test_print_coverage(capsys):
    cov = _coverage.print_coverage()
    text = capsys.readouterr().out
    n = len(cov["nn"]["covered"])
    assert "torch.nn modules" in text and f" {n} / 163" in text
