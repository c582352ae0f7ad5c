"""`plume-node rwa token|rights ...` and `plume-node query rwa ISSUER`: the RWA library over JSON-RPC.

Every transaction takes the signing options of `tx staking` (`--from` a
keystore key of `--home`, or `--private-key-file`), asks the node for a gas
estimate first (a call the contract would refuse is reported with its custom
error decoded by name and never sent), then signs, sends and waits for the
receipt. Contracts are created through the factories predeployed at
`0x…2000`-`0x…2004` (docs/tokenization.md). The vault commands are in
`plume_node.cli.rwa_vault`, which adds itself to the `rwa` group.
"""

from __future__ import annotations

from typing import Any

import click
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from plume_node.cli import _rwa
from plume_node.cli._common import address_arg, echo_json, json_option, node_home_option, rpc_call, rpc_option
from plume_node.cli._rpc_client import EXECUTION_REVERTED, NodeRpcError, RpcClient, RpcClientError
from plume_node.cli._staking import GAS_MARGIN_PERCENT, StakingRefused, printable
from plume_node.cli._units import AmountError, parse_amount
from plume_node.cli.query import query
from plume_node.cli.staking import SendOptions, send_options
from plume_node.cli.tx import Sent, report, submit

ZERO_ADDRESS = "0x" + "00" * 20
MAX_LISTED = 1000  # `query rwa` lists at most this many contracts per factory (10 pages)
TIME_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class Session:
    """One command's node connection and signer (unlocked once, for all its transactions)."""

    def __init__(self, opts: SendOptions | None = None, rpc_url: str | None = None) -> None:
        self.opts = opts
        self.client = RpcClient(opts.rpc_url if opts else rpc_url)
        self._account: LocalAccount | None = None

    @property
    def account(self) -> LocalAccount:
        if self._account is None:
            assert self.opts is not None
            self._account = self.opts.account()
        return self._account

    def view(self, address: str, contract: str, name: str, *args: Any) -> Any:
        fn = _rwa.function(contract, name)
        request = {"to": address, "input": "0x" + fn.calldata(*args).hex()}
        try:
            raw = self.client.call("eth_call", request, "latest")
        except NodeRpcError as exc:
            if exc.code == EXECUTION_REVERTED:
                raise click.ClickException(f"{contract} {address}: {name} refused: {_rwa.refusal(exc.data, exc.message)}") from None
            raise click.ClickException(str(exc)) from None
        except RpcClientError as exc:
            raise click.ClickException(str(exc)) from None
        data = bytes.fromhex(raw[2:])
        if not data:
            raise click.ClickException(f"{address} has no {contract} code (is it the right address and chain?)")
        try:
            return fn.result(data)
        except Exception:  # eth_abi raises several types on data of another shape
            raise click.ClickException(f"{address} answered {name} with data that is not {contract}'s "
                                       f"(is it a {contract}?)") from None

    def send(self, address: str, contract: str, name: str, *args: Any, value: int = 0) -> Sent:
        """Estimate (a revert is refused with its decoded error), sign, send, wait."""
        assert self.opts is not None
        data = _rwa.function(contract, name).calldata(*args)
        request = {"from": self.account.address, "to": address, "value": hex(value), "input": "0x" + data.hex()}
        try:
            estimate = int(self.client.call("eth_estimateGas", request, "latest"), 16)
        except NodeRpcError as exc:
            if exc.code == EXECUTION_REVERTED:
                raise StakingRefused(name, _rwa.refusal(exc.data, exc.message), f"{contract} {address}") from None
            raise click.ClickException(str(exc)) from None
        except RpcClientError as exc:
            raise click.ClickException(str(exc)) from None
        gas = estimate * (100 + GAS_MARGIN_PERCENT) // 100
        sent = submit(self.client, self.account, address, value, data, gas, self.opts.fees, self.opts.timeout)
        if sent.summary.get("status") == "failed":
            report(sent.summary, self.opts.as_json)  # prints it, then ends the command (exit 1)
        return sent

    def chain_id(self) -> int:
        return int(rpc_call(self.client, "eth_chainId"), 16)

    def now(self) -> int:
        """The latest block's timestamp (what the contracts compare deadlines with)."""
        return int(rpc_call(self.client, "eth_getBlockByNumber", "latest", False)["timestamp"], 16)

    def native(self, text: str, param: str = "AMOUNT") -> int:
        """``text`` in wei (PLUME: `tokens` is not a unit of the native currency)."""
        try:
            return parse_amount(text)
        except AmountError as exc:
            raise click.BadParameter(str(exc), param_hint=param) from None

    def decimals(self, address: str, contract: str = "AssetToken") -> int:
        return int(self.view(address, contract, "decimals"))

    def amount(self, text: str, address: str, contract: str = "AssetToken", param: str = "AMOUNT") -> int:
        """``text`` in base units of the token at ``address`` (``tokens`` uses its decimals)."""
        decimals = self.decimals(address, contract) if "token" in text.lower() else 18
        try:
            return _rwa.parse_token_amount(text, decimals)
        except AmountError as exc:
            raise click.BadParameter(str(exc), param_hint=param) from None


def checksum(address: str) -> str:
    return to_checksum_address(address)


def when_arg(session: Session, text: str, param: str) -> int:
    """A unix time: ``1767225600``, or ``+90`` / ``+10m`` / ``+2h`` / ``+30d`` from the latest block."""
    raw = text.strip()
    relative = raw.startswith("+")
    body = raw[1:] if relative else raw
    unit = body[-1:] if body[-1:] in TIME_UNITS else ""
    number = body[: -1] if unit else body
    if not number.isdigit() or len(number) > 20:
        raise click.BadParameter(f"{text[:40]!r}: a unix time, or +N[s|m|h|d] from now", param_hint=param)
    seconds = int(number) * TIME_UNITS.get(unit or "s", 1)
    return session.now() + seconds if relative else seconds


def finish(opts: SendOptions, method: str, sent: Sent, details: dict[str, Any], lines: tuple[str, ...] = ()) -> None:
    report({**sent.summary, "method": method, **details}, opts.as_json, lines if "status" in sent.summary else ())


print_address_option = click.option(
    "--print-address", is_flag=True,
    help="Print only the new contract's address (for shell scripts: TOKEN=$(plume-node rwa token create ...)).")


def finish_created(opts: SendOptions, print_address: bool, method: str, sent: Sent, address: str | None,
                   details: dict[str, Any], lines: tuple[str, ...]) -> None:
    """Report a creation; with --print-address just the new address."""
    if not print_address:
        finish(opts, method, sent, details, lines)
        return
    if address is None:
        raise click.UsageError("--print-address needs the receipt: leave out --no-wait")
    click.echo(address)


def created_address(sent: Sent, factory: str) -> str | None:
    """The address a factory's ``Created`` event carries (None when not waited for)."""
    events = _rwa.event_logs(sent.logs, factory, "Created", _rwa.FACTORIES[factory])
    return checksum(events[0]["asset"]) if events else None


def create(session: Session, factory: str, method: str, *args: Any, value: int = 0) -> tuple[Sent, str | None]:
    sent = session.send(_rwa.FACTORIES[factory], factory, method, *args, value=value)
    return sent, created_address(sent, factory)


@click.group("rwa")
def rwa() -> None:
    """Real-world assets: permissioned asset tokens, usage rights, milestone/revenue/escrow vaults."""


# -- asset tokens -------------------------------------------------------------------------

@rwa.group("token")
def token() -> None:
    """AssetToken (ERC-20 with the ERC-3643 core): create, verify holders, mint, transfer, freeze, pause."""


@token.command("create")
@click.argument("name")
@click.argument("symbol")
@print_address_option
@send_options
def token_create(name: str, symbol: str, print_address: bool, opts: SendOptions) -> None:
    """Create an asset token NAME (SYMBOL); the signer becomes its owner and first agent."""
    session = Session(opts)
    sent, address = create(session, "AssetTokenFactory", "createAssetToken", name, symbol)
    finish_created(opts, print_address, "createAssetToken", sent, address,
                   {"token": address, "name": name, "symbol": symbol},
                   (f"  created asset token {address} ({printable(symbol)})",))


@token.group("identity")
def identity() -> None:
    """The token's identity registry of verified holders."""


@identity.command("add")
@click.argument("token_address", metavar="TOKEN", callback=address_arg)
@click.argument("holder", callback=address_arg)
@click.option("--country", type=click.IntRange(0, 999), required=True, help="ISO 3166-1 numeric country code (276: Germany).")
@send_options
def identity_add(token_address: str, holder: str, country: int, opts: SendOptions) -> None:
    """Verify HOLDER (agent only)."""
    sent = Session(opts).send(checksum(token_address), "AssetToken", "registerIdentity", holder, country)
    finish(opts, "registerIdentity", sent, {"token": checksum(token_address), "holder": checksum(holder), "country": country},
           (f"  verified {checksum(holder)} (country {country})",))


@identity.command("remove")
@click.argument("token_address", metavar="TOKEN", callback=address_arg)
@click.argument("holder", callback=address_arg)
@send_options
def identity_remove(token_address: str, holder: str, opts: SendOptions) -> None:
    """Remove HOLDER from the registry (agent only)."""
    sent = Session(opts).send(checksum(token_address), "AssetToken", "removeIdentity", holder)
    finish(opts, "removeIdentity", sent, {"token": checksum(token_address), "holder": checksum(holder)},
           (f"  removed {checksum(holder)} from the registry",))


def _token_amount_command(method: str, doc: str):
    """`token mint|transfer TOKEN TO AMOUNT`: one call ``method(to, amount)``."""

    @click.argument("token_address", metavar="TOKEN", callback=address_arg)
    @click.argument("to", callback=address_arg)
    @click.argument("amount_text", metavar="AMOUNT")
    @send_options
    def command(token_address: str, to: str, amount_text: str, opts: SendOptions) -> None:
        session = Session(opts)
        address = checksum(token_address)
        amount = session.amount(amount_text, address)
        sent = session.send(address, "AssetToken", method, to, amount)
        finish(opts, method, sent, {"token": address, "to": checksum(to), "amount": str(amount)},
               (f"  {method} {amount} units to {checksum(to)}",))

    command.__doc__ = doc
    return command


token.command("mint")(_token_amount_command("mint", "Mint AMOUNT to a verified holder TO (agent only)."))
token.command("transfer")(_token_amount_command("transfer", "Transfer AMOUNT of your tokens to TO (compliance checked)."))


@token.command("freeze")
@click.argument("token_address", metavar="TOKEN", callback=address_arg)
@click.argument("holder", callback=address_arg)
@click.option("--amount", "amount_text", help="Freeze only this part of the balance (else the whole address).")
@click.option("--unfreeze", is_flag=True, help="Undo: unfreeze the address, or --amount of its frozen tokens.")
@send_options
def token_freeze(token_address: str, holder: str, amount_text: str | None, unfreeze: bool, opts: SendOptions) -> None:
    """Freeze HOLDER (or --amount of its balance), agent only; --unfreeze undoes it."""
    session = Session(opts)
    address = checksum(token_address)
    details: dict[str, Any] = {"token": address, "holder": checksum(holder), "frozen": not unfreeze}
    if amount_text is None:
        method, args = "setAddressFrozen", (holder, not unfreeze)
    else:
        amount = session.amount(amount_text, address, param="--amount")
        method = "unfreezePartialTokens" if unfreeze else "freezePartialTokens"
        args, details["amount"] = (holder, amount), str(amount)
    sent = session.send(address, "AssetToken", method, *args)
    finish(opts, method, sent, details, (f"  {method} {checksum(holder)}",))


@token.command("pause")
@click.argument("token_address", metavar="TOKEN", callback=address_arg)
@click.option("--unpause", is_flag=True, help="Resume transfers.")
@send_options
def token_pause(token_address: str, unpause: bool, opts: SendOptions) -> None:
    """Pause every holder transfer of TOKEN (agent only); --unpause resumes."""
    method = "unpause" if unpause else "pause"
    sent = Session(opts).send(checksum(token_address), "AssetToken", method)
    finish(opts, method, sent, {"token": checksum(token_address), "paused": not unpause}, (f"  {method}d",))


@token.command("forced-transfer")
@click.argument("token_address", metavar="TOKEN", callback=address_arg)
@click.argument("source", metavar="FROM", callback=address_arg)
@click.argument("to", callback=address_arg)
@click.argument("amount_text", metavar="AMOUNT")
@send_options
def token_forced_transfer(token_address: str, source: str, to: str, amount_text: str, opts: SendOptions) -> None:
    """Move AMOUNT from FROM to the verified TO regardless of pause, lock-up and freezes (agent only)."""
    session = Session(opts)
    address = checksum(token_address)
    amount = session.amount(amount_text, address)
    sent = session.send(address, "AssetToken", "forcedTransfer", source, to, amount)
    finish(opts, "forcedTransfer", sent,
           {"token": address, "from": checksum(source), "to": checksum(to), "amount": str(amount)},
           (f"  forced {amount} units from {checksum(source)} to {checksum(to)}",))


def token_state(session: Session, address: str, holders: tuple[str, ...]) -> dict[str, Any]:
    v = lambda name, *args: session.view(address, "AssetToken", name, *args)  # noqa: E731
    info: dict[str, Any] = {
        "token": address, "name": v("name"), "symbol": v("symbol"), "decimals": v("decimals"),
        "totalSupply": str(v("totalSupply")), "owner": checksum(v("owner")), "paused": v("paused"),
        "holderCount": v("holderCount"), "maxHolders": v("maxHolders"), "maxBalance": str(v("maxBalance")),
        "lockupUntil": v("lockupUntil"), "countryRestricted": v("countryRestricted"),
        "permissions": checksum(v("permissions")),
    }
    info["holders"] = []
    for holder in holders:
        verified, country = v("identity", holder)
        info["holders"].append({
            "address": checksum(holder), "balance": str(v("balanceOf", holder)), "verified": v("isVerified", holder),
            "registered": verified, "country": country, "frozen": v("isFrozen", holder),
            "frozenTokens": str(v("frozenTokens", holder)), "agent": v("isAgent", holder),
        })
    return info


@token.command("info")
@click.argument("token_address", metavar="TOKEN", callback=address_arg)
@click.option("--holder", "holders", multiple=True, callback=lambda c, p, v: tuple(address_arg(c, p, h) for h in v),
              help="Also show this holder's balance, identity and freezes (repeatable).")
@rpc_option
@node_home_option
@json_option
def token_info(token_address: str, holders: tuple[str, ...], rpc_url: str, as_json: bool) -> None:
    """TOKEN's supply, owner, rules, and the given holders."""
    info = token_state(Session(rpc_url=rpc_url), checksum(token_address), holders)
    if as_json:
        echo_json(info)
        return
    decimals = info["decimals"]
    lines = [f"asset token {info['token']}: {printable(info['name'])} ({printable(info['symbol'])})",
             f"  supply      {_rwa.format_units(int(info['totalSupply']), decimals)} ({info['totalSupply']} units)",
             f"  owner       {info['owner']}", f"  paused      {info['paused']}",
             f"  holders     {info['holderCount']} (max {info['maxHolders'] or 'none'})",
             f"  lock-up     until {info['lockupUntil']}" if info["lockupUntil"] else "  lock-up     none"]
    for h in info["holders"]:
        lines.append(f"  {h['address']}  balance {_rwa.format_units(int(h['balance']), decimals)}"
                     f"  verified {h['verified']} (country {h['country']})  frozen {h['frozen']}"
                     f"  frozen tokens {_rwa.format_units(int(h['frozenTokens']), decimals)}")
    click.echo("\n".join(lines))


# -- usage rights -------------------------------------------------------------------------

@rwa.group("rights")
def rights() -> None:
    """UsageRightsToken (ERC-1155): rights to use an asset for a period."""


@rights.command("create")
@click.option("--contract", "contract", callback=address_arg, help="Add the right to this rights contract (else create one).")
@click.option("--start", required=True, help="Start of the period: unix time or +N[s|m|h|d] from now.")
@click.option("--end", required=True, help="End of the period (exclusive): unix time or +N[s|m|h|d].")
@click.option("--max-supply", required=True, type=click.IntRange(min=1), help="Units that can ever be minted.")
@click.option("--uri", default="", help="Metadata URI of the right.")
@send_options
def rights_create(contract: str | None, start: str, end: str, max_supply: int, uri: str, opts: SendOptions) -> None:
    """Create a right (an ERC-1155 id); without --contract first a new rights contract owned by the signer."""
    session = Session(opts)
    start_at, end_at = when_arg(session, start, "--start"), when_arg(session, end, "--end")
    details: dict[str, Any] = {}
    if contract is None:
        sent, contract = create(session, "UsageRightsFactory", "createUsageRights")
        if contract is None:
            raise click.ClickException("--no-wait cannot create a rights contract and its right in one command")
        details["createdContract"] = sent.summary["hash"]
    address = checksum(contract)
    sent = session.send(address, "UsageRightsToken", "createRight", start_at, end_at, max_supply, uri)
    events = _rwa.event_logs(sent.logs, "UsageRightsToken", "RightCreated", address)
    right_id = events[0]["id"] if events else None
    details.update({"contract": address, "id": right_id, "start": start_at, "end": end_at, "maxSupply": max_supply})
    finish(opts, "createRight", sent, details, (f"  right {right_id} of {address}: [{start_at}, {end_at}), "
                                              f"max supply {max_supply}",))


@rights.command("mint")
@click.argument("contract", callback=address_arg)
@click.argument("right_id", metavar="ID", type=click.IntRange(min=1))
@click.argument("to", callback=address_arg)
@click.argument("amount", type=click.IntRange(min=1))
@send_options
def rights_mint(contract: str, right_id: int, to: str, amount: int, opts: SendOptions) -> None:
    """Mint AMOUNT units of right ID to TO (issuer only)."""
    sent = Session(opts).send(checksum(contract), "UsageRightsToken", "mint", to, right_id, amount, b"")
    finish(opts, "mint", sent, {"contract": checksum(contract), "id": right_id, "to": checksum(to), "amount": amount},
           (f"  minted {amount} of right {right_id} to {checksum(to)}",))


@rights.command("info")
@click.argument("contract", callback=address_arg)
@click.option("--holder", callback=address_arg, help="Also show this holder's units and active rights.")
@rpc_option
@node_home_option
@json_option
def rights_info(contract: str, holder: str | None, rpc_url: str, as_json: bool) -> None:
    """The rights of CONTRACT (the first 100), with --holder's units."""
    session, address = Session(rpc_url=rpc_url), checksum(contract)
    count = session.view(address, "UsageRightsToken", "rightCount")
    listed = []
    for right_id in range(1, min(count, 100) + 1):
        start, end, max_supply, minted = session.view(address, "UsageRightsToken", "right", right_id)
        row = {"id": right_id, "start": start, "end": end, "maxSupply": str(max_supply), "minted": str(minted)}
        if holder:
            row["balance"] = str(session.view(address, "UsageRightsToken", "balanceOf", holder, right_id))
            row["active"] = session.view(address, "UsageRightsToken", "hasActiveRight", holder, right_id)
        listed.append(row)
    info = {"contract": address, "issuer": checksum(session.view(address, "UsageRightsToken", "issuer")),
            "rightCount": count, "rights": listed}
    if as_json:
        echo_json(info)
        return
    click.echo(f"usage rights {address} (issuer {info['issuer']}): {count} right(s)")
    for r in listed:
        extra = f"  held {r['balance']} (active {r['active']})" if holder else ""
        click.echo(f"  {r['id']}: [{r['start']}, {r['end']})  minted {r['minted']} of {r['maxSupply']}{extra}")


# -- query rwa ----------------------------------------------------------------------------

def issuer_assets(session: Session, issuer: str) -> dict[str, list[str]]:
    """What ``issuer`` created through each factory, from the registry views (paged)."""
    listed: dict[str, list[str]] = {}
    for factory, address in _rwa.FACTORIES.items():
        count = min(session.view(address, factory, "createdCount", issuer), MAX_LISTED)
        found: list[str] = []
        while len(found) < count:
            page = session.view(address, factory, "createdBy", issuer, len(found), 100)
            if not page:
                break
            found.extend(checksum(a) for a in page)
        listed[_rwa.PRODUCT_OF[factory]] = found[:count]
    return listed


@query.command("rwa")
@click.argument("issuer", callback=address_arg)
@rpc_option
@node_home_option
@json_option
def query_rwa(issuer: str, rpc_url: str, as_json: bool) -> None:
    """The tokens, rights and vaults ISSUER created through the RWA factories."""
    listed = issuer_assets(Session(rpc_url=rpc_url), issuer)
    if as_json:
        echo_json({"issuer": checksum(issuer), "assets": listed})
        return
    total = sum(len(v) for v in listed.values())
    click.echo(f"{checksum(issuer)} created {total} RWA contract(s)")
    for kind, addresses in listed.items():
        for address in addresses:
            click.echo(f"  {kind:<18} {address}")

