"""Object classes of the fusion core: names, typical sizes, and which classes may be the same object."""

from __future__ import annotations

import numpy as np

__all__ = ["CLASSES", "UNKNOWN", "SIZES", "GATE_SCALE", "BIRTH_RADIUS_M", "COMPAT_COST", "RADAR_CLASS_MAP",
           "class_index"]

CLASSES = ("car", "truck", "pedestrian", "bicycle", "motorcycle", "unknown")
UNKNOWN = CLASSES.index("unknown")

SIZES = np.array([  # length, width, height (m)
    [4.5, 1.8, 1.5], [9.0, 2.5, 3.2], [0.5, 0.5, 1.7], [1.8, 0.6, 1.7], [2.2, 0.8, 1.5], [1.0, 1.0, 1.2],
])

GATE_SCALE = np.array([1.0, 1.3, 0.5, 0.65, 0.8, 0.8])
"""Association gates per class, relative to the configured (vehicle) gate."""
BIRTH_RADIUS_M = np.array([2.5, 4.0, 0.7, 1.0, 1.5, 1.5])
"""No new track this close to a track that already took a measurement in the same cycle."""

_INF = np.inf
COMPAT_COST = np.array([  # added association cost; inf = never the same object
    #  car   truck  ped   bike  moto  unk
    [0.0, 0.3, _INF, _INF, 0.5, 0.1],  # car
    [0.3, 0.0, _INF, _INF, _INF, 0.1],  # truck
    [_INF, _INF, 0.0, 0.4, _INF, 0.1],  # pedestrian
    [_INF, _INF, 0.4, 0.0, 0.3, 0.1],  # bicycle
    [0.5, _INF, _INF, 0.3, 0.0, 0.1],  # motorcycle
    [0.1, 0.1, 0.1, 0.1, 0.1, 0.0],  # unknown
])

RADAR_CLASS_MAP = {"car": "car", "truck": "truck", "pedestrian": "pedestrian", "bicycle": "bicycle",
                   "motorcycle": "motorcycle", "point": "unknown", "wide": "unknown", "unknown": "unknown"}
"""ARS408 Obj_Class names -> fusion classes."""


def class_index(name: str, mapping: dict[str, str] | None = None) -> int:
    """Index in :data:`CLASSES` of a label (through ``mapping`` first); unknown labels map to ``unknown``."""
    if mapping is not None:
        name = mapping.get(name, mapping.get(name.lower(), name))
    try:
        return CLASSES.index(name)
    except ValueError:
        return UNKNOWN
