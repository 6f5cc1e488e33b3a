"""``rsu model keygen|seal|verify``: encrypt (AES-256-GCM) and sign (Ed25519) model files; check them."""

from __future__ import annotations

import json
from pathlib import Path

import click

_KEY_HELP = "AES-256 key file (32 raw bytes, hex or base64)."
_ENV_HELP = "Environment variable holding the AES key (hex or base64)."


def _model_key(key_file: Path | None, key_env: str | None):  # noqa: ANN202
    from rsu.inference.seal_keys import SealKeyError, load_model_key

    try:
        key = load_model_key(key_file, key_env)
    except SealKeyError as exc:
        raise click.ClickException(str(exc)) from None
    if key_env and key is None and not key_file:
        raise click.ClickException(f"--key-env: ${key_env} is not set")
    return key


@click.command("keygen")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for model.key, signing.pem (both mode 0600) and signing.pub.pem.")
@click.option("--force", is_flag=True, help="Replace existing key files.")
def keygen_cmd(out: Path, force: bool) -> None:
    """Make a model key and an Ed25519 signing key pair (the public half goes on the boxes)."""
    from rsu.inference.seal_keys import generate_keys

    try:
        keys = generate_keys(out, force=force)
    except FileExistsError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {keys.model_key} (model key id {keys.model_key_id}; secret: boxes read it from a file or "
               "$RSU_MODEL_KEY)")
    click.echo(f"wrote {keys.signing_key} (signing key {keys.signer_id}; secret: stays where models are sealed)")
    click.echo(f"wrote {keys.verify_key} (public: models.protection.verify_key on every box)")


@click.command("seal")
@click.argument("model", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Sealed file (default: MODEL + .sealed).")
@click.option("--signing-key", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Ed25519 private key (PEM).")
@click.option("--key-file", type=click.Path(dir_okay=False, path_type=Path), default=None, help=_KEY_HELP)
@click.option("--key-env", default=None, metavar="VAR", help=_ENV_HELP)
@click.option("--sign-only", is_flag=True, help="Sign without encrypting.")
def seal_cmd(model: Path, out: Path | None, signing_key: Path, key_file: Path | None, key_env: str | None,
             sign_only: bool) -> None:
    """Encrypt MODEL with the model key and sign it; the box decrypts it only in memory."""
    from rsu.inference.seal import seal_file
    from rsu.inference.seal_keys import SealKeyError, load_signing_key

    if sign_only == bool(key_file or key_env):
        raise click.UsageError("give --key-file or --key-env to encrypt, or --sign-only")
    key = None if sign_only else _model_key(key_file, key_env)
    try:
        signer = load_signing_key(signing_key)
    except SealKeyError as exc:
        raise click.ClickException(str(exc)) from None
    dst = out or model.with_name(model.name + ".sealed")
    header = seal_file(model, dst, signing_key=signer, key=key)
    click.echo(json.dumps({"file": str(dst), **header.to_json()} | {"nonce": None}, separators=(",", ":")))


@click.command("verify")
@click.argument("sealed", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--verify-key", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The signer's Ed25519 public key (PEM).")
@click.option("--key-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help=_KEY_HELP + " With a key the model is also decrypted (in memory) and its hash checked.")
@click.option("--key-env", default=None, metavar="VAR", help=_ENV_HELP)
def verify_cmd(sealed: Path, verify_key: Path, key_file: Path | None, key_env: str | None) -> None:
    """Check SEALED's signature (and, with the key, decrypt in memory and check its hash). Exit 1 if it fails."""
    from rsu.inference.seal import SealError, verify_file
    from rsu.inference.seal_keys import SealKeyError, load_verify_key

    key = _model_key(key_file, key_env) if (key_file or key_env) else None
    try:
        report = verify_file(sealed, verify_key=load_verify_key(verify_key), key=key)
    except (SealError, SealKeyError) as exc:
        raise click.ClickException(f"REFUSED: {exc}") from None
    click.echo(json.dumps(report, separators=(",", ":")))
