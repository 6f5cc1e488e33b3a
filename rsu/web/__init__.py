"""The box's web server: live dashboard, ``/api/state``, camera frames, ``/metrics``, ``/healthz``, ``/readyz``."""
