"""Topic names of the wire format: ``rsu/<site>/<product>[/<source>]``.

Built-in products are listed in :data:`BUILTIN_PRODUCTS`. Plugins may publish their own products when the
name matches :data:`PRODUCT_PATTERN` (one or two lowercase levels, e.g. ``v2x/denm`` or ``weather``) and no
built-in product is a string prefix of it or it of a built-in (``faults`` or ``v2x`` are refused), so that
prefix filtering on ``rsu/<site>/<product>`` never mixes a plugin's product into a built-in one.
"""

from __future__ import annotations

import re

from rsu_sdk import PublishError

__all__ = ["BUILTIN_PRODUCTS", "PRODUCT_PATTERN", "SOURCE_PATTERN", "check_product", "check_source", "topic_for",
           "default_schema"]

BUILTIN_PRODUCTS = ("detections", "radar", "objects", "v2x/cpm", "fault", "actuation", "env", "health")
PRODUCT_PATTERN = r"^[a-z][a-z0-9_-]{0,31}(/[a-z][a-z0-9_-]{0,31})?$"
SOURCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"

_product_re = re.compile(PRODUCT_PATTERN)
_source_re = re.compile(SOURCE_PATTERN)


def check_product(product: str) -> str:
    """Return ``product`` if it may be published, else raise :class:`~rsu_sdk.PublishError` saying why."""
    if product in BUILTIN_PRODUCTS:
        return product
    if not isinstance(product, str) or not _product_re.match(product):
        raise PublishError(
            f"product {product!r}: expected one of {', '.join(BUILTIN_PRODUCTS)} or a name matching "
            f"{PRODUCT_PATTERN}"
        )
    for builtin in BUILTIN_PRODUCTS:
        if product.startswith(builtin) or builtin.startswith(product):
            raise PublishError(
                f"product {product!r}: clashes with the built-in product {builtin!r} under prefix filtering; "
                "pick a name that neither starts it nor starts with it"
            )
    return product


def check_source(source: str) -> str:
    """Return ``source`` if it is a valid topic level (as config source ids), else raise PublishError."""
    if not isinstance(source, str) or not _source_re.match(source):
        raise PublishError(f"source {source!r}: expected a topic level matching {SOURCE_PATTERN}")
    return source


def topic_for(site: str, product: str, source: str | None = None) -> str:
    """``rsu/<site>/<product>`` or ``rsu/<site>/<product>/<source>`` (arguments checked)."""
    topic = f"rsu/{site}/{check_product(product)}"
    return topic if source is None else f"{topic}/{check_source(source)}"


def default_schema(product: str) -> str:
    """The schema id used when the caller names none: ``rsu.<product with . for />/1``."""
    return "rsu." + product.replace("/", ".") + "/1"
