"""Prometheus metrics of a running box (one CollectorRegistry per box), health and readiness checks."""
