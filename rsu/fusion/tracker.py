"""Multi-object tracker: one constant-velocity Kalman filter per track, Hungarian association,
lifecycle tentative -> confirmed -> lost -> deleted, stable ids. Plain arrays; deterministic; driven
only by the event times it is given."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from rsu.fusion import kalman
from rsu.fusion.associate import solve, track_cost
from rsu.fusion.classes import BIRTH_RADIUS_M, CLASSES, COMPAT_COST, GATE_SCALE, SIZES, UNKNOWN
from rsu.fusion.measurements import Measurements

__all__ = ["Tracker", "TrackerParams", "TENTATIVE", "CONFIRMED", "LOST", "STATE_NAMES"]

TENTATIVE, CONFIRMED, LOST = 0, 1, 2
STATE_NAMES = ("tentative", "confirmed", "lost")
_NC = len(CLASSES)
_NEW_VEL_VAR = 16.0
_SUPPORT_ALPHA = 0.15
_SUPPORT_MIN = 0.2
_HEALTH_MIN = 0.5

_ARRAYS: dict[str, tuple[Any, tuple[int, ...]]] = {  # name -> dtype, trailing shape
    "ids": (np.int64, ()), "x": (np.float64, (4,)), "p": (np.float64, (4, 4)), "state": (np.int8, ()),
    "hits": (np.int32, ()), "t_created": (np.int64, ()), "t_updated": (np.int64, ()),
    "cam_hits": (np.int32, ()), "radar_hits": (np.int32, ()), "cam_miss": (np.int32, ()), "cam_support": (np.float64, ()),
    "cam_scores": (np.float64, (_NC,)), "radar_scores": (np.float64, (_NC,)), "conf": (np.float64, ()),
    "size": (np.float64, (3,)), "heading": (np.float64, ()), "src_mask": (np.int64, ()),
}


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


class Tracker:
    """Tracks in parallel arrays (``self.x`` is ``(N, 4)`` etc.)."""

    def __init__(self, params: TrackerParams) -> None:
        self.params = params
        self.t_ns: int | None = None
        self.next_id = 1
        self.cam_health = 1.0
        for name, (dtype, shape) in _ARRAYS.items():
            setattr(self, name, np.zeros((0, *shape), dtype=dtype))

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    # ------------------------------------------------------------------ derived values
    def classes(self) -> npt.NDArray[np.int64]:
        """Class per track: the camera's vote when the camera ever saw it, else the radar's."""
        scores = np.where((self.cam_hits > 0)[:, None], self.cam_scores, self.radar_scores)
        cls = scores.argmax(axis=1)
        return np.where(scores.max(axis=1) > 0, cls, UNKNOWN)

    def published(self) -> npt.NDArray[np.intp]:
        """Indices of the tracks to report: confirmed, or lost for less than ``publish_lost_s``."""
        if self.t_ns is None or not len(self):
            return np.zeros(0, np.intp)
        since = (self.t_ns - self.t_updated) / 1e9
        ok = (self.state == CONFIRMED) | ((self.state == LOST) & (since <= self.params.publish_lost_s))
        if self.params.camera_veto_frames > 0:  # the camera keeps not seeing what radar reports
            ok &= ~((self.cam_miss >= self.params.camera_veto_frames) & (self.cam_support < _SUPPORT_MIN))
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
        self.x, self.p = kalman.predict(self.x, self.p, dt, p.accel_std)
        n, m = len(self), len(meas)
        ti = mi = np.zeros(0, np.intp)
        if n and m:
            var_t = 0.5 * (self.p[:, 0, 0] + self.p[:, 1, 1])
            gate = p.gate_m * GATE_SCALE[meas.cls] + 3.0 * np.sqrt(meas.pos_var)
            cost = track_cost(self.x[:, :2], var_t, self.classes(), meas.pos, meas.pos_var, meas.cls, gate)
            ti, mi = solve(cost)
        if len(ti):
            self._update(ti, meas.take(mi), t_ns)
        if view_fn is not None and p.camera_veto_frames > 0 and n:
            # camera support of each track the camera should see: EMA of "a detection was associated"
            cam_now = np.zeros(len(self), bool)
            cam_now[ti[meas.has_cam[mi]]] = True
            seen = view_fn(self.x[:, :2])
            # how well the camera sees right now (glare, rain): share of confirmed tracks both sensors saw that it detects;
            # support only counts while the camera works, so a blinded camera does not hide real objects
            ref = seen & (self.radar_hits > 0) & (self.cam_hits >= 3) & (self.state == CONFIRMED)
            if ref.sum() >= 2:
                self.cam_health = 0.8 * self.cam_health + 0.2 * float(cam_now[ref].mean())
            if self.cam_health >= _HEALTH_MIN:
                self.cam_miss[seen] += 1
                self.cam_support[seen] = ((1 - _SUPPORT_ALPHA) * self.cam_support[seen]
                                          + _SUPPORT_ALPHA * cam_now[seen])
        unmatched = np.ones(m, bool)
        unmatched[mi] = False
        if unmatched.any() and len(ti):
            # a measurement right next to a track that was just updated is the same object seen twice
            rest = np.flatnonzero(unmatched)
            d, _ = cKDTree(self.x[ti, :2]).query(meas.pos[rest], k=1)
            unmatched[rest[d < BIRTH_RADIUS_M[meas.cls[rest]]]] = False
        if unmatched.any():
            self._create(meas.take(np.flatnonzero(unmatched)), t_ns)
        self._merge_duplicates()
        self._lifecycle(t_ns)

    def _merge_duplicates(self) -> None:
        """Two tracks on top of each other moving alike are one object: keep the older."""
        n = len(self)
        if n < 2:
            return
        pairs = cKDTree(self.x[:, :2]).query_pairs(float(BIRTH_RADIUS_M.max()), output_type="ndarray")
        if not len(pairs):
            return
        cls = self.classes()
        a, b = pairs[:, 0], pairs[:, 1]
        d = np.hypot(*(self.x[a, :2] - self.x[b, :2]).T)
        dv = np.hypot(*(self.x[a, 2:4] - self.x[b, 2:4]).T)
        close = ((d < np.minimum(BIRTH_RADIUS_M[cls[a]], BIRTH_RADIUS_M[cls[b]])) & (dv < 2.0)
                 & np.isfinite(COMPAT_COST[cls[a], cls[b]]))
        if not close.any():
            return
        drop = np.zeros(n, bool)
        for i, j in pairs[close]:
            if drop[i] or drop[j]:
                continue
            older_i = (self.t_created[i], self.ids[i]) <= (self.t_created[j], self.ids[j])
            keep, gone = (i, j) if older_i else (j, i)
            self.cam_hits[keep] += self.cam_hits[gone]
            self.cam_scores[keep] += self.cam_scores[gone]
            self.cam_support[keep] = max(self.cam_support[keep], self.cam_support[gone])
            self.src_mask[keep] |= self.src_mask[gone]
            drop[gone] = True
        keep_mask = ~drop
        for name in _ARRAYS:
            setattr(self, name, getattr(self, name)[keep_mask])

    def _update(self, ti: npt.NDArray[np.intp], z: Measurements, t_ns: int) -> None:
        hv = ~np.isnan(z.vel[:, 0])
        for sel, with_vel in ((hv, True), (~hv, False)):
            if not sel.any():
                continue
            idx = ti[sel]
            pv = z.pos_var[sel]
            if with_vel:
                vv = z.vel_var[sel]
                zz = np.concatenate([z.pos[sel], z.vel[sel]], axis=1)
                r = np.stack([pv, pv, vv, vv], axis=1)
            else:
                zz, r = z.pos[sel], np.stack([pv, pv], axis=1)
            self.x[idx], self.p[idx] = kalman.update(self.x[idx], self.p[idx], zz, r)
        self.hits[ti] += 1
        self.t_updated[ti] = t_ns
        self.cam_hits[ti] += z.has_cam
        self.radar_hits[ti] += z.has_radar
        hc = z.has_cam
        self.cam_scores[ti[hc], z.cls[hc]] += z.conf[hc]
        ro = z.has_radar & ~hc & (z.cls != UNKNOWN)
        self.radar_scores[ti[ro], z.cls[ro]] += 0.5
        self.conf[ti] = np.where(hc, 0.7 * self.conf[ti] + 0.3 * z.conf,
                                 np.where(self.cam_hits[ti] > 0, self.conf[ti], 0.7 * self.conf[ti] + 0.3 * z.conf))
        has_size = ~np.isnan(z.size[:, 0])
        self.size[ti[has_size]] = 0.8 * self.size[ti[has_size]] + 0.2 * z.size[has_size]
        self.src_mask[ti] = z.src_mask
        st = self.state[ti]
        st = np.where(st == LOST, CONFIRMED, st)
        st = np.where((st == TENTATIVE) & (self.hits[ti] >= self.params.confirm_hits), CONFIRMED, st)
        self.state[ti] = st
        self._heading(ti)

    def _heading(self, idx: npt.NDArray[np.intp]) -> None:
        v = self.x[idx, 2:4]
        moving = np.hypot(v[:, 0], v[:, 1]) > 0.5
        self.heading[idx[moving]] = np.degrees(np.arctan2(v[moving, 0], v[moving, 1])) % 360.0

    def _create(self, z: Measurements, t_ns: int) -> None:
        k = len(z)
        hv = ~np.isnan(z.vel[:, 0])
        x = np.concatenate([z.pos, np.where(hv[:, None], z.vel, 0.0)], axis=1)
        p = kalman.initial_covariance(z.pos_var, np.where(hv, z.vel_var, _NEW_VEL_VAR))
        cam_scores = np.zeros((k, _NC))
        cam_scores[np.arange(k)[z.has_cam], z.cls[z.has_cam]] = z.conf[z.has_cam]
        radar_scores = np.zeros((k, _NC))
        ro = z.has_radar & ~z.has_cam & (z.cls != UNKNOWN)
        radar_scores[np.arange(k)[ro], z.cls[ro]] = 0.5
        size = np.where(np.isnan(z.size), SIZES[z.cls], z.size)
        state = np.where(self.params.confirm_hits <= 1, CONFIRMED, TENTATIVE)
        new = {
            "ids": np.arange(self.next_id, self.next_id + k, dtype=np.int64), "x": x, "p": p,
            "state": np.full(k, state, np.int8), "hits": np.ones(k, np.int32), "t_created": np.full(k, t_ns),
            "t_updated": np.full(k, t_ns), "cam_hits": z.has_cam.astype(np.int32),
            "radar_hits": z.has_radar.astype(np.int32), "cam_miss": np.zeros(k, np.int32),
            "cam_support": z.has_cam.astype(np.float64),
            "cam_scores": cam_scores, "radar_scores": radar_scores, "conf": z.conf.astype(np.float64),
            "size": size, "heading": np.degrees(np.arctan2(x[:, 2], x[:, 3])) % 360.0, "src_mask": z.src_mask,
        }
        self.next_id += k
        for name, arr in new.items():
            setattr(self, name, np.concatenate([getattr(self, name), arr]))

    def _lifecycle(self, t_ns: int) -> None:
        p = self.params
        since = (t_ns - self.t_updated) / 1e9
        self.state[(self.state == CONFIRMED) & (since > p.lost_after_s)] = LOST
        drop = ((self.state == TENTATIVE) & (since > p.tentative_timeout_s)) | (
            (self.state == LOST) & (since > p.delete_after_s))
        if drop.any():
            keep = ~drop
            for name in _ARRAYS:
                setattr(self, name, getattr(self, name)[keep])

    # ------------------------------------------------------------------ state
    def snapshot(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: getattr(self, name).tolist() for name in _ARRAYS}
        out.update(t_ns=self.t_ns, next_id=self.next_id, cam_health=self.cam_health)
        return out

    def restore(self, snap: dict[str, Any]) -> None:
        for name, (dtype, shape) in _ARRAYS.items():
            setattr(self, name, np.asarray(snap[name], dtype=dtype).reshape((-1, *shape)))
        self.t_ns, self.next_id, self.cam_health = snap["t_ns"], int(snap["next_id"]), float(snap["cam_health"])
