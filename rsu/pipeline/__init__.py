"""Keyed, event-time operators written once, and the runners that run them (embedded, Flink)."""
