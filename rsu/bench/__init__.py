"""Benchmarks behind ``rsu bench TARGET``: each module ``rsu.bench.<target>`` has ``run(quick=False) -> dict``.

Every result carries a baseline measured in the same run and the ratio against it, because absolute times
on shared machines drift.
"""
