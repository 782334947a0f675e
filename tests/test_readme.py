"""The README's promises: its quickstart runs and trains, its commands name real files and extras."""

from __future__ import annotations

import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_quickstart_runs_and_trains():
    """The first code block defines a model, an optimizer and a jitted train step: run it
    on the posts' regression data and check the loss falls as the post's does."""
    ns: dict = {}
    exec(compile(_python_blocks()[0], "README quickstart", "exec"), ns)
    kx, ke = jax.random.split(jax.random.key(1))
    x = jax.random.normal(kx, (100, 3))
    y = x @ jnp.array([[0.2], [-1.3], [-0.5]]) + jax.random.normal(ke, (100, 1))
    params, state = ns["params"], ns["state"]
    losses = []
    for _ in range(200):
        params, state, loss = ns["train_step"](params, state, x, y)
        losses.append(float(loss))
    assert np.isfinite(losses).all()
    assert losses[-1] < 0.5 * losses[0], (losses[0], losses[-1])
    assert set(params) == {"0", "2"} and params["0"]["weight"].shape == (32, 3)


def test_the_two_commands_use_real_extras_and_files():
    pyproject = (ROOT / "pyproject.toml").read_text()
    section = pyproject.split("[project.optional-dependencies]", 1)[1].split("\n[", 1)[0]
    extras = {m.group(1): m.group(2) for m in re.finditer(r"^(\w+) = \[(.*?)^\]", section,
                                                          flags=re.S | re.M)}
    commands = re.findall(r"```bash\n(.*?)\n```", README, flags=re.S)
    main_job = next(c for c in commands if "examples/cnn.py" in c)
    tests = next(c for c in commands if "pytest" in c)
    for cmd in (main_job, tests):
        assert cmd.startswith("python3 -m venv .venv && . .venv/bin/activate && pip install -e ")
        extra = re.search(r'pip install -e "\.\[(\w+)\]"', cmd).group(1)
        assert extra in extras, extra
    assert "torch==2.13.0" in extras["test"]
    assert (ROOT / "examples" / "cnn.py").is_file()
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'pip install -q -e ".[test]"' in ci and "python -m pytest" in ci


def test_files_the_readme_links_exist():
    for path in set(re.findall(r"`((?:examples|notebooks)/[\w./-]+\.(?:py|ipynb))`", README)):
        assert (ROOT / path).is_file(), path
