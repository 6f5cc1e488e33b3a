"""The operator interface: keyed, event-time processing steps written once and run by either runner.

An operator declares which product types it ``handles`` and how to ``key`` them; for each element the runner
calls :meth:`Operator.process` with a :class:`Context` scoped to that element's key: its event time, the
current watermark, keyed value/list state, and event-time timers (:meth:`Operator.on_timer` fires when the
watermark passes the timer, and every timer at :data:`END_OF_INPUT` fires when the input ends).

Rules that keep the two runners' outputs identical (docs/pipeline.md, "Parity"):

- an operator's output depends only on its key's elements (in arrival order), its key's state, and the
  timer times; never on the wall clock or on other keys;
- every live object an operator keeps goes in state (``ctx.value_state``), and after mutating it the
  operator calls ``update`` (Flink copies state; the embedded runner keeps the object itself);
- outputs go to the sink (publisher and plugins), not into other operators;
- timer times have millisecond resolution (Flink's), so :meth:`Context.register_timer` rounds up to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from rsu_sdk import Product

from rsu.pipeline.state import ListState, ValueState
from rsu.pipeline.watermarks import END_OF_INPUT

__all__ = ["Operator", "Context", "END_OF_INPUT", "timer_ms"]


def timer_ms(t_ns: int) -> int:
    """``t_ns`` rounded up to whole milliseconds (in ns); :data:`END_OF_INPUT` stays itself."""
    if t_ns >= END_OF_INPUT:
        return END_OF_INPUT
    return -((-int(t_ns)) // 1_000_000) * 1_000_000


class Context(Protocol):
    """What an operator sees while it handles one element or timer, all scoped to the current key."""

    @property
    def key(self) -> str: ...

    @property
    def timestamp_ns(self) -> int | None:
        """The element's event time (the timer's time in :meth:`Operator.on_timer`)."""

    @property
    def watermark_ns(self) -> int:
        """The current event-time watermark."""

    def value_state(self, name: str) -> ValueState: ...

    def list_state(self, name: str) -> ListState: ...

    def register_timer(self, t_ns: int) -> None:
        """Call :meth:`Operator.on_timer` once the watermark passes ``t_ns`` (rounded up to ms)."""


class Operator:
    """Base of every operator. Subclasses set ``name`` and ``handles`` and override :meth:`process`.

    Instances are plain picklable objects (the Flink runner ships them to its workers): build heavy things
    (models) in :meth:`open`, which each runner calls once before the first element.
    """

    name: str = "operator"
    handles: tuple[type, ...] = ()
    state_version: int = 1
    """Bump when the layout of the state an operator keeps changes: checkpoints of another version are not
    restored (they would unpickle into objects the new code does not understand)."""

    def key(self, element: Product) -> str:
        """The key of ``element``: its state, timers and ordering are per key. Default: the source id."""
        return element.source

    def key_spec(self) -> tuple[str, str]:
        """How :meth:`key` reads a product's v1 envelope, for a runner that keys outside Python (the Kafka job keys
        in the JVM): ``("field", name)``, the top-level envelope field ``name``; ``("const", key)``, one key for
        every product. An operator that overrides :meth:`key` overrides this too. Default: the source id."""
        return ("field", "source")

    def open(self) -> None:
        """Build what the operator needs at run time (models, caches); called once per runner instance."""

    def process(self, element: Product, ctx: Context) -> Iterable[Product]:
        raise NotImplementedError

    def on_timer(self, t_ns: int, ctx: Context) -> Iterable[Product]:
        return ()

    def close(self) -> None:
        """Release what :meth:`open` built."""

    def stats(self) -> dict[str, Any]:
        return {}
