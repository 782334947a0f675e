"""Shared test configuration.

The suite runs with ``jax_enable_x64`` on so that float64 parity against torch can be
checked tightly; float32 checks pass float32 arrays explicitly. torch is a hard test
dependency (``pip install -e .[test]`` pins ``torch==2.13.0``): parity tests must fail,
never skip, where it is missing.
"""

import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=1")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import torch  # noqa: E402,F401  (a missing torch is an error, not a skip)

torch.set_num_threads(1)
