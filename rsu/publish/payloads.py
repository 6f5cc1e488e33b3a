"""Turn rsu_sdk products into ``(product, source, schema, data)`` for the ZeroMQ publisher.

The conversion lives in the SDK (:mod:`rsu_sdk.payloads`), so that the test kit publishes what a plugin
emits exactly as the host does; this module re-exports it for the host. docs/wire-format.md has the table.
"""

from __future__ import annotations

from rsu_sdk.payloads import PRODUCT_OF, Payload, publish_product, to_payload

__all__ = ["Payload", "to_payload", "publish_product", "PRODUCT_OF"]
