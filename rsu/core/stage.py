"""The stage contract: a named step of the box's dataflow that consumes some product types and makes others.

Every stage has the same members (no optional methods to probe for): ``name``, ``handles`` (the product
types it consumes), ``observes`` (types it only watches, from wherever they are made: ``observe(product)``
sees each, on the router thread, and makes nothing), ``open()`` (once, before the first product: restore
checkpoints, load models), ``process(product)`` (zero or more new products, routed forward to the stages after
it and to the outputs), ``finish(end_of_input)`` (once, at shutdown: what end-of-input timers still emit) and
``stats()``. :class:`BaseStage` gives the no-op defaults; wrappers delegate to the stage they wrap.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from rsu_sdk import Product

__all__ = ["Stage", "BaseStage", "StageWrapper"]


@runtime_checkable
class Stage(Protocol):
    """A step of the dataflow (see the module docstring)."""

    name: str
    handles: tuple[type, ...]
    observes: tuple[type, ...]

    def open(self) -> None: ...

    def observe(self, product: Product) -> None: ...

    def process(self, product: Product) -> list[Product]: ...

    def finish(self, end_of_input: bool) -> list[Product]: ...

    def stats(self) -> dict[str, Any]: ...


class BaseStage:
    """No-op ``open``/``finish``/``stats`` for stages that need none."""

    name: str = "stage"
    handles: tuple[type, ...] = ()
    observes: tuple[type, ...] = ()

    def open(self) -> None:
        """Nothing to prepare."""

    def observe(self, product: Product) -> None:
        """Nothing watched."""

    def process(self, product: Product) -> list[Product]:
        raise NotImplementedError

    def finish(self, end_of_input: bool) -> list[Product]:
        """Nothing held back."""
        return []

    def stats(self) -> dict[str, Any]:
        return {}


class StageWrapper(BaseStage):
    """Wraps a stage (timing, rate limiting, offloading): same name and inputs, every member delegated.

    The wrapped stage stays reachable as ``.stage``."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        self.name = stage.name
        self.handles = stage.handles
        self.observes = getattr(stage, "observes", ())

    def open(self) -> None:
        self.stage.open()

    def observe(self, product: Product) -> None:
        self.stage.observe(product)

    def process(self, product: Product) -> list[Product]:
        return self.stage.process(product)

    def finish(self, end_of_input: bool) -> list[Product]:
        return self.stage.finish(end_of_input)

    def stats(self) -> dict[str, Any]:
        return self.stage.stats()
