"""``rsu keys generate DIR``: CURVE key pairs for the ZeroMQ bus."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("keys")
def command() -> None:
    """CURVE keys: encrypt the bus and admit only authorised subscribers."""


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
