"""``rsu keys generate|client|revoke|token|tls|tls-client``: CURVE key pairs for the box's ZeroMQ servers (the
bus, ``rsu serve-inference``, ``rsu federate serve``), the web server's token and its TLS certificates
(docs/security.md)."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("keys")
def command() -> None:
    """CURVE keys (bus, inference server, aggregator), the web token and TLS certificates: encrypt, admit only
    authorised clients."""


@command.command("generate")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--client", "clients", multiple=True, metavar="NAME",
              help="A client key pair to make and authorise (repeatable; default: one named 'client').")
@click.option("--force", is_flag=True, help="Replace existing key files.")
def generate(folder: Path, clients: tuple[str, ...], force: bool) -> None:
    """Write server and client key pairs into FOLDER (secrets mode 0600) and print the config to use."""
    from rsu.publish.curve import generate_keys

    names = clients or ("client",)
    bad = [n for n in names if not n or "/" in n or n.startswith(".") or n == "server"]
    if bad:
        raise click.UsageError(f"--client: invalid name(s) {bad}; use plain file names other than 'server'")
    try:
        keys = generate_keys(folder, names, force=force)
    except (FileExistsError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {keys.server_public} (server public key: give it to subscribers)")
    click.echo(f"wrote {keys.server_secret} (server secret key, mode 0600: stays on the box)")
    for name, (public, secret) in keys.clients.items():
        click.echo(f"wrote {public} and {keys.authorized_keys / public.name} (client {name!r} public key, authorised)")
        click.echo(f"wrote {secret} (client {name!r} secret key, mode 0600: give it to that subscriber only)")
    root = folder.resolve()
    click.echo("\nconfig (publish section):\n"
               "publish:\n  zmq:\n    curve:\n"
               f"      server_secret_key: {root / keys.server_secret.name}\n"
               f"      authorized_keys: {root / keys.authorized_keys.name}\n")
    first = next(iter(keys.clients.values()))
    click.echo(f"subscribe: rsu tap ENDPOINT --server-key {root / keys.server_public.name} "
               f"--client-key {root / first[1].name}")
    click.echo("authorise another subscriber: copy its NAME.key into authorized_keys/ and restart rsu")


def _name_ok(name: str) -> None:
    if not name or "/" in name or name.startswith(".") or name == "server":
        raise click.UsageError(f"invalid client name {name!r}; use a plain file name other than 'server'")


@command.command("client")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("name")
@click.option("--force", is_flag=True, help="Replace that client's key pair (rotation).")
def client_cmd(folder: Path, name: str, force: bool) -> None:
    """Make and authorise one more client key pair in FOLDER, or rotate one (--force); the server keys stay.
    Restart the server to admit it."""
    from rsu.publish.curve import add_client

    _name_ok(name)
    try:
        _, sec = add_client(folder, name, force=force)
    except FileExistsError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {sec} (mode 0600: give it to {name!r} only) and authorised "
               f"{folder / 'authorized_keys' / (name + '.key')}; restart the server to admit the new key")


@command.command("revoke")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("name")
def revoke_cmd(folder: Path, name: str) -> None:
    """Remove client NAME from FOLDER/authorized_keys (restart the server: its key is refused from then on)."""
    _name_ok(name)
    auth = folder / "authorized_keys" / f"{name}.key"
    if not auth.exists():
        raise click.ClickException(f"{auth} does not exist: {name!r} is not authorised")
    auth.unlink()
    click.echo(f"removed {auth}; restart the server to refuse {name!r}")


@command.command("token")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace an existing token (rotation: every client needs the new one).")
def token_cmd(file: Path, force: bool) -> None:
    """Write a random web token to FILE (mode 0600) for ``web.token_file``."""
    import os
    import secrets

    if file.exists() and not force:
        raise click.ClickException(f"{file} exists (use --force to rotate the token)")
    file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secrets.token_urlsafe(32) + "\n")
    os.chmod(file, 0o600)
    click.echo(f"wrote {file} (mode 0600)\nconfig:\nweb:\n  token_file: {file.resolve()}\n"
               f"browser: open http://HOST:PORT/?token=$(cat {file}) once; scripts: "
               "Authorization: Bearer $(cat FILE)")


def _tls_name_ok(name: str) -> None:
    if not name or "/" in name or name.startswith(".") or name in ("ca", "server"):
        raise click.UsageError(f"invalid client name {name!r}; use a plain file name other than 'ca' and 'server'")


@command.command("tls")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--host", "hosts", multiple=True, metavar="NAME",
              help="A host name or address the box is reached at (repeatable; localhost and 127.0.0.1 always).")
@click.option("--client", "clients", multiple=True, metavar="NAME", help="A client certificate to issue (repeatable).")
@click.option("--days", default=825, show_default=True, type=click.IntRange(1, 3650), help="Validity.")
@click.option("--force", is_flag=True, help="Make a new CA and server certificate (rotation: every client needs "
                                            "a new certificate).")
def tls_cmd(folder: Path, hosts: tuple[str, ...], clients: tuple[str, ...], days: int, force: bool) -> None:
    """Write a private CA, the web server's certificate and client certificates into FOLDER (keys mode 0600)."""
    from rsu.web.certs import generate_tls

    for name in clients:
        _tls_name_ok(name)
    try:
        files = generate_tls(folder, hosts, clients, days=days, force=force)
    except (FileExistsError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    root = folder.resolve()
    click.echo(f"wrote {files.ca_cert} (the CA: clients trust it for the server; web.tls.client_ca) and "
               f"{files.ca_key} (mode 0600: issues certificates, keep it off the box if you can)")
    click.echo(f"wrote {files.server_cert} and {files.server_key} (the server's certificate and key)")
    for name, (cert, key, p12) in files.clients.items():
        click.echo(f"wrote {cert}, {key} and {p12} (client {name!r}: give them to that client only)")
    click.echo(f"\nconfig:\nweb:\n  tls:\n    cert: {root / 'server.crt'}\n    key: {root / 'server.key'}\n"
               f"    client_ca: {root / 'ca.crt'}    # omit to serve HTTPS without client certificates\n")
    click.echo(f"try: curl --cacert {root / 'ca.crt'} --cert CLIENT.crt --key CLIENT.key https://HOST:PORT/api/state")


@command.command("tls-client")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("name")
@click.option("--days", default=825, show_default=True, type=click.IntRange(1, 3650), help="Validity.")
@click.option("--force", is_flag=True, help="Reissue that client's certificate and key.")
def tls_client_cmd(folder: Path, name: str, days: int, force: bool) -> None:
    """Issue one more client certificate with the CA in FOLDER (no restart needed: the server trusts the CA)."""
    from rsu.web.certs import add_tls_client

    _tls_name_ok(name)
    try:
        cert, key, p12 = add_tls_client(folder, name, days=days, force=force)
    except FileExistsError as exc:
        raise click.ClickException(str(exc)) from None
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"{folder}: no CA made by `rsu keys tls` ({exc})") from None
    click.echo(f"wrote {cert}, {key} and {p12} (client {name!r}: give them to that client only)")
