"""Sealed model files: AES-256-GCM encrypted at rest, Ed25519 signed, decrypted only in memory.

File layout (format 1), all of it covered by the signature except the signature itself::

    b"RSUSEAL1"                 magic (8 bytes)
    uint32 big-endian           header length H
    header (H bytes)            UTF-8 JSON, sorted keys: format, alg ("AES-256-GCM" or "none"), key_id,
                                nonce (base64), sha256 (of the plaintext model), size, signer, name
    payload                     ciphertext + 16-byte GCM tag (the header is its associated data), or the
                                plaintext when alg is "none" (signed only)
    signature (64 bytes)        Ed25519 over everything before it

Opening checks, in order: the magic and header, the signature against the configured public key, the key id,
the GCM tag, then the SHA-256 of the plaintext. Each failure is a :class:`SealError` naming the file and what
did not match; key material never appears in messages or logs (keys show as their id only).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rsu.config.protection import DEFAULT_VERIFY_KEY_ENV, ModelProtectionConfig
from rsu.core.errors import ModelError
from rsu.inference.seal_keys import ModelKey, SealKeyError, load_model_key, load_verify_key, public_key_id

__all__ = ["MAGIC", "SealError", "SealedHeader", "seal_bytes", "seal_file", "open_sealed", "read_header",
           "is_sealed", "verify_file", "load_model", "ModelKeys"]

log = logging.getLogger(__name__)

MAGIC = b"RSUSEAL1"
FORMAT = 1
SIG_BYTES = 64
NONCE_BYTES = 12
_LEN = struct.Struct(">I")
_MAX_HEADER = 64 * 1024


class SealError(ModelError, ValueError):
    """A sealed model is malformed, tampered with, signed by another key, or the key is wrong or missing."""


@dataclass(frozen=True, slots=True)
class SealedHeader:
    alg: str
    key_id: str | None
    nonce: bytes | None
    sha256: str
    size: int
    signer: str
    name: str

    @property
    def encrypted(self) -> bool:
        return self.alg != "none"

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "alg": self.alg, "key_id": self.key_id, "sha256": self.sha256, "size": self.size,
                "signer": self.signer, "name": self.name,
                "nonce": None if self.nonce is None else base64.b64encode(self.nonce).decode("ascii")}


@dataclass(frozen=True, slots=True)
class ModelKeys:
    """What a box needs to open sealed models: the AES key (None: not configured) and the signer's public key."""

    key: ModelKey | None
    verify_key: Any
    require_sealed: bool = False

    @classmethod
    def from_config(cls, cfg: ModelProtectionConfig | None) -> ModelKeys:
        cfg = cfg or ModelProtectionConfig()
        key = load_model_key(cfg.key_file, cfg.key_env)
        verify = cfg.verify_key or os.environ.get(DEFAULT_VERIFY_KEY_ENV) or None
        return cls(key, load_verify_key(verify) if verify else None, cfg.require_sealed)


# ---------------------------------------------------------------------------------------------- writing
def seal_bytes(plaintext: bytes, *, signing_key: Any, key: ModelKey | None, name: str = "model") -> bytes:
    """Seal ``plaintext``: encrypt with ``key`` (None: signed only) and sign with ``signing_key``."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(NONCE_BYTES) if key is not None else None
    header = SealedHeader(alg="AES-256-GCM" if key is not None else "none",
                          key_id=key.key_id if key is not None else None, nonce=nonce,
                          sha256=hashlib.sha256(plaintext).hexdigest(), size=len(plaintext),
                          signer=public_key_id(signing_key.public_key()), name=name)
    hbytes = json.dumps(header.to_json(), sort_keys=True, separators=(",", ":")).encode("utf-8")
    prefix = MAGIC + _LEN.pack(len(hbytes)) + hbytes
    payload = AESGCM(key.secret).encrypt(nonce, plaintext, prefix) if key is not None else plaintext
    body = prefix + payload
    return body + signing_key.sign(body)


def seal_file(src: str | Path, dst: str | Path, *, signing_key: Any, key: ModelKey | None) -> SealedHeader:
    """Seal the model file ``src`` into ``dst`` (written atomically); returns the header."""
    src, dst = Path(src), Path(dst)
    data = seal_bytes(src.read_bytes(), signing_key=signing_key, key=key, name=src.name)
    tmp = dst.with_name(dst.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, dst)
    header, _, _, _ = _split(data, str(dst))
    log.info("sealed %s -> %s (%s, key id %s, signer %s)", src.name, dst, header.alg, header.key_id, header.signer)
    return header


# ---------------------------------------------------------------------------------------------- reading
def is_sealed(path: str | Path) -> bool:
    """True when ``path`` starts with the sealed-model magic."""
    try:
        with open(path, "rb") as fh:
            return fh.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def _split(data: bytes, where: str) -> tuple[SealedHeader, bytes, bytes, bytes]:
    """``(header, signed prefix+payload, payload, signature)``; raises :class:`SealError` when malformed."""
    if not data.startswith(MAGIC):
        raise SealError(f"{where}: not a sealed model (no {MAGIC.decode()} header)")
    if len(data) < len(MAGIC) + _LEN.size + SIG_BYTES:
        raise SealError(f"{where}: sealed model is truncated ({len(data)} bytes)")
    (hlen,) = _LEN.unpack_from(data, len(MAGIC))
    start = len(MAGIC) + _LEN.size
    if hlen > _MAX_HEADER or start + hlen > len(data) - SIG_BYTES:
        raise SealError(f"{where}: sealed model header length {hlen} is out of range (file damaged)")
    try:
        doc = json.loads(data[start:start + hlen].decode("utf-8"))
        if doc.get("format") != FORMAT:
            raise SealError(f"{where}: sealed model format {doc.get('format')!r} is not supported (expected {FORMAT})")
        nonce = base64.b64decode(doc["nonce"]) if doc.get("nonce") else None
        header = SealedHeader(alg=str(doc["alg"]), key_id=doc.get("key_id"), nonce=nonce, sha256=str(doc["sha256"]),
                              size=int(doc["size"]), signer=str(doc["signer"]), name=str(doc.get("name", "")))
    except SealError:
        raise
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise SealError(f"{where}: sealed model header is not valid ({type(exc).__name__}: {exc})") from None
    if header.alg not in ("AES-256-GCM", "none"):
        raise SealError(f"{where}: unknown algorithm {header.alg!r} in sealed model header")
    body = data[:-SIG_BYTES]
    return header, body, data[start + hlen:-SIG_BYTES], data[-SIG_BYTES:]


def read_header(path: str | Path) -> SealedHeader:
    """The header of a sealed file (nothing checked beyond its shape)."""
    return _split(Path(path).read_bytes(), str(path))[0]


def _check_signature(header: SealedHeader, body: bytes, signature: bytes, verify_key: Any, where: str) -> None:
    from cryptography.exceptions import InvalidSignature

    if verify_key is None:
        raise SealError(f"{where}: sealed model signed by {header.signer}, but no verify key is configured "
                        f"(models.protection.verify_key or ${DEFAULT_VERIFY_KEY_ENV})")
    try:
        verify_key.verify(signature, body)
    except InvalidSignature:
        raise SealError(f"{where}: signature does not match: the file was changed after sealing, or it was signed "
                        f"by another key (header names signer {header.signer}, configured verify key is "
                        f"{public_key_id(verify_key)})") from None


def open_sealed(data: bytes, *, verify_key: Any, key: ModelKey | None, where: str = "model") -> bytes:
    """Check and decrypt a sealed model in memory; returns the plaintext model bytes."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    header, body, payload, signature = _split(data, where)
    _check_signature(header, body, signature, verify_key, where)
    if header.encrypted:
        if key is None:
            raise SealError(f"{where}: model is encrypted (key id {header.key_id}) but no model key is configured "
                            "(models.protection.key_file or key_env)")
        if key.key_id != header.key_id:
            raise SealError(f"{where}: model was sealed with key id {header.key_id}, the configured key "
                            f"({key.origin}) has id {key.key_id}: wrong key")
        try:
            plaintext = AESGCM(key.secret).decrypt(header.nonce, payload, body[:len(body) - len(payload)])
        except (InvalidTag, ValueError):
            raise SealError(f"{where}: decryption failed (authentication tag does not match): wrong key or "
                            "damaged file") from None
    else:
        plaintext = payload
    digest = hashlib.sha256(plaintext).hexdigest()
    if digest != header.sha256 or len(plaintext) != header.size:
        raise SealError(f"{where}: model hash does not match its header (sha256 {digest[:16]}..., header says "
                        f"{header.sha256[:16]}...): refusing it")
    return plaintext


def verify_file(path: str | Path, *, verify_key: Any, key: ModelKey | None = None) -> dict[str, Any]:
    """Check a sealed file: signature always, decryption and hash when ``key`` is given (or not encrypted).

    Returns a report: header fields, ``signature_ok``, ``decrypted``, ``hash_ok``."""
    path = Path(path)
    data = path.read_bytes()
    header = _split(data, str(path))[0]
    report: dict[str, Any] = {"file": str(path), **header.to_json(), "signature_ok": False, "decrypted": False,
                              "hash_ok": None}
    report.pop("nonce")
    if header.encrypted and key is None:  # signature only: no key needed for that
        _, body, _, signature = _split(data, str(path))
        _check_signature(header, body, signature, verify_key, str(path))
        report["signature_ok"] = True
        return report
    open_sealed(data, verify_key=verify_key, key=key, where=str(path))
    report.update(signature_ok=True, decrypted=header.encrypted, hash_ok=True)
    return report


def load_model(path: str | Path, protection: ModelProtectionConfig | ModelKeys | None = None) -> str | bytes:
    """What to hand ONNX Runtime for ``path``: the path itself for a plain model, or the checked, decrypted
    bytes (in memory only) for a sealed one. ``protection`` None: keys from the default environment variables.

    Raises :class:`SealError` for a sealed file that fails a check, or a plain file when sealing is required.
    """
    path = Path(path)
    sealed = is_sealed(path)
    if not sealed and not (isinstance(protection, (ModelProtectionConfig, ModelKeys)) and protection.require_sealed):
        return str(path)
    try:
        keys = protection if isinstance(protection, ModelKeys) else ModelKeys.from_config(protection)
    except SealKeyError as exc:
        raise SealError(f"{path}: {exc}") from None
    if not sealed:
        raise SealError(f"{path}: not a sealed model, and models.protection.require_sealed is true "
                        "(seal it with: rsu model seal)")
    data = open_sealed(path.read_bytes(), verify_key=keys.verify_key, key=keys.key, where=str(path))
    log.info("model %s: signature and hash ok, opened in memory", path.name)
    return data
