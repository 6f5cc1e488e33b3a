"""The topic rule of the wire format: ``rsu/<site>/<product>[/<source>]``.

Shared by the host's publisher and the test kit's :class:`~rsu_sdk.testing.RecordingPublisher`, so a
plugin's tests refuse exactly the names the box would refuse.

- Built-in products are listed in :data:`BUILTIN_PRODUCTS`.
- A plugin may publish its own product when the name matches :data:`PRODUCT_PATTERN` (one or two
  lower-case levels of at most 32 characters, starting with a letter, e.g. ``zone_count`` or ``v2x/denm``)
  and no built-in product is a string prefix of it or it of a built-in (``faults``, ``objects2`` and
  ``v2x`` are refused), so that prefix filtering on ``rsu/<site>/<product>`` never mixes a plugin's
  product into a built-in one.
- The optional last level, ``source``, matches :data:`SOURCE_PATTERN` (like config source ids: letters,
  digits, ``_``, ``.``, ``-``, at most 64 characters, not starting with ``.``, ``_`` or ``-``).
"""

from __future__ import annotations

import re

from rsu_sdk.errors import PublishError

__all__ = ["BUILTIN_PRODUCTS", "PRODUCT_PATTERN", "SOURCE_PATTERN", "check_product", "check_source", "topic_for",
           "default_schema"]

BUILTIN_PRODUCTS = ("detections", "radar", "objects", "v2x/cpm", "fault", "actuation", "env", "health")
"""The host's own products (docs/wire-format.md lists their schemas)."""

PRODUCT_PATTERN = r"^[a-z][a-z0-9_-]{0,31}(/[a-z][a-z0-9_-]{0,31})?$"
"""What a plugin's own product name must match."""

SOURCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
"""What the ``source`` topic level must match."""

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
    """``rsu/<site>/<product>`` or ``rsu/<site>/<product>/<source>`` (product and source checked)."""
    topic = f"rsu/{site}/{check_product(product)}"
    return topic if source is None else f"{topic}/{check_source(source)}"


def default_schema(product: str) -> str:
    """The schema id used when the caller names none: ``rsu.<product with . for />/1``."""
    return "rsu." + product.replace("/", ".") + "/1"
