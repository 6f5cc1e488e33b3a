"""A :class:`~rsu.app.dataflow.Dataflow` as text (``rsu graph``, ``rsu -vv run``) or as a Mermaid flowchart
(``rsu graph --format mermaid``; docs/architecture.md shows the demo's)."""

from __future__ import annotations

import re

from rsu_sdk import StageSpec

from rsu.app.dataflow import Dataflow

__all__ = ["mermaid", "text"]


def _types(types: tuple[type, ...]) -> str:
    return ", ".join(t.__name__ for t in types) or "nothing"


def _line(spec: StageSpec) -> str:
    seen = f" (observes {_types(spec.observes)})" if spec.observes else ""
    return (f"{spec.name} [{spec.thread}]: {_types(spec.consumes)}{seen} -> {_types(spec.produces)}"
            f"{'; queue: ' + spec.queue if spec.queue else ''}")


def text(flow: Dataflow) -> list[str]:
    """Stages in graph order, outputs, then one line per edge."""
    lines = ["producers (enter at the first stage):"]
    lines += [f"  {p.name} ({p.kind}): {_types(p.produces)}" for p in flow.producers]
    lines.append("stages, in graph order (a stage's products enter just after it):")
    lines += [f"  [{i}] {_line(s)}" for i, s in enumerate(flow.stages)]
    lines.append("outputs (every product that reaches them; what they emit enters at the first stage):")
    lines += [f"  {_line(o)}" for o in flow.outputs]
    lines.append("edges:")
    lines += [f"  {e.producer} -{'.' if e.observes else '-'}> {e.consumer}: {', '.join(e.products)}"
              for e in flow.edges()]
    lines += [f"  {e.producer} -x {e.consumer}: {', '.join(e.products)} (not delivered: the router only goes forward)"
              for e in flow.unrouted()]
    return lines


def _id(prefix: str, name: str) -> str:
    return prefix + re.sub(r"\W", "_", name)


def mermaid(flow: Dataflow) -> str:
    """A ``flowchart LR``: producers, stages (with their thread model) and outputs; an edge per
    producer -> consumer pair, labelled with the product types; dotted for inputs a stage only observes;
    crossed for matches the router never delivers (a later stage's products to an earlier one)."""
    ids: dict[str, str] = {}
    lines = ["flowchart LR"]
    for p in flow.producers:
        ids[p.name] = _id("in_", p.name)
        lines.append(f'  {ids[p.name]}(["{p.name}<br/>{p.kind}"])')
    for i, s in enumerate(flow.stages):
        ids[s.name] = _id("st_", s.name)
        lines.append(f'  {ids[s.name]}["[{i}] {s.name}<br/>{s.thread}"]')
    lines.append("  subgraph outputs")
    for o in flow.outputs:
        ids[o.name] = _id("out_", o.name)
        lines.append(f'    {ids[o.name]}[/"{o.name}<br/>{o.thread}"/]')
    lines.append("  end")
    for e in flow.edges():
        arrow = "-.->" if e.observes else "-->"
        lines.append(f'  {ids[e.producer]} {arrow}|"{", ".join(e.products)}"| {ids[e.consumer]}')
    for e in flow.unrouted():
        lines.append(f'  {ids[e.producer]} --x|"{", ".join(e.products)}: not delivered"| {ids[e.consumer]}')
    return "\n".join(lines)
