"""Output decoders per model head (SSD, YOLOv5 anchor-based, YOLOv5u/v8 anchor-free)."""
