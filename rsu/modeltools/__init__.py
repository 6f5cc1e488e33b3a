"""Model toolchain behind ``rsu model ...``: prune, export, quantize and inspect detectors.

Everything that needs torch or ultralytics (the ``tools`` extra) imports them lazily through
:mod:`rsu.modeltools.env`, so ``info`` and ``quantize`` on ONNX files work without them.
"""
