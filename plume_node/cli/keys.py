"""`plume-node keys ...`: account keys (secp256k1, keystore v3) of a home directory,
and `keys consensus-key`, the public half of the node's Ed25519 consensus key.

Only the command line lives here; the files themselves are handled by
`plume_node.keystore`. Passwords come from --password-file, $PLUME_PASSWORD,
or a prompt on a terminal.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from plume_node.home import Home
from plume_node.keystore import KeyInfo, Keystore, resolve_password
from plume_node.node_keys import load_key_file

home_option = click.option(
    "--home",
    required=True,
    envvar="PLUME_HOME",
    type=click.Path(file_okay=False),
    help="The node's home directory (keys are in HOME/keystore); or set PLUME_HOME.",
)
password_file_option = click.option(
    "--password-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="File holding the keystore password (else $PLUME_PASSWORD, else a prompt).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def _keystore(home: str) -> Keystore:
    return Keystore(Path(home).expanduser())


def _info_json(info: KeyInfo) -> dict[str, str]:
    return {"name": info.name, "address": info.address, "path": str(info.path)}


def _print_info(info: KeyInfo, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(_info_json(info)))
    else:
        click.echo(f"name:    {info.name}\naddress: {info.address}\nfile:    {info.path}")


@click.group()
def keys() -> None:
    """Create, import and list account keys (keystore v3 files)."""


@keys.command("new")
@click.argument("name")
@home_option
@password_file_option
@json_option
def keys_new(name: str, home: str, password_file: str | None, as_json: bool) -> None:
    """Create a new key NAME, encrypted with a password."""
    password = resolve_password(password_file, confirm=True)
    info = _keystore(home).new(name, password)
    _print_info(info, as_json)


@keys.command("import")
@click.argument("name")
@click.option(
    "--private-key-file",
    type=click.Path(exists=True, dir_okay=False),
    required=True,
    help="File holding the hex private key (64 hex digits, 0x optional).",
)
@home_option
@password_file_option
@json_option
def keys_import(name: str, private_key_file: str, home: str, password_file: str | None, as_json: bool) -> None:
    """Import an existing private key as NAME."""
    private_key = read_private_key_file(private_key_file)
    password = resolve_password(password_file, confirm=True)
    info = _keystore(home).import_key(name, private_key, password)
    _print_info(info, as_json)


@keys.command("list")
@home_option
@json_option
def keys_list(home: str, as_json: bool) -> None:
    """List the keys of a home directory."""
    infos = _keystore(home).list()
    if as_json:
        click.echo(json.dumps([_info_json(i) for i in infos]))
        return
    if not infos:
        click.echo(f"no keys in {_keystore(home).dir}; create one with `plume-node keys new NAME`")
        return
    width = max(len(i.name) for i in infos)
    for info in infos:
        click.echo(f"{info.name.ljust(width)}  {info.address}")


@keys.command("show")
@click.argument("name_or_address")
@home_option
@json_option
def keys_show(name_or_address: str, home: str, as_json: bool) -> None:
    """Show a key's address and file (never the private key)."""
    _print_info(_keystore(home).get(name_or_address), as_json)


@keys.command("consensus-key")
@home_option
@json_option
def keys_consensus_key(home: str, as_json: bool) -> None:
    """Print the node's Ed25519 consensus public key (for `tx staking create-validator`)."""
    path = Home.at(home).validator_key_path
    key = load_key_file(path)
    if as_json:
        click.echo(json.dumps({"publicKey": "0x" + key.public_key.hex(), "address": "0x" + key.address.hex(),
                               "path": str(path)}))
    else:
        click.echo("0x" + key.public_key.hex())


def read_private_key_file(path: str) -> bytes:
    """A hex private key from a file, with a clear error for anything else."""
    try:
        text = Path(path).read_text().strip()
    except OSError as exc:
        raise click.ClickException(f"cannot read private key file {path}: {exc.strerror}") from None
    digits = text[2:] if text.lower().startswith("0x") else text
    try:
        key = bytes.fromhex(digits)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise click.ClickException(f"{path} does not hold a private key: expected 64 hex digits (0x optional)")
    return key
