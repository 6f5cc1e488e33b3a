"""Topic names of the wire format: ``rsu/<site>/<product>[/<source>]``.

The rule lives in the SDK (:mod:`rsu_sdk.topics`), so that the test kit's recording publisher applies the
same one; this module re-exports it for the host.
"""

from __future__ import annotations

from rsu_sdk.topics import (
    BUILTIN_PRODUCTS,
    PRODUCT_PATTERN,
    SOURCE_PATTERN,
    check_product,
    check_source,
    default_schema,
    topic_for,
)

__all__ = ["BUILTIN_PRODUCTS", "PRODUCT_PATTERN", "SOURCE_PATTERN", "check_product", "check_source", "topic_for",
           "default_schema"]
