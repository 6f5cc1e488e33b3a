"""Multi-object tracker: one constant-velocity Kalman filter per track, gated minimum-cost association,
lifecycle tentative -> confirmed -> lost -> deleted, stable ids. Deterministic; driven only by the event
times it is given.

All tracks live in one structured array (``Tracker.tracks``, one record per track), so that adding,
removing or updating tracks is one array operation rather than one per field; ``tracker.x``,
``tracker.state`` and the other fields are views of its columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from rsu.fusion import kalman
from rsu.fusion.associate import gated_pairs, solve_pairs, track_pairs
from rsu.fusion.classes import BIRTH_RADIUS_M, CLASSES, COMPAT_COST, GATE_SCALE, SIZES, UNKNOWN
from rsu.fusion.measurements import Measurements

__all__ = ["Tracker", "TrackerParams", "TENTATIVE", "CONFIRMED", "LOST", "STATE_NAMES", "TRACK_DTYPE"]

TENTATIVE, CONFIRMED, LOST = 0, 1, 2
STATE_NAMES = ("tentative", "confirmed", "lost")
_NC = len(CLASSES)
_NEW_VEL_VAR = 16.0
_SUPPORT_ALPHA = 0.15
_SUPPORT_MIN = 0.2
_HEALTH_MIN = 0.5
_NO_INDEX = np.zeros(0, np.intp)
_BIRTH_RADIUS_MAX = float(BIRTH_RADIUS_M.max())

TRACK_DTYPE = np.dtype([
    ("ids", np.int64), ("x", np.float64, (4,)), ("p", np.float64, (4, 4)), ("state", np.int8),
    ("hits", np.int32), ("t_created", np.int64), ("t_updated", np.int64), ("cam_hits", np.int32),
    ("radar_hits", np.int32), ("cam_miss", np.int32), ("cam_support", np.float64),
    ("cam_scores", np.float64, (_NC,)), ("radar_scores", np.float64, (_NC,)), ("conf", np.float64),
    ("size", np.float64, (3,)), ("heading", np.float64), ("src_mask", np.int64),
])
"""One track: id, Kalman state and covariance, lifecycle, per-sensor hits, class votes, output values."""
_RAW = np.dtype((np.void, TRACK_DTYPE.itemsize))
"""Whole records as opaque bytes: gathering, scattering and joining those is many times faster."""


def _rows(tracks: np.ndarray, sel: Any) -> np.ndarray:
    """``tracks[sel]`` (a copy), through the opaque-record view."""
    return tracks.view(_RAW)[sel].view(TRACK_DTYPE)


@dataclass(frozen=True, slots=True)
class TrackerParams:
    confirm_hits: int = 3
    tentative_timeout_s: float = 0.35
    lost_after_s: float = 0.25
    delete_after_s: float = 1.5
    publish_lost_s: float = 0.8
    camera_veto_frames: int = 0
    accel_std: float = 2.5
    gate_m: float = 3.0


def _column(name: str) -> property:
    def get(self: Tracker) -> Any:
        return self.tracks[name]

    def put(self: Tracker, value: Any) -> None:
        self.tracks[name] = value

    return property(get, put, doc=f"``{name}`` of every track (a view of ``tracks``).")


class Tracker:
    """Tracks in one structured array (``self.tracks``; ``self.x`` is its ``(N, 4)`` state column etc.)."""

    ids, x, p, state, hits, t_created, t_updated = map(
        _column, ("ids", "x", "p", "state", "hits", "t_created", "t_updated"))
    cam_hits, radar_hits, cam_miss, cam_support, cam_scores, radar_scores = map(
        _column, ("cam_hits", "radar_hits", "cam_miss", "cam_support", "cam_scores", "radar_scores"))
    conf, size, heading, src_mask = map(_column, ("conf", "size", "heading", "src_mask"))

    def __init__(self, params: TrackerParams) -> None:
        self.params = params
        self.t_ns: int | None = None
        self.next_id = 1
        self.cam_health = 1.0
        self.tracks = np.zeros(0, TRACK_DTYPE)

    def __len__(self) -> int:
        return len(self.tracks)

    # ------------------------------------------------------------------ derived values
    def classes(self) -> npt.NDArray[np.int64]:
        """Class per track: the camera's vote when the camera ever saw it, else the radar's."""
        t = self.tracks
        scores = np.where((t["cam_hits"] > 0)[:, None], t["cam_scores"], t["radar_scores"])
        cls = scores.argmax(axis=1)
        return np.where(scores.max(axis=1) > 0, cls, UNKNOWN)

    def published(self) -> npt.NDArray[np.intp]:
        """Indices of the tracks to report: confirmed, or lost for less than ``publish_lost_s``."""
        if self.t_ns is None or not len(self):
            return _NO_INDEX
        t, prm = self.tracks, self.params
        state = t["state"]
        ok = (state == CONFIRMED) | ((state == LOST) & ((self.t_ns - t["t_updated"]) / 1e9 <= prm.publish_lost_s))
        if prm.camera_veto_frames > 0:  # the camera keeps not seeing what radar reports
            ok &= (t["cam_miss"] < prm.camera_veto_frames) | (t["cam_support"] >= _SUPPORT_MIN)
        return np.flatnonzero(ok)

    # ------------------------------------------------------------------ one cycle
    def step(self, t_ns: int, meas: Measurements, view_fn: Any = None) -> None:
        """Predict every track to ``t_ns``, associate, update, start new tracks, run the lifecycle.

        :param view_fn: ENU ``(N, 2)`` -> bool mask of points the cycle's camera should see, or None when
            the cycle has no camera frame (counts camera misses of never-seen tracks for the veto).
        """
        p = self.params
        dt = 0.0 if self.t_ns is None else max(0.0, (t_ns - self.t_ns) / 1e9)
        self.t_ns = t_ns if self.t_ns is None else max(self.t_ns, t_ns)
        t = self.tracks
        n, m = len(t), len(meas)
        if n and dt > 0:
            t["x"], t["p"] = kalman.predict(t["x"], t["p"], dt, p.accel_std)
        ti = mi = _NO_INDEX
        if n and m:
            cov = t["p"]
            var_t = 0.5 * (cov[:, 0, 0] + cov[:, 1, 1])
            gate = p.gate_m * GATE_SCALE[meas.cls] + 3.0 * np.sqrt(meas.pos_var)
            ti, mi = solve_pairs(*track_pairs(t["x"][:, :2], var_t, self.classes(), meas.pos, meas.pos_var,
                                              meas.cls, gate))
        if len(ti):
            self._update(ti, meas.take(mi), t_ns)
        if view_fn is not None and p.camera_veto_frames > 0 and n:
            self._camera_support(ti[meas.has_cam[mi]], view_fn)
        unmatched = np.ones(m, bool)
        unmatched[mi] = False
        if len(ti) and len(mi) < m:
            # a measurement right next to a track that was just updated is the same object seen twice
            rest = np.flatnonzero(unmatched)
            i, _, d = gated_pairs(meas.pos[rest], self.tracks["x"][ti, :2], _BIRTH_RADIUS_MAX)
            unmatched[rest[i[d < BIRTH_RADIUS_M[meas.cls[rest[i]]]]]] = False
        if unmatched.any():
            self._create(meas.take(np.flatnonzero(unmatched)), t_ns)
        self._merge_duplicates()
        self._lifecycle(t_ns)

    def _camera_support(self, cam_ti: npt.NDArray[np.intp], view_fn: Any) -> None:
        """Camera support of each track the camera should see: EMA of "a detection was associated"."""
        t = self.tracks
        cam_now = np.zeros(len(t), bool)
        cam_now[cam_ti] = True
        seen = view_fn(t["x"][:, :2])
        # how well the camera sees right now (glare, rain): share of confirmed tracks both sensors saw that it detects;
        # support only counts while the camera works, so a blinded camera does not hide real objects
        ref = seen & (t["radar_hits"] > 0) & (t["cam_hits"] >= 3) & (t["state"] == CONFIRMED)
        n_ref = np.count_nonzero(ref)
        if n_ref >= 2:
            self.cam_health = 0.8 * self.cam_health + 0.2 * (np.count_nonzero(cam_now[ref]) / n_ref)
        if self.cam_health >= _HEALTH_MIN:
            t["cam_miss"][seen] += 1
            support = t["cam_support"]
            support[seen] = (1 - _SUPPORT_ALPHA) * support[seen] + _SUPPORT_ALPHA * cam_now[seen]

    def _merge_duplicates(self) -> None:
        """Two tracks on top of each other moving alike are one object: keep the older."""
        t = self.tracks
        if len(t) < 2:
            return
        x = t["x"]
        a, b, d = gated_pairs(x[:, :2], x[:, :2], _BIRTH_RADIUS_MAX)
        first = a < b
        if not first.any():
            return
        a, b, d = a[first], b[first], d[first]
        cls = self.classes()
        dv = np.hypot(x[a, 2] - x[b, 2], x[a, 3] - x[b, 3])
        close = ((d < np.minimum(BIRTH_RADIUS_M[cls[a]], BIRTH_RADIUS_M[cls[b]])) & (dv < 2.0)
                 & np.isfinite(COMPAT_COST[cls[a], cls[b]]))
        if not close.any():
            return
        drop = np.zeros(len(t), bool)
        for i, j in sorted(zip(a[close].tolist(), b[close].tolist())):
            if drop[i] or drop[j]:
                continue
            older_i = (t["t_created"][i], t["ids"][i]) <= (t["t_created"][j], t["ids"][j])
            keep, gone = (i, j) if older_i else (j, i)
            t["cam_hits"][keep] += t["cam_hits"][gone]
            t["cam_scores"][keep] += t["cam_scores"][gone]
            t["cam_support"][keep] = max(t["cam_support"][keep], t["cam_support"][gone])
            t["src_mask"][keep] |= t["src_mask"][gone]
            drop[gone] = True
        self.tracks = _rows(t, ~drop)

    def _update(self, ti: npt.NDArray[np.intp], z: Measurements, t_ns: int) -> None:
        rec = _rows(self.tracks, ti)  # a copy of the updated tracks, written back at the end
        x, cov = rec["x"], rec["p"]
        hv = ~np.isnan(z.vel[:, 0])
        for sel, with_vel in ((hv, True), (~hv, False)):
            if not sel.any():
                continue
            idx = slice(None) if sel.all() else sel
            pv = z.pos_var[idx]
            if with_vel:
                vv = z.vel_var[idx]
                zz, r = np.concatenate([z.pos[idx], z.vel[idx]], axis=1), np.stack([pv, pv, vv, vv], axis=1)
            else:
                zz, r = z.pos[idx], np.stack([pv, pv], axis=1)
            x[idx], cov[idx] = kalman.update(x[idx], cov[idx], zz, r)
        hc = z.has_cam
        rec["hits"] += 1
        rec["t_updated"] = t_ns
        rec["cam_hits"] += hc
        rec["radar_hits"] += z.has_radar
        rec["cam_scores"][hc, z.cls[hc]] += z.conf[hc]
        ro = z.has_radar & ~hc & (z.cls != UNKNOWN)
        rec["radar_scores"][ro, z.cls[ro]] += 0.5
        conf = rec["conf"]  # from the camera once it saw the track, else from whatever sensor updates it
        rec["conf"] = np.where(hc | (rec["cam_hits"] == 0), 0.7 * conf + 0.3 * z.conf, conf)
        has_size = ~np.isnan(z.size[:, 0])
        rec["size"][has_size] = 0.8 * rec["size"][has_size] + 0.2 * z.size[has_size]
        rec["src_mask"] = z.src_mask
        st = rec["state"]
        st[st == LOST] = CONFIRMED
        st[(st == TENTATIVE) & (rec["hits"] >= self.params.confirm_hits)] = CONFIRMED
        v = x[:, 2:4]
        moving = np.hypot(v[:, 0], v[:, 1]) > 0.5
        rec["heading"][moving] = np.degrees(np.arctan2(v[moving, 0], v[moving, 1])) % 360.0
        self.tracks.view(_RAW)[ti] = rec.view(_RAW)

    def _create(self, z: Measurements, t_ns: int) -> None:
        k = len(z)
        new = np.zeros(k, TRACK_DTYPE)
        hv = ~np.isnan(z.vel[:, 0])
        x = new["x"]
        x[:, :2] = z.pos
        x[hv, 2:] = z.vel[hv]
        new["p"] = kalman.initial_covariance(z.pos_var, np.where(hv, z.vel_var, _NEW_VEL_VAR))
        new["ids"] = np.arange(self.next_id, self.next_id + k)
        new["state"] = CONFIRMED if self.params.confirm_hits <= 1 else TENTATIVE
        new["hits"] = 1
        new["t_created"] = new["t_updated"] = t_ns
        hc = z.has_cam
        new["cam_hits"] = new["cam_support"] = hc
        new["radar_hits"] = z.has_radar
        new["cam_scores"][hc, z.cls[hc]] = z.conf[hc]
        ro = z.has_radar & ~hc & (z.cls != UNKNOWN)
        new["radar_scores"][ro, z.cls[ro]] = 0.5
        new["conf"] = z.conf
        new["size"] = np.where(np.isnan(z.size), SIZES[z.cls], z.size)
        new["heading"] = np.degrees(np.arctan2(x[:, 2], x[:, 3])) % 360.0
        new["src_mask"] = z.src_mask
        self.next_id += k
        self.tracks = np.concatenate([self.tracks.view(_RAW), new.view(_RAW)]).view(TRACK_DTYPE)

    def _lifecycle(self, t_ns: int) -> None:
        p, t = self.params, self.tracks
        since = (t_ns - t["t_updated"]) / 1e9
        state = t["state"]
        state[(state == CONFIRMED) & (since > p.lost_after_s)] = LOST
        drop = ((state == TENTATIVE) & (since > p.tentative_timeout_s)) | (
            (state == LOST) & (since > p.delete_after_s))
        if drop.any():
            self.tracks = _rows(t, ~drop)

    # ------------------------------------------------------------------ state
    def snapshot(self) -> dict[str, Any]:
        t = self.tracks
        out: dict[str, Any] = {name: t[name].tolist() for name in TRACK_DTYPE.names}
        out.update(t_ns=self.t_ns, next_id=self.next_id, cam_health=self.cam_health)
        return out

    def restore(self, snap: dict[str, Any]) -> None:
        t = np.zeros(len(snap["ids"]), TRACK_DTYPE)
        for name in TRACK_DTYPE.names:
            t[name] = np.asarray(snap[name], dtype=TRACK_DTYPE[name].base).reshape(t[name].shape)
        self.tracks = t
        self.t_ns, self.next_id, self.cam_health = snap["t_ns"], int(snap["next_id"]), float(snap["cam_health"])
