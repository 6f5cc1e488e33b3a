"""The box's dataflow, written down once: an ordered list of stages, each consuming some product types.

A product enters the graph at a position: a source's products at the first stage, a stage's outputs just
after that stage, a plugin's products at the first stage. From there it goes to every later stage that
consumes its type (worker stages get it through their latest-value slot, inline stages run it at once and
their outputs enter the graph just after them), and then to the outputs (publisher and plugins). Nothing ever
goes back to a stage at or before the one that made it, so no product re-enters the queue it came from. A
stage may also *observe* some types (``observes``): it sees each one wherever it is made (the detector's rate
limiter watches the ObjectLists fusion makes after it), on the router thread, and makes nothing from it.

:mod:`rsu.app.dataflow` computes the edges from the registered stage specs and checks that they are these routes
(``rsu graph CONFIG`` prints them; ``rsu -vv run`` logs them; docs/architecture.md draws the demo's).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rsu_sdk import Product

from rsu.core.envelope import Envelope
from rsu.core.stage import Stage

__all__ = ["Graph", "Node"]


@dataclass(frozen=True, slots=True)
class Node:
    """One stage of the graph; ``offer`` set means it runs on its own thread (a latest-value worker)."""

    stage: Stage
    offer: Callable[[Product], None] | None = None

    @property
    def name(self) -> str:
        return self.stage.name


class Graph:
    """Routes products forward through ``nodes`` to ``deliver`` (the outputs).

    :param on_error: called with ``(stage name, product)`` when a stage raises (the product still goes on).
    :param on_count: called with ``(stage name, "in"|"out")``.
    """

    def __init__(self, nodes: Sequence[Node], deliver: Callable[[Product, str], None], *,
                 on_error: Callable[[str, Product], None], on_count: Callable[[str, str], None]) -> None:
        names = [n.name for n in nodes]
        if len(set(names)) != len(names):
            raise ValueError(f"stage names must be unique, got {names}")
        self.nodes = tuple(nodes)
        self._deliver = deliver
        self._on_error = on_error
        self._on_count = on_count
        self._index = {n.name: i for i, n in enumerate(self.nodes)}
        self._routes: dict[tuple[type, int], tuple[int, ...]] = {}
        self._watchers: dict[type, tuple[int, ...]] = {}

    def entry(self, envelope: Envelope) -> int:
        """Where ``envelope`` enters: just after the stage that made it, else at the first stage."""
        stage = envelope.stage
        if stage is not None and stage in self._index:
            return self._index[stage] + 1
        return 0

    def consumers(self, kind: type, start: int) -> tuple[int, ...]:
        """Indices of the stages from ``start`` on that consume ``kind``."""
        key = (kind, start)
        route = self._routes.get(key)
        if route is None:
            route = self._routes[key] = tuple(
                i for i in range(start, len(self.nodes)) if issubclass(kind, self.nodes[i].stage.handles))
        return route

    def observers(self, kind: type) -> tuple[int, ...]:
        """Indices of every stage that observes ``kind`` (wherever it is made: before or after the stage)."""
        found = self._watchers.get(kind)
        if found is None:
            found = self._watchers[kind] = tuple(
                i for i, n in enumerate(self.nodes) if issubclass(kind, getattr(n.stage, "observes", ())))
        return found

    def route(self, product: Product, origin: str, start: int) -> None:
        """Show ``product`` (made by ``origin``) to the stages observing it, send it to the stages from
        ``start`` on that consume it, then to the outputs."""
        for i in self.observers(type(product)):
            try:
                self.nodes[i].stage.observe(product)
            except Exception:  # noqa: BLE001 - a failing observer must not stop the router
                self._on_error(self.nodes[i].name, product)
        for i in self.consumers(type(product), start):
            node = self.nodes[i]
            if node.offer is not None:
                node.offer(product)
                continue
            try:
                results = node.stage.process(product)
            except Exception:  # noqa: BLE001 - one bad product must not stop the router
                self._on_error(node.name, product)
                continue
            self._on_count(node.name, "in")
            for result in results:
                self._on_count(node.name, "out")
                self.route(result, f"stage:{node.name}", i + 1)
        self._deliver(product, origin)

    def finish_stage(self, index: int, end_of_input: bool) -> None:
        """Finish inline stage ``index`` and route what it still emits forward."""
        node = self.nodes[index]
        for result in node.stage.finish(end_of_input):
            self._on_count(node.name, "out")
            self.route(result, f"stage:{node.name}", index + 1)
