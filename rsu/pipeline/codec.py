"""How products cross between the host and the Flink job: pickled (exact floats and arrays, so both runners
see bit-identical inputs), base64 on the text socket, raw bytes on the ZeroMQ return path.

Both ends are the same rsu version on trusted hosts; never feed these ports from an untrusted network.
"""

from __future__ import annotations

import base64
import pickle
from typing import Any

__all__ = ["encode_line", "decode_line", "encode_out", "decode_out", "encode_batch_line", "decode_batch_line",
           "encode_out_batch", "decode_out_batch"]

_P = pickle.HIGHEST_PROTOCOL


def encode_line(element: Any, t_fed_ns: int) -> bytes:
    """One line for the job's socket source: ``<t_fed_ns>\\t<base64 pickle>\\n``."""
    return b"%d\t%s\n" % (t_fed_ns, base64.b64encode(pickle.dumps(element, protocol=_P)))


def decode_line(line: str) -> tuple[int, Any]:
    t, _, body = line.partition("\t")
    return int(t), pickle.loads(base64.b64decode(body))


def encode_out(product: Any, operator: str, t_fed_ns: int, t_operator_ns: int) -> bytes:
    return pickle.dumps((product, operator, t_fed_ns, t_operator_ns), protocol=_P)


def decode_out(data: bytes) -> tuple[Any, str, int, int]:
    return pickle.loads(data)


def encode_batch_line(items: list[tuple[int, Any]]) -> bytes:
    """One line carrying a micro-batch of ``(t_fed_ns, element)`` in feed order: ``B\\t<base64 pickle>\\n``."""
    return b"B\t%s\n" % base64.b64encode(pickle.dumps(items, protocol=_P))


def decode_batch_line(line: str) -> list[tuple[int, Any]]:
    """The ``(t_fed_ns, element)`` pairs of a line; a single-element line (:func:`encode_line`) gives one pair."""
    head, _, body = line.partition("\t")
    if head == "B":
        return pickle.loads(base64.b64decode(body))
    return [(int(head), pickle.loads(base64.b64decode(body)))]


def encode_out_batch(outputs: list[tuple[Any, str, int, int]]) -> bytes:
    """Several ``(product, operator, t_fed_ns, t_operator_ns)`` outputs in one message."""
    return pickle.dumps(outputs, protocol=_P)


def decode_out_batch(data: bytes) -> list[tuple[Any, str, int, int]]:
    """The outputs of a message; a single-output message (:func:`encode_out`) gives a list of one."""
    got = pickle.loads(data)
    return got if isinstance(got, list) else [got]
