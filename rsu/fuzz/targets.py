"""Fuzz targets: each takes raw bytes, feeds them to one decoder or parser of the box, and raises only on a
*finding* - an exception that is not the decoder's documented rejection, or a decoded value out of its range.

Multi-frame inputs (ZeroMQ messages) are split on :data:`SEP`; :func:`frames_input` builds them.
"""

from __future__ import annotations

import math
import struct
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["SEP", "TARGETS", "Finding", "Target", "frames_input", "get"]

SEP = b"\xfe\xff"
"""Separates the frames of a multipart message in a fuzz input."""
T_BOX = 1_767_225_600_000_000_000  # the box clock the time-window targets check against


class Finding(AssertionError):
    """A decoded value outside its range (the decoder accepted what it must reject)."""


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    description: str
    run: Callable[[bytes], None]
    modules: tuple[str, ...]  # what coverage instrumentation should cover


def frames_input(*frames: bytes) -> bytes:
    """A fuzz input holding ``frames`` (inverse of the split the multipart targets do)."""
    return SEP.join(frames)


def _frames(data: bytes) -> list[bytes]:
    return data.split(SEP)[:8]


def _check(cond: bool, what: str) -> None:
    if not cond:
        raise Finding(what)


# ---------------------------------------------------------------------------------------------- ARS408 / CAN

_IDS = (0x60A, 0x60B, 0x60C, 0x60D, 0x201)


def ars408_frame(data: bytes) -> None:
    from rsu.sources.ars408 import layout as L

    if not data:
        return
    aid = _IDS[data[0] % 5] if data[0] < 250 else data[0] * 7
    try:
        msg = L.decode_frame(aid, data[1:])
    except L.FrameError:
        return
    if isinstance(msg, L.ObjGeneral):
        _check(-500 <= msg.dist_long <= 1138.2 and -204.6 <= msg.dist_lat <= 204.8, f"distance out of range: {msg}")
    if isinstance(msg, L.ObjExtended):
        _check(msg.class_name in L.CLASS_NAMES and 0 <= msg.length <= 51 and 0 <= msg.width <= 51, f"{msg}")


def ars408_cycles(data: bytes) -> None:
    """Records of 11 bytes: id selector, DLC, 8 data bytes, time code (NaN, inf, jumps back, normal)."""
    from rsu.sources.ars408 import CycleAssembler

    asm = CycleAssembler("fuzz")
    t = 1767225600.0
    specials = {255: float("nan"), 254: float("inf"), 253: -1.0, 252: 1e300, 251: 0.0}
    for i in range(0, len(data) - 10, 11):
        rec = data[i:i + 11]
        code = rec[10]
        t = t + (code % 16) * 0.001 if code < 240 else t - 10.0
        aid = _IDS[rec[0] % 5] if rec[0] < 240 else 0x100 + rec[0]
        scan = asm.feed(aid, rec[2:2 + rec[1] % 9], specials.get(code, t), is_error=rec[0] == 239,
                        is_extended_id=rec[0] == 238)
        if scan is not None:
            _check(0 <= scan.t_event_ns <= 4_102_444_800 * 10**9 and len(scan.objects) <= 256, f"bad scan {scan}")
    asm.flush()
    _check(asm.stats()["decoder_errors"] == 0, f"the assembler tripped: {asm.last_error}")


def can_log_line(data: bytes) -> None:
    from rsu.sources.canlog import CanLogError, parse_candump_line

    try:
        rec = parse_candump_line(data.decode("utf-8", "replace"))
    except CanLogError:
        return
    _check(math.isfinite(rec.timestamp) and len(rec.data) <= 64 and 0 <= rec.arbitration_id <= 0x1FFFFFFF, f"{rec}")


_SCRATCH: tempfile.TemporaryDirectory | None = None


def _scratch(name: str, data: bytes) -> Path:
    """``data`` in a file called ``name`` of one scratch folder per process (removed at exit)."""
    global _SCRATCH
    if _SCRATCH is None:
        _SCRATCH = tempfile.TemporaryDirectory(prefix="rsu-fuzz-")
    f = Path(_SCRATCH.name) / name
    f.write_bytes(data)
    return f


def can_log_file(data: bytes) -> None:
    from rsu.sources.canlog import iter_can_log

    f = _scratch("radar.log.gz" if data[:2] == b"\x1f\x8b" else "radar.log", data)
    counts: dict[str, int] = {}
    n = sum(1 for _ in iter_can_log(f, counts))
    _check(n == counts["records"], "records counted wrong")


# ---------------------------------------------------------------------------------------------- JSON inputs

def radar_udp(data: bytes) -> None:
    from rsu.sources.bounds import ClockWindow, InputRangeError
    from rsu.sources.radar_udp import DatagramError, _parse

    try:
        scan = _parse(data, "fuzz", T_BOX, ClockWindow(60.0))
    except (DatagramError, InputRangeError):
        return
    _check(abs(scan.t_event_ns - T_BOX) <= 60 * 10**9 and scan.t_event_ns <= T_BOX, f"t_event {scan.t_event_ns}")
    _check(len(scan.objects) <= 512 and 0 <= scan.cycle < 2**32, "sizes")
    for o in scan.objects:
        _check(abs(o.dist_long) <= 2000 and abs(o.dist_lat) <= 2000 and len(o.class_name) <= 32, f"{o}")


def air_station(data: bytes) -> None:
    from rsu.sources.air_station.message import MessageError, _parse
    from rsu.sources.bounds import ClockWindow, InputRangeError

    try:
        r = _parse(data, "fuzz", "aq-1", T_BOX, ClockWindow(60.0))
    except (MessageError, InputRangeError):
        return
    _check(abs(r.t_event_ns - T_BOX) <= 60 * 10**9 and len(r.device) <= 64, f"{r}")
    _check(all(math.isfinite(v) for v in r.values.values()), f"{r}")


def camera_line(data: bytes) -> None:
    from rsu.sources.replay import parse_camera_line

    try:
        d = parse_camera_line(data)
    except ValueError:
        return
    _check(0 <= d.t_event_ns <= 4_102_444_800 * 10**9, f"t_event {d.t_event_ns}")


def sensor_row(data: bytes) -> None:
    """One JSONL row of a plant recording."""
    from rsu.sources.bounds import InputRangeError, load_json_object
    from rsu.sources.sensor_replay import parse_reading

    try:
        d = load_json_object(data, max_bytes=1 << 16)
        r = parse_reading("fuzz", d.get("t_event_ns"), d.get("device"), d.get("values"), d.get("units"))
    except InputRangeError:
        return
    _check(all(math.isfinite(v) and abs(v) <= 1e12 for v in r.values.values()), f"{r}")


# ---------------------------------------------------------------------------------------------- wire formats

def tiered(data: bytes) -> None:
    """An ``rsu.infer/1`` reply as the tiered client reads it: unpack, then the detections."""
    from rsu.tiered.protocol import ProtocolError, Reply, unpack

    try:
        doc, _body = unpack(_frames(data))
        if doc.get("status") == "ok":
            Reply.from_doc(doc)
    except ProtocolError:
        return


def tiered_jpeg(data: bytes) -> None:
    """The request body the inference server decodes."""
    from rsu.tiered.protocol import ProtocolError, decode_jpeg

    try:
        decode_jpeg(data)
    except ProtocolError:
        return


def federated(data: bytes) -> None:
    """An ``rsu.fed/1`` update as the aggregator reads it: unpack, the weights, the update's fields."""
    import numpy as np

    from rsu.federated.messages import MessageError, ModelUpdate, decode_weights
    from rsu.federated.wire import WireError, unpack

    try:
        doc, body = unpack(_frames(data))
        weights = decode_weights(body[0]) if body else {"w": np.zeros(1, np.float32)}
        ModelUpdate(source=str(doc.get("box", "")), t_event_ns=T_BOX, model=str(doc.get("model", "m")),
                    base_version=doc.get("base_version", 0), samples=doc.get("samples", 1), weights=weights,
                    metrics=doc.get("metrics") or {})
    except (WireError, MessageError):
        return


_DECODERS: dict[str, Any] | None = None


def _tap_decoders() -> dict[str, Any]:
    global _DECODERS
    if _DECODERS is None:
        from rsu.plugins.registry import installed_decoders

        _DECODERS = installed_decoders()
    return _DECODERS


def tap(data: bytes) -> None:
    """A bus message as ``rsu tap`` renders it, CPM bodies decoded by the traffic_broadcast plugin."""
    from rsu.publish.tap import BadMessage, render, to_json_line

    frames = _frames(data)
    if len(frames) == 3 and frames[1][:1] != b"{":
        frames[1] = b'{"encoding": "cpm-uper"}'
    try:
        to_json_line(render(frames, _tap_decoders()))
    except BadMessage:
        return


def cpm(data: bytes) -> None:
    """UPER bytes through the CPM decoder ``rsu tap`` uses (``cpm-uper``)."""
    decode = _tap_decoders().get("cpm-uper")
    if decode is None:
        return
    try:
        decode(data)
    except ValueError as exc:  # CpmCodecError is a ValueError
        if type(exc).__name__ != "CpmCodecError":
            raise


def config(data: bytes) -> None:
    """A config file through ``load_config`` (what ``rsu check`` and ``rsu run`` read)."""
    from rsu.config import ConfigError, load_config

    try:
        load_config(_scratch("config.yaml", data))
    except ConfigError:
        return


TARGETS: dict[str, Target] = {t.name: t for t in (
    Target("ars408-frame", "one ARS408 CAN frame (layout.decode_frame)", ars408_frame, ("rsu.sources.ars408",)),
    Target("ars408-cycles", "a stream of ARS408 frames through the cycle assembler", ars408_cycles,
           ("rsu.sources.ars408", "rsu.sources.sequence")),
    Target("can-log-line", "one candump log line", can_log_line, ("rsu.sources.canlog",)),
    Target("can-log", "a whole candump log file (.log or .log.gz)", can_log_file, ("rsu.sources.canlog",)),
    Target("radar-udp", "a UDP radar datagram", radar_udp, ("rsu.sources.radar_udp", "rsu.sources.bounds")),
    Target("air-station", "an air-station JSON message", air_station,
           ("rsu.sources.air_station", "rsu.sources.bounds")),
    Target("camera-line", "a camera.jsonl line of a recording", camera_line,
           ("rsu.sources.replay", "rsu.fusion.serde")),
    Target("sensor-row", "a JSONL row of a plant recording", sensor_row, ("rsu.sources.sensor_replay",)),
    Target("tiered", "an rsu.infer/1 reply (tiered offload)", tiered, ("rsu.tiered.protocol", "rsu.net.zmq_frames")),
    Target("tiered-jpeg", "an rsu.infer/1 request body (JPEG)", tiered_jpeg, ("rsu.tiered.protocol",)),
    Target("federated", "an rsu.fed/1 update (federated learning)", federated,
           ("rsu.federated.wire", "rsu.federated.messages", "rsu.net.zmq_frames")),
    Target("tap", "a bus message rendered by rsu tap", tap, ("rsu.publish.tap", "rsu.publish.batch")),
    Target("cpm", "a UPER CPM through the cpm-uper decoder", cpm, ("rsu_traffic_broadcast.codec", "asn1tools")),
    Target("config", "a config file through load_config", config, ("rsu.config",)),
)}


def get(name: str) -> Target:
    try:
        return TARGETS[name]
    except KeyError:
        raise KeyError(f"unknown fuzz target {name!r}; known: {', '.join(TARGETS)}") from None


def pack_ars408(frames: list[tuple[int, bytes, int]]) -> bytes:
    """Seed helper: ``(id selector, data, time code)`` records in the ``ars408-cycles`` input format."""
    return b"".join(struct.pack("BB", sel, len(d)) + d.ljust(8, b"\0")[:8] + bytes([code]) for sel, d, code in frames)
