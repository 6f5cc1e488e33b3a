"""Constant-velocity Kalman filter over many tracks at once (state ``[e, n, ve, vn]`` in ENU)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["predict", "update", "initial_covariance"]

Array = npt.NDArray[np.float64]


def predict(x: Array, p: Array, dt: float, accel_std: float) -> tuple[Array, Array]:
    """Advance states ``(N, 4)`` and covariances ``(N, 4, 4)`` by ``dt`` seconds (white-acceleration noise)."""
    if dt <= 0 or len(x) == 0:
        return x, p
    x = x.copy()
    x[:, 0:2] += dt * x[:, 2:4]
    # F P F^T for F = [[I, dt I], [0, I]], written out blockwise
    pp, pv, vp, vv = p[:, :2, :2], p[:, :2, 2:], p[:, 2:, :2], p[:, 2:, 2:]
    out = np.empty_like(p)
    out[:, :2, :2] = pp + dt * (pv + vp) + dt * dt * vv
    out[:, :2, 2:] = pv + dt * vv
    out[:, 2:, :2] = vp + dt * vv
    out[:, 2:, 2:] = vv
    q = accel_std**2
    i2 = np.eye(2)
    out[:, :2, :2] += q * dt**4 / 4 * i2
    out[:, :2, 2:] += q * dt**3 / 2 * i2
    out[:, 2:, :2] += q * dt**3 / 2 * i2
    out[:, 2:, 2:] += q * dt**2 * i2
    return x, out


def update(x: Array, p: Array, z: Array, r_diag: Array) -> tuple[Array, Array]:
    """Update states with measurements of their first ``k`` components.

    :param z: ``(N, k)``, ``k`` = 2 (position) or 4 (position and velocity).
    :param r_diag: ``(N, k)`` measurement variances (independent components).
    """
    if len(x) == 0:
        return x, p
    k = z.shape[1]
    s = p[:, :k, :k] + r_diag[:, :, None] * np.eye(k)
    gain = np.linalg.solve(s, p[:, :k, :]).transpose(0, 2, 1)  # P H^T S^-1 (S symmetric)
    innov = z - x[:, :k]
    x = x + np.einsum("nij,nj->ni", gain, innov)
    p = p - np.einsum("nik,nkj->nij", gain, p[:, :k, :])
    p = 0.5 * (p + p.transpose(0, 2, 1))
    return x, p


def initial_covariance(pos_var: Array, vel_var: Array) -> Array:
    """Diagonal covariances ``(N, 4, 4)`` from per-track position and velocity variances."""
    n = len(pos_var)
    p = np.zeros((n, 4, 4))
    p[:, 0, 0] = p[:, 1, 1] = pos_var
    p[:, 2, 2] = p[:, 3, 3] = vel_var
    return p
