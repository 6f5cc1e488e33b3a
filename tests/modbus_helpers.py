"""Kept so that older imports still work: the Modbus test device now lives in ``support`` (tests/support.py),
with the other test helpers; import it from there."""

from support import ModbusServer, coil_bank

__all__ = ["ModbusServer", "coil_bank"]
