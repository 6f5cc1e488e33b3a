"""Continental ARS408 object list over CAN: frame layout, cycle assembly, the bus source and an encoder."""

from rsu.sources.ars408.assembler import CycleAssembler
from rsu.sources.ars408.encoder import encode_cycle
from rsu.sources.ars408.source import Ars408Source

__all__ = ["Ars408Source", "CycleAssembler", "encode_cycle"]
