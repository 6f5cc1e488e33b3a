"""The ``models.protection`` section: sealed (encrypted and signed) model files.

A sealed model (``rsu model seal``) is AES-256-GCM encrypted at rest and Ed25519 signed; the box checks the
signature and the plaintext hash, and decrypts only in memory. The key never appears in the config itself:
the config names the file or the environment variable that holds it.
"""

from __future__ import annotations

from pydantic import Field

from rsu.config.base import StrictModel

__all__ = ["ModelProtectionConfig", "DEFAULT_KEY_ENV", "DEFAULT_VERIFY_KEY_ENV"]

DEFAULT_KEY_ENV = "RSU_MODEL_KEY"
DEFAULT_VERIFY_KEY_ENV = "RSU_MODEL_VERIFY_KEY"


class ModelProtectionConfig(StrictModel):
    """Where the model key and the signer's public key come from, and whether plain models are refused."""

    key_file: str | None = Field(default=None, description="AES-256 key file (32 raw bytes, or hex / base64 text)")
    key_env: str | None = Field(default=DEFAULT_KEY_ENV, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                                description="environment variable holding the key (hex or base64) when no key_file")
    verify_key: str | None = Field(default=None, description="Ed25519 public key (PEM) sealed models must be signed "
                                                             f"with; default: the file named by ${DEFAULT_VERIFY_KEY_ENV}")
    require_sealed: bool = Field(default=False, description="refuse model files that are not sealed")
