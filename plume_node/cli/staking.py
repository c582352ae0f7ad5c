"""`plume-node tx staking ...`: calls to the staking contract at 0x…1000, signed locally.

Each command builds the calldata from the contract's ABI table, asks the node
for a gas estimate first (a call the contract would refuse is reported with
its reason and never sent), then signs and submits like `tx send` and waits
for the receipt. The signer is `--from KEY` of `--home`'s keystore (default
the `operator` key `plume-node init` creates) or `--private-key-file`.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click
from eth_account.signers.local import LocalAccount

from plume_node.cli._common import address_arg, amount_arg, json_option, rpc_call, rpc_option
from plume_node.cli._rpc_client import EXECUTION_REVERTED, NodeRpcError, RpcClient, RpcClientError
from plume_node.cli._staking import (
    GAS_MARGIN_PERCENT,
    STAKING_CONTRACT,
    RateError,
    StakingRefused,
    encode_call,
    event_values,
    format_bps,
    parse_bps,
    refusal_reason,
)
from plume_node.cli._units import format_plume
from plume_node.cli.tx import Fees, Sent, report, signer, submit, tx
from plume_node.home import Home
from plume_node.node_keys import load_key_file
from staking.abi import COMMISSION_WITHDRAWN, REDELEGATED, REWARDS_CLAIMED, REWARDS_RESTAKED, UNDELEGATED

DEFAULT_SIGNER = "operator"  # the key `plume-node init` puts in the home's keystore


@dataclass(frozen=True)
class SendOptions:
    """Who signs, how fees are set, where to send, and how to print."""

    from_key: str | None
    home: str | None
    private_key_file: str | None
    password_file: str | None
    fees: Fees
    timeout: float | None  # None: do not wait for the receipt
    rpc_url: str
    as_json: bool

    def account(self) -> LocalAccount:
        from_key = self.from_key
        if from_key is None and self.private_key_file is None and self.home is not None:
            from_key = DEFAULT_SIGNER
        return signer(from_key, self.home, self.private_key_file, self.password_file)


_SEND_OPTIONS = (
    click.option("--from", "from_key", help=f"Keystore key name or address in --home (default {DEFAULT_SIGNER})."),
    click.option("--home", envvar="PLUME_HOME", type=click.Path(file_okay=False), help="Node home with the keystore."),
    click.option("--private-key-file", type=click.Path(exists=True, dir_okay=False), help="Sign with the hex key in this file."),
    click.option("--password-file", type=click.Path(dir_okay=False), help="Keystore password file (else $PLUME_PASSWORD or a prompt)."),
    click.option("--max-fee", callback=amount_arg, help="Max fee per gas (default: 2 x next base fee + tip)."),
    click.option("--priority-fee", callback=amount_arg, help="Tip per gas (default: the node's suggestion)."),
    click.option("--nonce", type=click.IntRange(min=0), help="Nonce (default: the account's pending nonce)."),
    click.option("--no-wait", is_flag=True, help="Print the hash and return without waiting for the receipt."),
    click.option("--timeout", type=click.FloatRange(min=0), default=60.0, show_default=True, help="Seconds to wait for the receipt."),
    rpc_option,
    json_option,
)


def send_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add the signing/fee/output options; the command receives them as one `opts`."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        no_wait, timeout = kwargs.pop("no_wait"), kwargs.pop("timeout")
        opts = SendOptions(
            from_key=kwargs.pop("from_key"),
            home=kwargs.pop("home"),
            private_key_file=kwargs.pop("private_key_file"),
            password_file=kwargs.pop("password_file"),
            fees=Fees(kwargs.pop("max_fee"), kwargs.pop("priority_fee"), kwargs.pop("nonce")),
            timeout=None if no_wait else timeout,
            rpc_url=kwargs.pop("rpc_url"),
            as_json=kwargs.pop("as_json"),
        )
        return func(*args, opts=opts, **kwargs)

    for option in reversed(_SEND_OPTIONS):
        wrapper = option(wrapper)
    return wrapper


def rate_arg(ctx: click.Context | None, param: click.Parameter | None, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return parse_bps(value)
    except RateError as exc:
        raise click.BadParameter(str(exc)) from None


def _estimate(client: RpcClient, sender: str, method: str, data: bytes, value: int,
              to: str = STAKING_CONTRACT, label: str = "staking") -> int:
    """The gas limit to use: the node's estimate plus the margin; a revert is a `StakingRefused`."""
    request = {"from": sender, "to": to, "value": hex(value), "input": "0x" + data.hex()}
    try:
        estimate = int(client.call("eth_estimateGas", request, "latest"), 16)
    except NodeRpcError as exc:
        if exc.code == EXECUTION_REVERTED:
            raise StakingRefused(method, refusal_reason(exc.data, exc.message), label) from None
        raise click.ClickException(str(exc)) from None
    except RpcClientError as exc:
        raise click.ClickException(str(exc)) from None
    return estimate * (100 + GAS_MARGIN_PERCENT) // 100


def call_contract(
    opts: SendOptions, method: str, args: tuple, value: int = 0, account: LocalAccount | None = None,
    *, to: str = STAKING_CONTRACT, data: bytes | None = None, label: str = "staking",
) -> Sent:
    """Estimate (refusing what would revert), sign, send and (unless --no-wait) wait.

    Another system contract (``to``, ``label``) passes its own calldata ``data``."""
    account = account or opts.account()
    client = RpcClient(opts.rpc_url)
    data = encode_call(method, *args) if data is None else data
    gas = _estimate(client, account.address, method, data, value, to, label)
    return submit(client, account, to, value, data, gas, opts.fees, opts.timeout)


def _finish(opts: SendOptions, method: str, sent: Sent, details: dict[str, Any], lines: tuple[str, ...] = ()) -> None:
    summary = {**sent.summary, "method": method, **details}
    report(summary, opts.as_json, lines if "status" in summary else ())


def _utc(timestamp: int) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


@tx.group("staking")
def staking() -> None:
    """Create and run a validator; delegate, undelegate and redelegate stake; claim or restake rewards."""


def _consensus_pubkey(given: str | None, home: str | None) -> bytes:
    if given is not None:
        digits = given[2:] if given.lower().startswith("0x") else given
        try:
            key = bytes.fromhex(digits)
        except ValueError:
            key = b""
        if len(key) != 32:
            raise click.BadParameter("expected 64 hex digits (a 32-byte Ed25519 public key)", param_hint="--consensus-pubkey")
        return key
    if home is None:
        raise click.UsageError("give --home DIR (the node whose consensus key to register) or --consensus-pubkey HEX")
    return load_key_file(Home.at(home).validator_key_path).public_key


@staking.command("create-validator")
@click.option("--amount", required=True, callback=amount_arg, help="Self-delegation: wei, or with a unit (100plume).")
@click.option("--commission", required=True, callback=rate_arg, help="Commission rate: 5% or 500bps.")
@click.option("--max-commission", required=True, callback=rate_arg, help="Highest rate ever allowed (fixed for good).")
@click.option("--max-change", required=True, callback=rate_arg, help="Most the rate may move per change (fixed for good).")
@click.option("--moniker", required=True, help="The validator's name (at most 64 bytes).")
@click.option("--consensus-pubkey", help="Ed25519 key (hex) to register instead of --home's keys/validator_key.json.")
@send_options
def create_validator(
    amount: int, commission: int, max_commission: int, max_change: int, moniker: str,
    consensus_pubkey: str | None, opts: SendOptions,
) -> None:
    """Register the node of --home as a validator operated by the signer, self-delegating --amount."""
    pubkey = _consensus_pubkey(consensus_pubkey, opts.home)
    args = (pubkey, moniker, commission, max_commission, max_change)
    sent = call_contract(opts, "createValidator", args, amount)
    details = {"operator": sent.summary["from"], "consensusPubkey": "0x" + pubkey.hex(), "moniker": moniker,
               "commissionBps": commission, "maxCommissionBps": max_commission, "maxChangeBps": max_change}
    lines = (f"  validator {sent.summary['from']} ({moniker}), consensus key 0x{pubkey.hex()}",
             f"  commission {format_bps(commission)} (max {format_bps(max_commission)}, "
             f"change at most {format_bps(max_change)} a day)")
    _finish(opts, "createValidator", sent, details, lines)


@staking.command("delegate")
@click.argument("validator", callback=address_arg)
@click.argument("amount", callback=amount_arg)
@send_options
def delegate(validator: str, amount: int, opts: SendOptions) -> None:
    """Delegate AMOUNT to the validator operated by VALIDATOR."""
    sent = call_contract(opts, "delegate", (validator,), amount)
    _finish(opts, "delegate", sent, {"validator": validator, "amount": str(amount)},
            (f"  delegated {format_plume(amount)} to {validator}",))


def _matures(sent: Sent, event: Any, time_index: int) -> dict[str, Any]:
    values = event_values(sent.logs, event)
    if values is None:
        return {}
    details = {"completionTime": values[time_index]}
    if event is UNDELEGATED:
        details["creationHeight"] = values[1]
    return details


@staking.command("undelegate")
@click.argument("validator", callback=address_arg)
@click.argument("amount", callback=amount_arg)
@send_options
def undelegate(validator: str, amount: int, opts: SendOptions) -> None:
    """Undelegate AMOUNT from VALIDATOR: paid back once the unbonding period has passed."""
    sent = call_contract(opts, "undelegate", (validator, amount))
    details = {"validator": validator, "amount": str(amount), **_matures(sent, UNDELEGATED, 2)}
    lines: tuple[str, ...] = ()
    if "completionTime" in details:
        lines = (f"  unbonding entry at height {details['creationHeight']}: {format_plume(amount)} paid after "
                 f"{_utc(details['completionTime'])} (block time)",)
    _finish(opts, "undelegate", sent, details, lines)


@staking.command("redelegate")
@click.argument("src", callback=address_arg)
@click.argument("dst", callback=address_arg)
@click.argument("amount", callback=amount_arg)
@send_options
def redelegate(src: str, dst: str, amount: int, opts: SendOptions) -> None:
    """Move AMOUNT of stake from validator SRC to validator DST at once."""
    sent = call_contract(opts, "redelegate", (src, dst, amount))
    details = {"src": src, "dst": dst, "amount": str(amount), **_matures(sent, REDELEGATED, 1)}
    lines: tuple[str, ...] = ()
    if "completionTime" in details:
        lines = (f"  moved {format_plume(amount)}; it stays slashable for {src} until "
                 f"{_utc(details['completionTime'])}",)
    _finish(opts, "redelegate", sent, details, lines)


@staking.command("cancel-unbonding")
@click.argument("validator", callback=address_arg)
@click.argument("height", type=click.IntRange(min=0))
@click.argument("amount", callback=amount_arg)
@send_options
def cancel_unbonding(validator: str, height: int, amount: int, opts: SendOptions) -> None:
    """Delegate back AMOUNT of the unbonding entry with VALIDATOR created at HEIGHT."""
    sent = call_contract(opts, "cancelUnbonding", (validator, height, amount))
    _finish(opts, "cancelUnbonding", sent, {"validator": validator, "creationHeight": height, "amount": str(amount)},
            (f"  {format_plume(amount)} delegated back to {validator}",))


def _current_validator(opts: SendOptions, operator: str) -> dict[str, Any]:
    current = rpc_call(RpcClient(opts.rpc_url), "plume_getValidator", operator)
    if current is None:
        raise StakingRefused("editValidator", f"{operator} operates no validator")
    return current


@staking.command("edit-validator")
@click.option("--moniker", help="New name (default: unchanged).")
@click.option("--commission", callback=rate_arg, help="New rate, 5% or 500bps (default: unchanged).")
@send_options
def edit_validator(moniker: str | None, commission: int | None, opts: SendOptions) -> None:
    """Change the signer's validator's moniker and/or commission rate."""
    if moniker is None and commission is None:
        raise click.UsageError("nothing to change: give --moniker and/or --commission")
    account = opts.account()
    if moniker is None or commission is None:
        current = _current_validator(opts, account.address)
        moniker = current["moniker"] if moniker is None else moniker
        commission = int(current["commissionBps"], 16) if commission is None else commission
    sent = call_contract(opts, "editValidator", (moniker, commission), account=account)
    _finish(opts, "editValidator", sent, {"moniker": moniker, "commissionBps": commission},
            (f"  moniker {moniker!r}, commission {format_bps(commission)}",))


@staking.command("unjail")
@send_options
def unjail(opts: SendOptions) -> None:
    """Ask to return the signer's jailed validator to the candidates for the active set."""
    sent = call_contract(opts, "unjail", ())
    _finish(opts, "unjail", sent, {}, ("  unjailed: it may rejoin the active set at the next epoch",))




def _paid(sent: Sent, event: Any) -> int:
    """The amount of the first ``event`` log (0 without one: nothing was pending)."""
    values = event_values(sent.logs, event)
    return values[0] if values else 0


@staking.command("claim")
@click.argument("validator", callback=address_arg)
@send_options
def claim(validator: str, opts: SendOptions) -> None:
    """Pay the signer's pending rewards from VALIDATOR to its balance."""
    sent = call_contract(opts, "claimRewards", (validator,))
    amount = _paid(sent, REWARDS_CLAIMED)
    _finish(opts, "claimRewards", sent, {"validator": validator, "amount": str(amount)},
            (f"  claimed {format_plume(amount)} of rewards from {validator}",))


@staking.command("restake")
@click.argument("validator", callback=address_arg)
@send_options
def restake(validator: str, opts: SendOptions) -> None:
    """Add the signer's pending rewards from VALIDATOR to its delegation there."""
    sent = call_contract(opts, "restakeRewards", (validator,))
    amount = _paid(sent, REWARDS_RESTAKED)
    _finish(opts, "restakeRewards", sent, {"validator": validator, "amount": str(amount)},
            (f"  restaked {format_plume(amount)} of rewards with {validator}",))


@staking.command("auto-restake")
@click.argument("validator", callback=address_arg)
@click.argument("setting", type=click.Choice(["on", "off"]))
@send_options
def auto_restake(validator: str, setting: str, opts: SendOptions) -> None:
    """Turn compounding of the signer's rewards from VALIDATOR at every epoch end on or off."""
    enabled = setting == "on"
    sent = call_contract(opts, "setAutoRestake", (validator, enabled))
    line = ("  rewards from {v} compound into the delegation after every epoch end" if enabled
            else "  rewards from {v} stay pending until claimed or restaked")
    _finish(opts, "setAutoRestake", sent, {"validator": validator, "autoRestake": enabled},
            (line.format(v=validator),))


@staking.command("withdraw-commission")
@send_options
def withdraw_commission(opts: SendOptions) -> None:
    """Pay the commission the signer's validator has accumulated to the signer."""
    sent = call_contract(opts, "withdrawCommission", ())
    amount = _paid(sent, COMMISSION_WITHDRAWN)
    _finish(opts, "withdrawCommission", sent, {"amount": str(amount)},
            (f"  withdrew {format_plume(amount)} of commission",))
