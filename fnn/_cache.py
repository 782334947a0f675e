"""``fnn.enable_compilation_cache``: an opt-in persistent JAX compilation cache."""

from __future__ import annotations

import os
from pathlib import Path

import jax

__all__ = ["enable_compilation_cache", "default_cache_dir"]


def default_cache_dir() -> Path:
    """``$FNN_CACHE_DIR``, else ``$XDG_CACHE_HOME/fnn/jax``, else ``~/.cache/fnn/jax``."""
    env = os.environ.get("FNN_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "fnn" / "jax"


def enable_compilation_cache(path: str | os.PathLike | None = None) -> Path:
    """Keep compiled XLA programs on disk so that later processes skip compilation.

    JAX compiles every jitted function on its first call (0.2-2 s for a training step on
    CPU, often more than a short training run itself). With the cache on, a second run of
    the same script loads the compiled programs instead. Unlike JAX's defaults, every
    program is cached however small or fast to compile (minimum compile time 0 s, no
    minimum entry size), since on CPU it is the many small programs that add up.

    ``path``: the cache directory (created if needed); default :func:`default_cache_dir`.
    Returns the directory used. Call it once, early (before the first compilation is
    best; calling it later resets JAX's cache state so that it takes effect from then on).
    Only the user should write to the directory: JAX trusts what it finds there.

    torch has no equivalent (``torch.compile`` keeps its own inductor cache).
    """
    cache = Path(path).expanduser() if path is not None else default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(cache))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    from jax.experimental.compilation_cache import compilation_cache

    compilation_cache.reset_cache()  # JAX decides once per process whether the cache is used
    return cache
