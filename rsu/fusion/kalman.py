"""Constant-velocity Kalman filter over many tracks at once (state ``[e, n, ve, vn]`` in ENU)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt

__all__ = ["predict", "update", "initial_covariance"]

Array = npt.NDArray[np.float64]


@lru_cache(maxsize=32)
def _model(dt: float, accel_std: float) -> tuple[Array, Array, Array]:
    """``F^T``, ``(F kron F)^T`` (so that ``vec(F P F^T) = vec(P) @ (F kron F)^T``) and ``vec(Q)``
    (white-acceleration noise) for one step of ``dt`` seconds. Cached: cycles repeat the same steps."""
    f = np.eye(4)
    f[0, 2] = f[1, 3] = dt
    g = np.zeros((4, 2))
    g[0, 0] = g[1, 1] = dt * dt / 2
    g[2, 0] = g[3, 1] = dt
    q = accel_std**2 * (g @ g.T)
    out = (f.T.copy(), np.kron(f, f).T.copy(), q.reshape(16))
    for a in out:
        a.flags.writeable = False
    return out


def predict(x: Array, p: Array, dt: float, accel_std: float) -> tuple[Array, Array]:
    """Advance states ``(N, 4)`` and covariances ``(N, 4, 4)`` by ``dt`` seconds (white-acceleration noise)."""
    n = len(x)
    if dt <= 0 or n == 0:
        return x, p
    ft, fft, q = _model(float(dt), float(accel_std))
    return x @ ft, (p.reshape(n, 16) @ fft + q).reshape(n, 4, 4)


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
    for j in range(0, z.shape[1], 2):
        r0, r1 = (r_diag, r_diag) if r_diag.ndim == 1 else (r_diag[:, j], r_diag[:, j + 1])
        x, p = _update_pair(x, p, z[:, j:j + 2], r0, r1, first + j)
    return x, p


def _update_pair(x: Array, p: Array, z: Array, r0: Array, r1: Array, j: int) -> tuple[Array, Array]:
    """Kalman update with a measurement of components ``j, j + 1`` (variances ``r0``, ``r1``)."""
    s00, s01, s11 = p[:, j, j] + r0, p[:, j, j + 1], p[:, j + 1, j + 1] + r1
    det = s00 * s11 - s01 * s01
    s_inv = np.stack([s11, -s01, -s01, s00], axis=1).reshape(-1, 2, 2) / det[:, None, None]
    gain = p[:, :, j:j + 2] @ s_inv  # P H^T S^-1, (N, 4, 2)
    x = x + (gain @ (z - x[:, j:j + 2])[:, :, None])[:, :, 0]
    p = p - gain @ p[:, j:j + 2, :]
    return x, 0.5 * (p + p.transpose(0, 2, 1))


def initial_covariance(pos_var: Array, vel_var: Array) -> Array:
    """Diagonal covariances ``(N, 4, 4)`` from per-track position and velocity variances."""
    n = len(pos_var)
    p = np.zeros((n, 4, 4))
    p[:, 0, 0] = p[:, 1, 1] = pos_var
    p[:, 2, 2] = p[:, 3, 3] = vel_var
    return p
