"""Multi-object tracker: one constant-velocity Kalman filter per track, gated minimum-cost association,
lifecycle tentative -> confirmed -> lost -> deleted, stable ids. Deterministic; driven only by the event
times it is given. All tracks live in one :class:`~rsu.fusion.tracks.TrackTable` (``Tracker.tracks``);
``tracker.x``, ``tracker.state`` and the other fields are views of its columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from rsu.core.clock import CLOCK_STEP_NS
from rsu.fusion import kalman
from rsu.fusion.associate import gated_pairs, solve_pairs, track_pairs
from rsu.fusion.classes import BIRTH_RADIUS_M, COMPAT_COST, GATE_SCALE, SIZES, UNKNOWN
from rsu.fusion.measurements import Measurements
from rsu.fusion.tracks import FIELDS, TrackTable

__all__ = ["Tracker", "TrackerParams", "TENTATIVE", "CONFIRMED", "LOST", "STATE_NAMES"]

TENTATIVE, CONFIRMED, LOST = 0, 1, 2
STATE_NAMES = ("tentative", "confirmed", "lost")
_NEW_VEL_VAR = 16.0
_SUPPORT_ALPHA = 0.15
_SUPPORT_MIN = 0.2
_HEALTH_MIN = 0.5
_NO_INDEX = np.zeros(0, np.intp)
_BIRTH_RADIUS_MAX = float(BIRTH_RADIUS_M.max())


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
        return getattr(self.tracks, name)

    def put(self: Tracker, value: Any) -> None:
        setattr(self.tracks, name, value)

    return property(get, put, doc=f"``{name}`` of every track (a view of ``tracks``).")


class Tracker:
    """Tracks in a :class:`TrackTable` (``self.tracks``; ``self.x`` is its ``(N, 4)`` state view etc.)."""

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
        self.tracks = TrackTable.zeros(0)

    def __len__(self) -> int:
        return len(self.tracks)

    # ------------------------------------------------------------------ derived values
    def classes(self) -> npt.NDArray[np.int64]:
        """Class per track: the camera's vote when the camera ever saw it, else the radar's."""
        t = self.tracks
        scores = np.where((t.cam_hits > 0)[:, None], t.cam_scores, t.radar_scores)
        return np.where(scores.max(axis=1) > 0, scores.argmax(axis=1), UNKNOWN)

    def published(self) -> npt.NDArray[np.intp]:
        """Indices of the tracks to report: confirmed, or lost for less than ``publish_lost_s``."""
        if self.t_ns is None or not len(self):
            return _NO_INDEX
        t, prm = self.tracks, self.params
        state = t.state
        ok = (state == CONFIRMED) | ((state == LOST) & ((self.t_ns - t.t_updated) / 1e9 <= prm.publish_lost_s))
        if prm.camera_veto_frames > 0:  # the camera keeps not seeing what radar reports
            ok &= (t.cam_miss < prm.camera_veto_frames) | (t.cam_support >= _SUPPORT_MIN)
        return np.flatnonzero(ok)

    # ------------------------------------------------------------------ one cycle
    def step(self, t_ns: int, meas: Measurements, view_fn: Any = None) -> None:
        """Predict every track to ``t_ns``, associate, update, start new tracks, run the lifecycle.

        :param view_fn: ENU ``(N, 2)`` -> bool mask of points the cycle's camera should see, or None when
            the cycle has no camera frame (counts camera misses of never-seen tracks for the veto).
        """
        p = self.params
        if self.t_ns is not None and self.t_ns - t_ns > CLOCK_STEP_NS:  # the clock was set back: the tracks'
            shift = t_ns - self.t_ns  # times move with it, so ages stay what they were
            self.tracks.t_created += shift
            self.tracks.t_updated += shift
            self.t_ns = t_ns
        dt = 0.0 if self.t_ns is None else max(0.0, (t_ns - self.t_ns) / 1e9)
        self.t_ns = t_ns if self.t_ns is None else max(self.t_ns, t_ns)
        t = self.tracks
        n, m = len(t), len(meas)
        if n and dt > 0:
            t.x, t.p = kalman.predict(t.x, t.p, dt, p.accel_std)
        ti = mi = _NO_INDEX
        if n and m:
            cov = t.p
            var_t = 0.5 * (cov[:, 0, 0] + cov[:, 1, 1])
            gate = p.gate_m * GATE_SCALE[meas.cls] + 3.0 * np.sqrt(meas.pos_var)
            ti, mi = solve_pairs(*track_pairs(t.x[:, :2], var_t, self.classes(), meas.pos, meas.pos_var,
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
            i, _, d = gated_pairs(meas.pos[rest], self.tracks.x[ti, :2], _BIRTH_RADIUS_MAX)
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
        seen = view_fn(t.x[:, :2])
        # how well the camera sees right now (glare, rain): share of confirmed tracks both sensors saw that it detects;
        # support only counts while the camera works, so a blinded camera does not hide real objects
        ref = seen & (t.radar_hits > 0) & (t.cam_hits >= 3) & (t.state == CONFIRMED)
        n_ref = np.count_nonzero(ref)
        if n_ref >= 2:
            self.cam_health = 0.8 * self.cam_health + 0.2 * (np.count_nonzero(cam_now[ref]) / n_ref)
        if self.cam_health >= _HEALTH_MIN:
            t.cam_miss[seen] += 1
            support = t.cam_support
            support[seen] = (1 - _SUPPORT_ALPHA) * support[seen] + _SUPPORT_ALPHA * cam_now[seen]

    def _merge_duplicates(self) -> None:
        """Two tracks on top of each other moving alike are one object: keep the older."""
        t = self.tracks
        if len(t) < 2:
            return
        x = t.x
        a, b, d = gated_pairs(x[:, :2], x[:, :2], _BIRTH_RADIUS_MAX)
        alike = (a < b) & (np.hypot(x[a, 2] - x[b, 2], x[a, 3] - x[b, 3]) < 2.0)
        if not alike.any():
            return
        a, b, d = a[alike], b[alike], d[alike]
        ca, cb = self.classes()[[a, b]]
        close = (d < np.minimum(BIRTH_RADIUS_M[ca], BIRTH_RADIUS_M[cb])) & np.isfinite(COMPAT_COST[ca, cb])
        if not close.any():
            return
        drop = np.zeros(len(t), bool)
        for i, j in sorted(zip(a[close].tolist(), b[close].tolist())):
            if drop[i] or drop[j]:
                continue
            older_i = (t.t_created[i], t.ids[i]) <= (t.t_created[j], t.ids[j])
            keep, gone = (i, j) if older_i else (j, i)
            t.cam_hits[keep] += t.cam_hits[gone]
            t.cam_scores[keep] += t.cam_scores[gone]
            t.cam_support[keep] = max(t.cam_support[keep], t.cam_support[gone])
            t.src_mask[keep] |= t.src_mask[gone]
            drop[gone] = True
        self.tracks = t.take(~drop)

    def _update(self, ti: npt.NDArray[np.intp], z: Measurements, t_ns: int) -> None:
        rec = self.tracks.take(ti)  # a copy of the updated tracks, written back at the end
        x, cov = kalman.update(rec.x, rec.p, z.pos, z.pos_var)  # position, then velocity where measured
        hv = ~np.isnan(z.vel[:, 0])
        if hv.any():
            xv, cv = kalman.update(x, cov, np.where(hv[:, None], z.vel, 0.0), np.where(hv, z.vel_var, 1.0), first=2)
            x, cov = (xv, cv) if hv.all() else (np.where(hv[:, None], xv, x), np.where(hv[:, None, None], cv, cov))
        rec.x, rec.p = x, cov
        hc, cls = z.has_cam, z.cls
        hits, cam_hits, conf, size, state = rec.hits, rec.cam_hits, rec.conf, rec.size, rec.state  # views
        hits += 1
        cam_hits += hc
        rec.radar_hits[...] += z.has_radar
        rec.t_updated[...] = t_ns
        rec.src_mask[...] = z.src_mask
        rec.cam_scores[hc, cls[hc]] += z.conf[hc]
        ro = z.has_radar & ~hc & (cls != UNKNOWN)
        rec.radar_scores[ro, cls[ro]] += 0.5
        # confidence from the camera once it saw the track, else from whatever sensor updates it
        conf[...] = np.where(hc | (cam_hits == 0), 0.7 * conf + 0.3 * z.conf, conf)
        has_size = ~np.isnan(z.size[:, 0])
        size[has_size] = 0.8 * size[has_size] + 0.2 * z.size[has_size]
        state[state == LOST] = CONFIRMED
        state[(state == TENTATIVE) & (hits >= self.params.confirm_hits)] = CONFIRMED
        ve, vn = x[:, 2], x[:, 3]
        rec.heading = np.where(np.hypot(ve, vn) > 0.5, np.degrees(np.arctan2(ve, vn)) % 360.0, rec.heading)
        self.tracks.put(ti, rec)

    def _create(self, z: Measurements, t_ns: int) -> None:
        k = len(z)
        new = TrackTable.zeros(k)
        hv = ~np.isnan(z.vel[:, 0])
        x = new.x
        x[:, :2] = z.pos
        x[hv, 2:] = z.vel[hv]
        new.p = kalman.initial_covariance(z.pos_var, np.where(hv, z.vel_var, _NEW_VEL_VAR))
        new.ids = np.arange(self.next_id, self.next_id + k)
        new.state = CONFIRMED if self.params.confirm_hits <= 1 else TENTATIVE
        new.hits = 1
        new.t_created = new.t_updated = t_ns
        hc = z.has_cam
        new.cam_hits = new.cam_support = hc
        new.radar_hits = z.has_radar
        new.cam_scores[hc, z.cls[hc]] = z.conf[hc]
        ro = z.has_radar & ~hc & (z.cls != UNKNOWN)
        new.radar_scores[ro, z.cls[ro]] = 0.5
        new.conf = z.conf
        new.size = np.where(np.isnan(z.size), SIZES[z.cls], z.size)
        new.heading = np.degrees(np.arctan2(x[:, 2], x[:, 3])) % 360.0
        new.src_mask = z.src_mask
        self.next_id += k
        self.tracks = self.tracks.join(new)

    def _lifecycle(self, t_ns: int) -> None:
        p, t = self.params, self.tracks
        since = (t_ns - t.t_updated) / 1e9
        state = t.state
        state[(state == CONFIRMED) & (since > p.lost_after_s)] = LOST
        drop = ((state == TENTATIVE) & (since > p.tentative_timeout_s)) | (
            (state == LOST) & (since > p.delete_after_s))
        if drop.any():
            self.tracks = t.take(~drop)

    # ------------------------------------------------------------------ state
    def snapshot(self) -> dict[str, Any]:
        out = self.tracks.snapshot()
        out.update(t_ns=self.t_ns, next_id=self.next_id, cam_health=self.cam_health)
        return out

    def restore(self, snap: dict[str, Any]) -> None:
        self.tracks = TrackTable.from_snapshot({name: snap[name] for name in FIELDS})
        self.t_ns, self.next_id, self.cam_health = snap["t_ns"], int(snap["next_id"]), float(snap["cam_health"])
