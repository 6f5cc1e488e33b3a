"""Model inference on ONNX Runtime (and LiteRT for .tflite): sessions, pre-processing, decoders, NMS."""
