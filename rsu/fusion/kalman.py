"""Constant-velocity Kalman filter over many tracks at once (state ``[e, n, ve, vn]`` in ENU).

The arithmetic runs component-major (states ``(4, N)``, covariances ``(4, 4, N)``), so that each
operation sweeps one contiguous row per matrix element; the functions take and return the usual
track-major ``(N, 4)`` / ``(N, 4, 4)`` arrays (as views of component-major results).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt

__all__ = ["predict", "update", "initial_covariance"]

Array = npt.NDArray[np.float64]


@lru_cache(maxsize=32)
def _model(dt: float, accel_std: float) -> tuple[Array, Array, Array]:
    """``F``, ``F kron F`` (so that ``vec(F P F^T) = (F kron F) vec(P)``) and ``vec(Q)`` (white-acceleration
    noise) as a column, for one step of ``dt`` seconds. Cached: cycles repeat the same steps."""
    f = np.eye(4)
    f[0, 2] = f[1, 3] = dt
    g = np.zeros((4, 2))
    g[0, 0] = g[1, 1] = dt * dt / 2
    g[2, 0] = g[3, 1] = dt
    q = accel_std**2 * (g @ g.T)
    out = (f, np.kron(f, f), q.reshape(16, 1))
    for a in out:
        a.flags.writeable = False
    return out


def predict(x: Array, p: Array, dt: float, accel_std: float) -> tuple[Array, Array]:
    """Advance states ``(N, 4)`` and covariances ``(N, 4, 4)`` by ``dt`` seconds (white-acceleration noise)."""
    n = len(x)
    if dt <= 0 or n == 0:
        return x, p
    f, ff, q = _model(float(dt), float(accel_std))
    cov = (ff @ p.transpose(1, 2, 0).reshape(16, n) + q).reshape(4, 4, n)
    return (f @ x.T).T, cov.transpose(2, 0, 1)


def update(x: Array, p: Array, z: Array, r_diag: Array, first: int = 0) -> tuple[Array, Array]:
    """Update states with measurements of ``k`` of their components, from component ``first`` on.

    The components are taken two at a time (a sequence of exact 2x2 updates, the same as one joint update
    since measurement errors are independent), so no general matrix solve is needed.

    :param z: ``(N, k)``, ``k`` = 2 (position, or velocity with ``first=2``) or 4 (position and velocity).
    :param r_diag: ``(N, k)`` measurement variances (independent components), or ``(N,)`` when the
        ``k`` components share one variance.
    """
    if len(x) == 0:
        return x, p
    xs, cov = x.T, p.transpose(1, 2, 0)
    for j in range(0, z.shape[1], 2):
        r0, r1 = (r_diag, r_diag) if r_diag.ndim == 1 else (r_diag[:, j], r_diag[:, j + 1])
        xs, cov = _update_pair(xs, cov, z[:, j], z[:, j + 1], r0, r1, first + j)
    return xs.T, cov.transpose(2, 0, 1)


def _update_pair(x: Array, p: Array, z0: Array, z1: Array, r0: Array, r1: Array,
                 j: int) -> tuple[Array, Array]:
    """Kalman update of states ``(4, N)`` and covariances ``(4, 4, N)`` with a measurement of components
    ``j, j + 1`` (values ``z0``, ``z1``, variances ``r0``, ``r1``)."""
    c0, c1 = p[j], p[j + 1]  # rows j, j + 1 of P: P H^T, transposed (P is symmetric)
    s00, s01, s11 = c0[j] + r0, c0[j + 1], c1[j + 1] + r1
    inv = 1.0 / (s00 * s11 - s01 * s01)
    k0 = c0 * (s11 * inv) - c1 * (s01 * inv)  # the two gain columns, (4, N) each
    k1 = c1 * (s00 * inv) - c0 * (s01 * inv)
    x = x + k0 * (z0 - x[j]) + k1 * (z1 - x[j + 1])
    p = p - (k0[:, None] * c0 + k1[:, None] * c1)
    return x, 0.5 * (p + p.transpose(1, 0, 2))


def initial_covariance(pos_var: Array, vel_var: Array) -> Array:
    """Diagonal covariances ``(N, 4, 4)`` from per-track position and velocity variances."""
    n = len(pos_var)
    p = np.zeros((n, 4, 4))
    p[:, 0, 0] = p[:, 1, 1] = pos_var
    p[:, 2, 2] = p[:, 3, 3] = vel_var
    return p
