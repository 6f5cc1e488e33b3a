"""Inputs of the box: each source has ``id``, ``run(emit, stop)`` and ``stats()``."""
