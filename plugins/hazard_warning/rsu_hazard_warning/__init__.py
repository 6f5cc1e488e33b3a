"""rsu plugin ``hazard_warning``: ETSI DENMs (TS 103 831 v2.3.1) for hazards the box perceives.

Triggers over fused tracks in configured zones (stationary vehicle on a lane, pedestrian on the carriageway
outside a crossing, wrong-way vehicle), the DENM life cycle (new, update, repetition, cancellation), and the
plugin's own ASN.1 module (``asn1/rsu-denm.asn``). The plugin object is
:class:`rsu_hazard_warning.plugin.HazardWarning` (entry point group ``rsu.plugins``, name ``hazard_warning``).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
