"""rsu plugin ``traffic_broadcast``: ETSI Collective Perception Messages (TS 103 324 v2.1.1) from fused objects.

The plugin object is :class:`rsu_traffic_broadcast.plugin.TrafficBroadcast` (entry point group
``rsu.plugins``, name ``traffic_broadcast``). The codec ships its own ASN.1 module (``asn1/rsu-cpm.asn``).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
