"""Interoperability with other frameworks: :mod:`fnn.interop.torch` (torch is imported lazily)."""
