"""Fuzzing harness: one target per decoder or parser (:mod:`rsu.fuzz.targets`), run coverage-guided with
atheris by ``rsu fuzz TARGET --seconds N`` (:mod:`rsu.fuzz.runner`); seed corpora in ``tests/fuzz_corpus/``."""
