"""`plume-node tx send`: sign an EIP-1559 transaction locally and submit it over JSON-RPC.

The key never leaves this process: it is unlocked from the home's keystore
(or read from a private-key file), the transaction is signed with eth-account,
and only the signed bytes go to the node. Nonce and fees come from the node
unless given; the command then waits for the receipt. `submit` and `report`
are the flow every signing command shares (`tx staking` too).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from plume_node.cli._common import (
    address_arg,
    amount_arg,
    echo_json,
    json_option,
    rpc_call,
    rpc_option,
    to_int,
)
from plume_node.cli._rpc_client import RpcClient
from plume_node.cli._units import format_gwei, format_plume
from plume_node.cli.keys import read_private_key_file
from plume_node.keystore import Keystore, resolve_password

POLL_INTERVAL_S = 0.25


@click.group()
def tx() -> None:
    """Sign and submit transactions."""


def signer(from_key: str | None, home: str | None, private_key_file: str | None, password_file: str | None) -> LocalAccount:
    if private_key_file and from_key:
        raise click.UsageError("give either --from (a keystore key) or --private-key-file, not both")
    if private_key_file:
        return Account.from_key(read_private_key_file(private_key_file))
    if not from_key:
        raise click.UsageError("say who sends: --from KEYNAME --home DIR, or --private-key-file FILE")
    if not home:
        raise click.UsageError("--from needs --home DIR (or PLUME_HOME) to find the keystore")
    keystore = Keystore(Path(home).expanduser())
    keystore.get(from_key)  # a clear error for an unknown key before asking for a password
    return keystore.unlock(from_key, resolve_password(password_file, confirm=False))


@tx.command("send")
@click.option("--to", required=True, callback=address_arg, help="Recipient address (0x...).")
@click.option("--value", required=True, callback=amount_arg, help="Amount: wei, or with a unit: 1.5plume, 2gwei.")
@click.option("--from", "from_key", help="Keystore key name or address in --home.")
@click.option("--home", envvar="PLUME_HOME", type=click.Path(file_okay=False), help="Home with the keystore.")
@click.option("--private-key-file", type=click.Path(exists=True, dir_okay=False), help="Sign with the hex key in this file.")
@click.option("--password-file", type=click.Path(dir_okay=False), help="Keystore password file (else $PLUME_PASSWORD or a prompt).")
@click.option("--data", "data_hex", default="0x", help="Call data as hex (default none).")
@click.option("--gas-limit", type=click.IntRange(min=21_000), help="Gas limit (default: the node's estimate).")
@click.option("--max-fee", callback=amount_arg, help="Max fee per gas (default: 2 x next base fee + tip).")
@click.option("--priority-fee", callback=amount_arg, help="Tip per gas (default: the node's suggestion).")
@click.option("--nonce", type=click.IntRange(min=0), help="Nonce (default: the account's pending nonce).")
@click.option("--no-wait", is_flag=True, help="Print the hash and return without waiting for the receipt.")
@click.option("--timeout", type=click.FloatRange(min=0), default=60.0, show_default=True, help="Seconds to wait for the receipt.")
@rpc_option
@json_option
def send(
    to: str,
    value: int,
    from_key: str | None,
    home: str | None,
    private_key_file: str | None,
    password_file: str | None,
    data_hex: str,
    gas_limit: int | None,
    max_fee: int | None,
    priority_fee: int | None,
    nonce: int | None,
    no_wait: bool,
    timeout: float,
    rpc_url: str,
    as_json: bool,
) -> None:
    """Send VALUE to an address, signed with an EIP-1559 transaction."""
    try:
        data = bytes.fromhex(data_hex[2:] if data_hex.lower().startswith("0x") else data_hex)
    except ValueError:
        raise click.BadParameter(f"{data_hex!r} is not hex data", param_hint="--data") from None
    account = signer(from_key, home, private_key_file, password_file)
    client = RpcClient(rpc_url)
    fees = Fees(max_fee, priority_fee, nonce)
    sent = submit(client, account, to_checksum_address(to), value, data, gas_limit, fees, None if no_wait else timeout)
    report(sent.summary, as_json)


@dataclass(frozen=True)
class Sent:
    """A submitted transaction: what to print, and its receipt's logs (empty if not waited for)."""

    summary: dict[str, Any]
    logs: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Fees:
    """What the user fixed of a transaction's fees and nonce (None: ask the node)."""

    max_fee: int | None = None
    priority_fee: int | None = None
    nonce: int | None = None


def _fill_fees(client: RpcClient, sender: str, fees: Fees) -> tuple[int, int, int]:
    """(nonce, max fee, tip) with the node's values where the user gave none."""
    nonce = fees.nonce
    if nonce is None:
        nonce = int(rpc_call(client, "eth_getTransactionCount", sender, "pending"), 16)
    priority_fee = fees.priority_fee
    if priority_fee is None:
        priority_fee = int(rpc_call(client, "eth_maxPriorityFeePerGas"), 16)
    max_fee = fees.max_fee
    if max_fee is None:
        # The last entry of feeHistory is the next block's base fee; twice it
        # survives six full blocks of base-fee increases.
        history = rpc_call(client, "eth_feeHistory", "0x1", "latest", [])
        max_fee = 2 * int(history["baseFeePerGas"][-1], 16) + priority_fee
    if priority_fee > max_fee:
        raise click.UsageError(f"--priority-fee {priority_fee} is above --max-fee {max_fee}")
    return nonce, max_fee, priority_fee


def submit(
    client: RpcClient,
    account: LocalAccount,
    to: str,
    value: int,
    data: bytes,
    gas_limit: int | None,
    fees: Fees,
    timeout: float | None,
) -> Sent:
    """Sign and send one EIP-1559 transaction; wait for its receipt unless ``timeout`` is None.

    The summary holds the receipt's block, status and gas when it was waited for.
    """
    chain_id = int(rpc_call(client, "eth_chainId"), 16)
    nonce, max_fee, priority_fee = _fill_fees(client, account.address, fees)
    fields = {
        "type": 2,
        "chainId": chain_id,
        "nonce": nonce,
        "to": to,
        "value": value,
        "data": data,
        "maxFeePerGas": max_fee,
        "maxPriorityFeePerGas": priority_fee,
    }
    if gas_limit is None:
        estimate = {"from": account.address, "to": to, "value": hex(value), "input": "0x" + data.hex()}
        gas_limit = int(rpc_call(client, "eth_estimateGas", estimate, "latest"), 16)
    fields["gas"] = gas_limit
    signed = account.sign_transaction(fields)
    tx_hash = rpc_call(client, "eth_sendRawTransaction", "0x" + bytes(signed.raw_transaction).hex())
    summary: dict[str, Any] = {
        "hash": tx_hash,
        "from": account.address,
        "to": to,
        "value": str(value),
        "nonce": nonce,
        "gasLimit": gas_limit,
        "maxFeePerGas": str(max_fee),
        "maxPriorityFeePerGas": str(priority_fee),
    }
    if timeout is None:
        return Sent(summary)
    receipt = _wait_for_receipt(client, tx_hash, timeout)
    return Sent({**summary, **_receipt_fields(receipt)}, tuple(receipt["logs"]))


def _receipt_fields(receipt: dict[str, Any]) -> dict[str, Any]:
    return {
        "blockNumber": to_int(receipt["blockNumber"]),
        "blockHash": receipt["blockHash"],
        "status": "success" if receipt["status"] == "0x1" else "failed",
        "gasUsed": to_int(receipt["gasUsed"]),
        "effectiveGasPrice": str(to_int(receipt["effectiveGasPrice"])),
    }


def report(summary: dict[str, Any], as_json: bool, extra_lines: tuple[str, ...] = ()) -> None:
    """Print a transaction summary; a failed transaction then ends the command with exit code 1."""
    tx_hash = summary["hash"]
    if "status" not in summary:  # not waited for
        if as_json:
            echo_json(summary)
        else:
            click.echo(f"submitted {tx_hash}\n  (check with `plume-node query receipt {tx_hash}`)")
        return
    if as_json:
        echo_json(summary)
    else:
        fee = summary["gasUsed"] * int(summary["effectiveGasPrice"])
        lines = [
            f"transaction {tx_hash}",
            f"  from      {summary['from']}",
            f"  to        {summary['to']}",
            f"  value     {format_plume(int(summary['value']))}",
            f"  block     {summary['blockNumber']}",
            f"  status    {summary['status']}",
            f"  gas used  {summary['gasUsed']} at {format_gwei(int(summary['effectiveGasPrice']))} "
            f"(fee {format_plume(fee)})",
            *extra_lines,
        ]
        click.echo("\n".join(lines))
    if summary["status"] != "success":
        raise click.ClickException(f"transaction {tx_hash} failed (reverted) in block {summary['blockNumber']}")


def _wait_for_receipt(client: RpcClient, tx_hash: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        receipt = rpc_call(client, "eth_getTransactionReceipt", tx_hash)
        if receipt is not None:
            return receipt
        if time.monotonic() >= deadline:
            raise click.ClickException(
                f"transaction {tx_hash} was submitted but not included within {timeout:g}s; "
                f"check later with `plume-node query receipt {tx_hash}`"
            )
        time.sleep(POLL_INTERVAL_S)
