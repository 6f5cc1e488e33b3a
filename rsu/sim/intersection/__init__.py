"""The intersection scenario: vehicles, cyclists and pedestrians seen by a camera and an ARS408 radar."""

from rsu.sim.intersection.recording import Setup, simulate

__all__ = ["Setup", "simulate"]
