"""Publishing on the ZeroMQ bus (wire format v1, docs/wire-format.md).

- :class:`ZmqPublisher`: the box's PUB socket, implementing :class:`rsu_sdk.Publisher`.
- :func:`to_payload` / :func:`publish_product`: SDK products to ``(product, source, schema, data)``.
- :mod:`rsu.publish.schemas`: the JSON Schema of every payload; :mod:`rsu.publish.tap`: the subscriber
  behind ``rsu tap``; :mod:`rsu.publish.curve`: CURVE keys.
"""

from __future__ import annotations

from rsu.publish.payloads import Payload, publish_product, to_payload
from rsu.publish.topics import BUILTIN_PRODUCTS
from rsu.publish.zmq_publisher import ScopedPublisher, ZmqPublisher

__all__ = ["BUILTIN_PRODUCTS", "Payload", "ScopedPublisher", "ZmqPublisher", "publish_product", "to_payload"]
