"""Keys of sealed models: the AES-256 model key (file or environment variable) and Ed25519 signing keys.

The model key is wrapped in :class:`ModelKey`, whose ``repr``/``str`` show only its id (first 16 hex digits of
the SHA-256 of the key), so a key never reaches a log line or an error message by accident.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["SealKeyError", "ModelKey", "load_model_key", "key_from_text", "load_signing_key", "load_verify_key",
           "public_key_id", "generate_keys", "GeneratedKeys"]

KEY_BYTES = 32


class SealKeyError(ValueError):
    """A key is missing or malformed; the message names where it was looked for, never the key itself."""


@dataclass(frozen=True, slots=True)
class ModelKey:
    """An AES-256 key. ``repr`` shows ``ModelKey(id=...)`` only."""

    secret: bytes = field(repr=False)
    origin: str = ""

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_BYTES:
            raise SealKeyError(f"model key from {self.origin or 'input'}: expected {KEY_BYTES} bytes, "
                            f"got {len(self.secret)}")

    @property
    def key_id(self) -> str:
        return hashlib.sha256(b"rsu-model-key\0" + self.secret).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"ModelKey(id={self.key_id}, from={self.origin or '?'})"

    __str__ = __repr__

    @classmethod
    def generate(cls) -> ModelKey:
        return cls(secrets.token_bytes(KEY_BYTES), "generated")


def key_from_text(text: str | bytes, origin: str) -> ModelKey:
    """Parse a key: 32 raw bytes, 64 hex digits, or base64 of 32 bytes (surrounding whitespace ignored)."""
    raw = text.encode("ascii", "replace") if isinstance(text, str) else text
    if len(raw) == KEY_BYTES:
        return ModelKey(bytes(raw), origin)
    stripped = raw.strip()
    if len(stripped) == 2 * KEY_BYTES:
        try:
            return ModelKey(bytes.fromhex(stripped.decode("ascii")), origin)
        except (ValueError, UnicodeDecodeError):
            pass
    try:
        decoded = base64.b64decode(stripped, validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if len(decoded) == KEY_BYTES:
        return ModelKey(decoded, origin)
    raise SealKeyError(f"model key from {origin}: not a {KEY_BYTES}-byte key (expected raw bytes, 64 hex digits "
                    "or base64)")


def load_model_key(key_file: str | Path | None = None, key_env: str | None = None) -> ModelKey | None:
    """The key from ``key_file`` if given, else from the environment variable ``key_env``; None when neither
    is set. A named file that is missing or malformed raises :class:`SealKeyError`."""
    if key_file:
        path = Path(key_file).expanduser()
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise SealKeyError(f"model key file {path}: {exc.strerror or exc}") from None
        return key_from_text(data, f"file {path}")
    if key_env:
        value = os.environ.get(key_env)
        if value:
            return key_from_text(value, f"${key_env}")
    return None


def load_signing_key(path: str | Path) -> Any:
    """An Ed25519 private key from a PEM file (PKCS#8, unencrypted)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = Path(path).expanduser()
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise SealKeyError(f"signing key {path}: cannot read an Ed25519 private key (PEM): "
                        f"{getattr(exc, 'strerror', None) or type(exc).__name__}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SealKeyError(f"signing key {path}: not an Ed25519 key")
    return key


def load_verify_key(path: str | Path) -> Any:
    """An Ed25519 public key from a PEM file."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    path = Path(path).expanduser()
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError, TypeError) as exc:
        raise SealKeyError(f"verify key {path}: cannot read an Ed25519 public key (PEM): "
                        f"{getattr(exc, 'strerror', None) or type(exc).__name__}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SealKeyError(f"verify key {path}: not an Ed25519 key")
    return key


def public_key_id(public_key: Any) -> str:
    """First 16 hex digits of the SHA-256 of the raw Ed25519 public key."""
    from cryptography.hazmat.primitives import serialization

    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class GeneratedKeys:
    model_key: Path
    signing_key: Path
    verify_key: Path
    model_key_id: str
    signer_id: str


def _write_secret(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def generate_keys(folder: str | Path, *, force: bool = False) -> GeneratedKeys:
    """Write ``model.key`` (base64, mode 0600), ``signing.pem`` (mode 0600) and ``signing.pub.pem``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = GeneratedKeys(folder / "model.key", folder / "signing.pem", folder / "signing.pub.pem", "", "")
    existing = [p for p in (paths.model_key, paths.signing_key, paths.verify_key) if p.exists()]
    if existing and not force:
        raise FileExistsError(f"key files exist (use force to replace): {', '.join(map(str, existing))}")
    for p in existing:
        p.unlink()
    key = ModelKey.generate()
    signer = Ed25519PrivateKey.generate()
    _write_secret(paths.model_key, base64.b64encode(key.secret) + b"\n")
    _write_secret(paths.signing_key, signer.private_bytes(serialization.Encoding.PEM,
                                                          serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))
    paths.verify_key.write_bytes(signer.public_key().public_bytes(serialization.Encoding.PEM,
                                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    return GeneratedKeys(paths.model_key, paths.signing_key, paths.verify_key, key.key_id,
                         public_key_id(signer.public_key()))
