"""Read an ``.npz`` of float arrays from an untrusted box, checking sizes and shapes before decompressing.

``np.load`` trusts the archive: a 389 kB npz of zeros expands to 10^8 float32 elements (400 MB) before any
check can run. Here every member's zip header (declared uncompressed size, compression method) and its ``.npy``
header (dtype, shape, order) are checked first; data is then read with a hard cap of exactly the bytes the
header promised. No pickles (object dtypes are refused), no allocation beyond the limits.
"""

from __future__ import annotations

import io
import tokenize
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["NpzLimits", "NpzError", "read_npz"]

_MAX_HEADER = 4096  # an .npy header of a plain float array is about 128 bytes


class NpzError(ValueError):
    """The archive breaks a limit or is not an npz of float arrays; the message names the member and the limit."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NpzLimits:
    """What one archive may hold."""

    max_bytes: int = 64 * 1024 * 1024  # compressed, the message itself
    max_arrays: int = 256
    max_elements: int = 16 * 1024 * 1024  # all arrays together


def _read_header(fh: io.BufferedIOBase, name: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh, max_header_size=_MAX_HEADER)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh, max_header_size=_MAX_HEADER)
        else:
            raise NpzError(f"member {name!r}: unsupported .npy version {version}")
    except NpzError:
        raise
    except (ValueError, SyntaxError, TypeError, tokenize.TokenError, RecursionError, MemoryError) as exc:
        # numpy parses the header text with tokenize/ast: a garbled one raises TokenError (found by rsu fuzz)
        raise NpzError(f"member {name!r}: not an .npy header ({exc})") from None
    return tuple(int(s) for s in shape), bool(fortran), np.dtype(dtype)


def read_npz(data: bytes, limits: NpzLimits = NpzLimits(),
             expected: Mapping[str, tuple[int, ...]] | None = None) -> dict[str, np.ndarray]:
    """The float arrays of ``data`` as float32, by name (``x.npy`` -> ``x``).

    :param expected: name -> shape; any other name, a missing name or another shape is refused before
        that member's data is decompressed.
    :raises NpzError: naming the first problem.
    """
    if len(data) > limits.max_bytes:
        raise NpzError(f"{len(data)} bytes is over the {limits.max_bytes} byte limit")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, NotImplementedError) as exc:
        raise NpzError(f"not an .npz archive ({type(exc).__name__}: {exc})") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_arrays:
            raise NpzError(f"{len(infos)} arrays is over the {limits.max_arrays} limit")
        plan: list[tuple[zipfile.ZipInfo, str]] = []
        for info in infos:
            name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            if not info.filename.endswith(".npy") or not name:
                raise NpzError(f"member {info.filename[:80]!r} is not an .npy array")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise NpzError(f"member {name!r}: compression method {info.compress_type} is not allowed")
            if expected is not None and name not in expected:
                raise NpzError(f"member {name!r} is not a weight of the model (expected {sorted(expected)})")
            plan.append((info, name))
        names = [n for _, n in plan]
        if len(set(names)) != len(names):
            raise NpzError("an array name appears twice")
        if expected is not None and set(names) != set(expected):
            raise NpzError(f"weights lack {sorted(set(expected) - set(names))}")
        budget = limits.max_elements
        out: dict[str, np.ndarray] = {}
        for info, name in plan:
            out[name] = _read_member(zf, info, name, expected, budget)
            budget -= out[name].size
    return out


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str,
                 expected: Mapping[str, tuple[int, ...]] | None, budget: int) -> np.ndarray:
    # the declared uncompressed size bounds what zipfile will ever inflate for this member
    if info.file_size > budget * 8 + _MAX_HEADER + 16:
        raise NpzError(f"member {name!r}: declares {info.file_size} bytes uncompressed, over the limit of "
                       f"{budget} elements left")
    try:
        with zf.open(info) as fh:
            shape, fortran, dtype = _read_header(fh, name)  # type: ignore[arg-type]
            if dtype.kind != "f" or dtype.hasobject or dtype.itemsize > 8:
                raise NpzError(f"member {name!r}: dtype {dtype} is not float16/32/64")
            if any(s < 0 for s in shape):
                raise NpzError(f"member {name!r}: negative shape {shape}")
            if expected is not None and shape != tuple(expected[name]):
                raise NpzError(f"weight {name!r} has shape {shape}, expected {tuple(expected[name])}")
            count = 1
            for s in shape:
                count *= s
                if count > budget:
                    raise NpzError(f"member {name!r}: shape {shape} is over the limit of {budget} elements left")
            need = count * dtype.itemsize
            raw = fh.read(need)
    except NpzError:
        raise
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError, RuntimeError) as exc:
        raise NpzError(f"member {name!r}: cannot be read ({type(exc).__name__}: {exc})") from None
    if len(raw) != need:
        raise NpzError(f"member {name!r}: {len(raw)} data bytes, its header promises {need}")
    arr = np.frombuffer(raw, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    return np.array(arr, dtype=np.float32)
