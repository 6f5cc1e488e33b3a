"""rsu: the roadside / plant-side edge appliance (host process). Not an API: plugins import rsu_sdk."""

__version__ = "0.1.0"
