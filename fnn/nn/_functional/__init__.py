"""Implementation files of ``fnn.nn.functional``, one per family of operations."""
