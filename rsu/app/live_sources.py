"""Sources live: list, add, remove and restart the sources of a running box (``/api/sources``, ``rsu sources``).

:class:`LiveSources` keeps the config as changed so far and drives the box's
:class:`~rsu.app.source_set.SourceSet`: an added source is checked as ``rsu check`` would check it
(:mod:`rsu.app.source_check`), built from the source-type table, given its input lane policy and started on
its own thread; a removed one is stopped within a deadline; a restarted one is built again from its entry and
replaces the old thread. The other sources, their lanes and their ``seq`` counters are not touched. With
``persist`` the change is also written to the config file (:mod:`rsu.config.yaml_edit`), before the box
changes, so that a file that cannot be written leaves the box as it was.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from rsu_sdk import HealthEvent

from rsu.app.source_check import SourceRejected, check_new_source, source_problems_at
from rsu.app.source_set import SourceSet
from rsu.app.source_types import build_source
from rsu.config import RsuConfig
from rsu.config.yaml_edit import ConfigEditError, persist_add_source, persist_remove_source
from rsu.core.lanes import InputPolicy

__all__ = ["LiveSources", "SourceRejected"]

log = logging.getLogger(__name__)

PolicyFor = Callable[[RsuConfig, Any, Any], InputPolicy | None]
"""``(config, source config, source)`` -> the source's input lane policy (:func:`rsu.app.build.input_policies`)."""


class LiveSources:
    """The sources of a running box, changed one request at a time (requests are serialised).

    :param kinds: the source-type table the box was built with (``type`` -> :class:`rsu_sdk.SourceSpec`).
    :param config_path: the config file, for ``persist``; None when the box was built from a mapping.
    :param has_detector: the box runs the camera detector (cameras can be added).
    :param report: the box's health input: a removed source's last word (``down``, "removed") goes there, so
        that subscribers of ``rsu/<site>/health/<id>`` learn that its messages ended on purpose.
    """

    def __init__(self, sources: SourceSet, config: RsuConfig, *, base_dir: Path, kinds: Mapping[str, Any],
                 policy_for: PolicyFor, config_path: Path | None = None, has_detector: bool = False,
                 report: Callable[[HealthEvent], None] | None = None) -> None:
        self._set = sources
        self._config = config
        self.base_dir = base_dir
        self.kinds = kinds
        self._policy_for = policy_for
        self.config_path = config_path
        self.has_detector = has_detector
        self._report = report
        self._lock = threading.Lock()

    @property
    def config(self) -> RsuConfig:
        """The config with the changes made so far (the box's source entries, in order)."""
        return self._config

    def _index(self, source_id: str) -> int:
        for i, src in enumerate(self._config.sources):
            if src.id == source_id:
                return i
        known = ", ".join(s.id for s in self._config.sources) or "none"
        raise SourceRejected(404, [f"no source {source_id!r} (sources: {known})"])

    def _row(self, src: Any) -> dict[str, Any]:
        svc = self._set.get(src.id)
        row: dict[str, Any] = {"id": src.id, "type": src.type, "enabled": src.enabled,
                               "state": "disabled" if not src.enabled else "not running"}
        if svc is not None:
            row.update(svc.stats())
            try:
                row["stats"] = dict(svc.source.stats())
            except Exception as exc:  # noqa: BLE001 - a source's stats must not break the listing
                row["stats"] = {"error": f"{type(exc).__name__}: {exc}"}
        return row

    def list(self) -> list[dict[str, Any]]:
        """Each source entry: ``id``, ``type``, ``enabled``, ``state`` (running, restarting, finished, stopped,
        disabled), ``restarts``, ``last_error`` and the source's own ``stats``."""
        return [self._row(src) for src in self._config.sources]

    # -- changes -------------------------------------------------------------------------------------
    def add(self, entry: Any, *, persist: bool = False) -> dict[str, Any]:
        """Check ``entry`` (one item of the config's ``sources`` list), start it, and with ``persist`` append it
        to the config file. Raises :class:`SourceRejected` (400 invalid, 409 id taken / no detector / cannot
        persist, 503 stopping); nothing changes then."""
        with self._lock:
            new = check_new_source(self._config, entry, base_dir=self.base_dir, kinds=self.kinds,
                                   has_detector=self.has_detector)
            index = len(new.sources) - 1
            src = new.sources[index]
            source = None
            if src.enabled:
                source = self._build(src, index)
            if persist:
                self._persist(lambda path: persist_add_source(path, entry))
            if source is not None:
                try:
                    self._set.add(source, self._policy_for(new, src, source))
                except (KeyError, RuntimeError) as exc:
                    if persist:
                        self._persist(lambda path: persist_remove_source(path, src.id))
                    raise SourceRejected(503 if isinstance(exc, RuntimeError) else 409,
                                         [f"sources[{index}]: not added: {exc}"]) from None
            self._config = new
            log.info("source %s (%s) added%s", src.id, src.type, " and written to the config" if persist else "")
            return {**self._row(src), "index": index, "persisted": persist}

    def remove(self, source_id: str, *, persist: bool = False, timeout_s: float = 10.0) -> dict[str, Any]:
        """Stop ``source_id`` (waiting up to ``timeout_s``) and drop its entry; with ``persist`` also from the
        config file. 404 for an unknown id."""
        with self._lock:
            index = self._index(source_id)
            persisted = False
            if persist:
                persisted = self._persist(lambda path: persist_remove_source(path, source_id), missing_ok=True)
            ended = True
            if self._set.get(source_id) is not None:
                _, ended = self._set.remove(source_id, time.monotonic() + timeout_s)
            sources = [s for i, s in enumerate(self._config.sources) if i != index]
            self._config = self._config.model_copy(update={"sources": sources})
            if self._report is not None:
                self._report(HealthEvent(source=source_id, t_event_ns=time.time_ns(), component=f"source:{source_id}",
                                         status="down", message="removed"))
            log.info("source %s removed%s", source_id, "" if ended else " (its thread is still ending)")
            return {"id": source_id, "removed": True, "stopped": ended, "persisted": persisted}

    def restart(self, source_id: str, *, timeout_s: float = 10.0) -> dict[str, Any]:
        """Build ``source_id`` again from its entry and run it in place of the old one (stopped within
        ``timeout_s``). 404 unknown id; 409 a disabled entry, or one that cannot be built now (the old one
        keeps running then)."""
        with self._lock:
            index = self._index(source_id)
            src = self._config.sources[index]
            if not src.enabled:
                raise SourceRejected(409, [f"sources[{index}].enabled: source {source_id!r} is disabled"])
            problems = source_problems_at(self._config, index, self.base_dir, self.kinds, ports=False)
            if problems:
                raise SourceRejected(409, [f"cannot restart: {p}" for p in problems])
            source = self._build(src, index, status=409)
            policy = self._policy_for(self._config, src, source)
            try:
                if self._set.get(source_id) is None:
                    self._set.add(source, policy)
                    ended = True
                else:
                    _, ended = self._set.replace(source, time.monotonic() + timeout_s, policy)
            except RuntimeError as exc:
                raise SourceRejected(503, [f"sources[{index}]: not restarted: {exc}"]) from None
            log.info("source %s restarted", source_id)
            return {**self._row(src), "restarted": True, "old_stopped": ended}

    # -- helpers -------------------------------------------------------------------------------------
    def _build(self, src: Any, index: int, status: int = 400) -> Any:
        source, problem = build_source(src, self.base_dir, dict(self.kinds), f"sources[{index}]")
        if source is None:
            raise SourceRejected(status, [problem or f"sources[{index}]: cannot be built"])
        return source

    def _persist(self, change: Callable[[Path], None], *, missing_ok: bool = False) -> bool:
        if self.config_path is None:
            raise SourceRejected(409, ["persist: this box was not started from a config file"])
        try:
            change(self.config_path)
        except ConfigEditError as exc:
            if missing_ok and "no sources entry" in str(exc):
                return False
            raise SourceRejected(409, [f"persist: {exc}; nothing was changed"]) from None
        return True

