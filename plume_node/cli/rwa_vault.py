"""`plume-node rwa vault ...`: create and drive milestone, revenue-share and escrow vaults.

A vault's kind is read from the registries of the predeployed factories
(`isCreated`), so `deposit`, `withdraw`, `claim` and `info` do the right call
for any vault the factories made. A deposit of an ERC-20 first approves the
vault for exactly the amount when the allowance is short (two transactions).
Attestations are EIP-712 signatures by a verifier (`--from`/`--private-key-file`)
over the MilestoneVault's domain; `--sign-only` prints one without sending and
`--signature` submits one made elsewhere.
"""

from __future__ import annotations

import re
from typing import Any

import click

from plume_node.cli import _rwa
from plume_node.cli._common import address_arg, echo_json, json_option, node_home_option, rpc_option
from plume_node.cli._staking import RateError, parse_bps, printable
from plume_node.cli.rwa import (
    ZERO_ADDRESS, Session, checksum, create, finish, finish_created, print_address_option, rwa, when_arg,
)
from plume_node.cli.staking import SendOptions, send_options

VAULT_FACTORIES = {"MilestoneVault": "MilestoneVaultFactory", "RevenueShareVault": "RevenueShareVaultFactory",
                   "EscrowVault": "EscrowVaultFactory"}
ESCROW_STATES = ("awaiting-funds", "funded", "disputed", "closed")
NATIVE, TOKEN = 0, 1  # RevenueShareVault streams


def vault_kind(session: Session, vault: str) -> str:
    for kind, factory in VAULT_FACTORIES.items():
        if session.view(_rwa.FACTORIES[factory], factory, "isCreated", vault):
            return kind
    raise click.ClickException(f"{vault} is not a vault created by the RWA factories")


def needs(kind: str, allowed: tuple[str, ...], what: str) -> None:
    if kind not in allowed:
        raise click.ClickException(f"{what} works on a {' or '.join(allowed)}, and this is a {kind}")


def approve_if_short(session: Session, token: str, spender: str, amount: int) -> str | None:
    """Approve ``spender`` for ``amount`` of ``token`` if the allowance is short; the approval's hash."""
    allowance = session.view(token, "AssetToken", "allowance", session.account.address, spender)
    if allowance >= amount:
        return None
    return session.send(token, "AssetToken", "approve", spender, amount).summary["hash"]


@rwa.group("vault")
def vault() -> None:
    """Milestone, revenue-share and escrow vaults: create, deposit, attest, distribute, claim, resolve."""


@vault.group("create")
def vault_create() -> None:
    """Create a vault through its predeployed factory; the signer is its issuer (payer of an escrow)."""


def parse_milestone(session: Session, asset: str, text: str) -> tuple[int, int, str, int]:
    """``AMOUNT:RECIPIENT:DEADLINE``: AMOUNT a token amount or a share (``40%``, ``2500bps``)."""
    parts = text.split(":")
    if len(parts) != 3:
        raise click.BadParameter(f"{text[:80]!r} is not AMOUNT:RECIPIENT:DEADLINE", param_hint="--milestone")
    amount_text, recipient, deadline = parts
    recipient = address_arg(None, None, recipient.strip())
    if re.search(r"(%|bps)\s*$", amount_text, re.IGNORECASE):
        try:
            amount, share = 0, parse_bps(amount_text)
        except RateError as exc:
            raise click.BadParameter(str(exc), param_hint="--milestone") from None
    else:
        amount, share = session.amount(amount_text, asset, param="--milestone"), 0
    return amount, share, checksum(recipient), when_arg(session, deadline, "--milestone")


@vault_create.command("milestone")
@click.option("--asset", required=True, callback=address_arg, help="The ERC-20 backers deposit.")
@click.option("--name", required=True, help="The vault shares' name.")
@click.option("--symbol", required=True, help="The vault shares' symbol.")
@click.option("--deposit-deadline", required=True, help="Deposits close: unix time or +N[s|m|h|d] from now.")
@click.option("--verifier", "verifiers", multiple=True, required=True, callback=lambda c, p, v: tuple(address_arg(c, p, a) for a in v),
              help="A verifier address (repeatable, at most 32).")
@click.option("--quorum", required=True, type=click.IntRange(1, 32), help="Attestations that release a milestone.")
@click.option("--milestone", "milestones", multiple=True, required=True,
              help="AMOUNT:RECIPIENT:DEADLINE in order (AMOUNT like 100tokens, or a share like 40%%).")
@print_address_option
@send_options
def create_milestone(asset: str, name: str, symbol: str, deposit_deadline: str, verifiers: tuple[str, ...],
                     quorum: int, milestones: tuple[str, ...], print_address: bool, opts: SendOptions) -> None:
    """A MilestoneVault: funds released milestone by milestone on a quorum of verifier attestations."""
    session = Session(opts)
    asset = checksum(asset)
    parsed = [parse_milestone(session, asset, m) for m in milestones]
    deadline = when_arg(session, deposit_deadline, "--deposit-deadline")
    sent, address = create(session, "MilestoneVaultFactory", "createMilestoneVault", asset, name, symbol,
                           deadline, [checksum(v) for v in verifiers], quorum, parsed)
    details = {"vault": address, "asset": asset, "depositDeadline": deadline,
               "verifiers": [checksum(v) for v in verifiers], "quorum": quorum,
               "milestones": [{"amount": str(a), "shareBps": s, "recipient": r, "deadline": d} for a, s, r, d in parsed]}
    finish_created(opts, print_address, "createMilestoneVault", sent, address, details,
           (f"  created milestone vault {address}: {len(parsed)} milestone(s), quorum {quorum} of {len(verifiers)}",
            f"  deposits close at {deadline}"))


@vault_create.command("revenue")
@click.option("--asset", required=True, callback=address_arg, help="The ERC-20 deposited for shares.")
@click.option("--revenue-token", callback=address_arg, help="An ERC-20 revenue may also come in (native always can).")
@click.option("--name", required=True, help="The shares' name.")
@click.option("--symbol", required=True, help="The shares' symbol.")
@print_address_option
@send_options
def create_revenue(asset: str, revenue_token: str | None, name: str, symbol: str, print_address: bool,
                   opts: SendOptions) -> None:
    """A RevenueShareVault: revenue distributed to share holders pro rata, claimed any time."""
    session = Session(opts)
    sent, address = create(session, "RevenueShareVaultFactory", "createRevenueShareVault", checksum(asset),
                           checksum(revenue_token or ZERO_ADDRESS), name, symbol)
    finish_created(opts, print_address, "createRevenueShareVault", sent, address,
                   {"vault": address, "asset": checksum(asset), "revenueToken": checksum(revenue_token or ZERO_ADDRESS)},
           (f"  created revenue-share vault {address}",))


@vault_create.command("escrow")
@click.option("--payee", required=True, callback=address_arg, help="Who is paid on release.")
@click.option("--arbiter", required=True, callback=address_arg, help="Who decides a dispute.")
@click.option("--token", callback=address_arg, help="An ERC-20 to escrow (default: native PLUME).")
@click.option("--amount", "amount_text", required=True, help="The escrowed amount (wei, 1plume, or 10tokens).")
@click.option("--timeout-at", "timeout_at", required=True, help="After it the payer can take the funds back: unix time or +N[s|m|h|d].")
@print_address_option
@send_options
def create_escrow(payee: str, arbiter: str, token: str | None, amount_text: str, timeout_at: str, print_address: bool,
                  opts: SendOptions) -> None:
    """An EscrowVault with the signer as payer; fund it with `rwa vault deposit`."""
    session = Session(opts)
    amount = session.amount(amount_text, checksum(token), param="--amount") if token else session.native(amount_text, "--amount")
    timeout = when_arg(session, timeout_at, "--timeout-at")
    sent, address = create(session, "EscrowVaultFactory", "createEscrow", checksum(payee), checksum(arbiter),
                           checksum(token or ZERO_ADDRESS), amount, timeout)
    finish_created(opts, print_address, "createEscrow", sent, address, {"vault": address, "payee": checksum(payee), "arbiter": checksum(arbiter),
                                         "token": checksum(token or ZERO_ADDRESS), "amount": str(amount), "timeout": timeout},
           (f"  created escrow {address} for {amount} wei/units, timeout {timeout}",))


@vault.command("deposit")
@click.argument("vault_address", metavar="VAULT", callback=address_arg)
@click.argument("amount_text", metavar="AMOUNT", required=False)
@send_options
def vault_deposit(vault_address: str, amount_text: str | None, opts: SendOptions) -> None:
    """Deposit AMOUNT of the vault's asset for shares (an escrow: fund it with its amount)."""
    session, address = Session(opts), checksum(vault_address)
    kind = vault_kind(session, address)
    if kind == "EscrowVault":
        amount = session.view(address, "EscrowVault", "amount")
        token = checksum(session.view(address, "EscrowVault", "token"))
        native = token == ZERO_ADDRESS
        approval = None if native else approve_if_short(session, token, address, amount)
        sent = session.send(address, "EscrowVault", "fund", value=amount if native else 0)
        finish(opts, "fund", sent, {"vault": address, "amount": str(amount), "approval": approval}, (f"  funded {amount}",))
        return
    if amount_text is None:
        raise click.UsageError("give the AMOUNT to deposit")
    asset = checksum(session.view(address, kind, "asset"))
    amount = session.amount(amount_text, asset)
    approval = approve_if_short(session, asset, address, amount)
    shares = session.view(address, kind, "previewDeposit", amount)
    sent = session.send(address, kind, "deposit", amount, session.account.address)
    finish(opts, "deposit", sent, {"vault": address, "amount": str(amount), "shares": str(shares), "approval": approval},
           (f"  deposited {amount} units for {shares} shares",))


@vault.command("withdraw")
@click.argument("vault_address", metavar="VAULT", callback=address_arg)
@click.argument("amount_text", metavar="AMOUNT", required=False)
@click.option("--all", "everything", is_flag=True, help="Redeem every share you hold (a failed milestone vault: your pro-rata part).")
@send_options
def vault_withdraw(vault_address: str, amount_text: str | None, everything: bool, opts: SendOptions) -> None:
    """Withdraw AMOUNT of the asset (or --all your shares) from a milestone or revenue-share vault."""
    session, address = Session(opts), checksum(vault_address)
    kind = vault_kind(session, address)
    needs(kind, ("MilestoneVault", "RevenueShareVault"), "withdraw")
    me = session.account.address
    if everything == (amount_text is not None):
        raise click.UsageError("give either AMOUNT or --all")
    if everything:
        shares = session.view(address, kind, "balanceOf", me)
        assets = session.view(address, kind, "previewRedeem", shares)
        sent = session.send(address, kind, "redeem", shares, me, me)
        method = "redeem"
    else:
        asset = checksum(session.view(address, kind, "asset"))
        assets = session.amount(amount_text, asset)
        shares = session.view(address, kind, "previewWithdraw", assets)
        sent = session.send(address, kind, "withdraw", assets, me, me)
        method = "withdraw"
    finish(opts, method, sent, {"vault": address, "assets": str(assets), "shares": str(shares)},
           (f"  withdrew {assets} units for {shares} shares",))


@vault.command("attest")
@click.argument("vault_address", metavar="VAULT", callback=address_arg)
@click.argument("milestone", type=click.IntRange(min=0))
@click.option("--evidence", required=True, help="The evidence: 0x and 64 hex digits, or text (its keccak-256 is signed).")
@click.option("--sign-only", is_flag=True, help="Print the signature; send nothing (another account submits it).")
@click.option("--signature", "signature_hex", help="Submit this verifier's signature (65 bytes hex) instead of signing.")
@send_options
def vault_attest(vault_address: str, milestone: int, evidence: str, sign_only: bool, signature_hex: str | None,
                 opts: SendOptions) -> None:
    """Sign (EIP-712) and submit an attestation of MILESTONE; the one reaching the quorum releases it."""
    session, address = Session(opts), checksum(vault_address)
    needs(vault_kind(session, address), ("MilestoneVault",), "attest")
    digest = _rwa.parse_evidence(evidence)
    if signature_hex is not None:
        try:
            signature = bytes.fromhex(signature_hex.removeprefix("0x"))
        except ValueError:
            signature = b""
        if len(signature) != 65:
            raise click.BadParameter("expected 65 bytes of hex (r || s || v)", param_hint="--signature")
    else:
        signature = _rwa.sign_attestation(session.account, address, session.chain_id(), milestone, digest)
    if sign_only:
        shown = {"vault": address, "milestone": milestone, "evidence": "0x" + digest.hex(),
                 "verifier": session.account.address, "signature": "0x" + signature.hex()}
        if opts.as_json:
            echo_json(shown)
        else:
            click.echo(shown["signature"])
        return
    sent = session.send(address, "MilestoneVault", "attest", milestone, digest, signature)
    attested = _rwa.event_logs(sent.logs, "MilestoneVault", "Attested", address)
    released = _rwa.event_logs(sent.logs, "MilestoneVault", "MilestoneReleased", address)
    details = {"vault": address, "milestone": milestone, "evidence": "0x" + digest.hex(),
               "verifier": checksum(attested[0]["verifier"]) if attested else None,
               "count": attested[0]["count"] if attested else None,
               "released": str(released[0]["amount"]) if released else None}
    lines = [f"  attestation {details['count']} of milestone {milestone} by {details['verifier']}"]
    if released:
        lines.append(f"  released {released[0]['amount']} units to {checksum(released[0]['recipient'])}")
    finish(opts, "attest", sent, details, tuple(lines))


def _escrow_command(method: str, doc: str):
    @click.argument("vault_address", metavar="VAULT", callback=address_arg)
    @send_options
    def command(vault_address: str, opts: SendOptions) -> None:
        session, address = Session(opts), checksum(vault_address)
        needs(vault_kind(session, address), ("EscrowVault",), method)
        sent = session.send(address, "EscrowVault", method)
        finish(opts, method, sent, {"vault": address, **_closed(sent, address)}, (f"  {method}: done",))

    command.__doc__ = doc
    return command


def _closed(sent, address: str) -> dict[str, Any]:
    closed = _rwa.event_logs(sent.logs, "EscrowVault", "Closed", address)
    if not closed:
        return {}
    return {"toPayee": str(closed[0]["toPayee"]), "toPayer": str(closed[0]["toPayer"])}


vault.command("release")(_escrow_command("release", "Release an escrow to its payee (payer only). "
                                          "A milestone vault releases through `rwa vault attest`."))
vault.command("dispute")(_escrow_command("dispute", "Open a dispute on a funded escrow (payer or payee)."))


@vault.command("resolve")
@click.argument("vault_address", metavar="VAULT", callback=address_arg)
@click.option("--to-payee", "to_payee_text", required=True, help="What the payee gets (the rest goes back to the payer); `all` or 0 allowed.")
@send_options
def vault_resolve(vault_address: str, to_payee_text: str, opts: SendOptions) -> None:
    """Decide a disputed escrow (arbiter only): release, refund, or split."""
    session, address = Session(opts), checksum(vault_address)
    needs(vault_kind(session, address), ("EscrowVault",), "resolve")
    total = session.view(address, "EscrowVault", "amount")
    token = checksum(session.view(address, "EscrowVault", "token"))
    if to_payee_text == "all":
        to_payee = total
    elif token == ZERO_ADDRESS:
        to_payee = session.native(to_payee_text, "--to-payee")
    else:
        to_payee = session.amount(to_payee_text, token, param="--to-payee")
    sent = session.send(address, "EscrowVault", "resolve", to_payee)
    finish(opts, "resolve", sent, {"vault": address, **_closed(sent, address)},
           (f"  resolved: {to_payee} to the payee, {total - to_payee} to the payer",))


@vault.command("distribute")
@click.argument("vault_address", metavar="VAULT", callback=address_arg)
@click.argument("amount_text", metavar="AMOUNT")
@click.option("--token", "in_token", is_flag=True, help="Distribute the vault's revenue token (else native PLUME).")
@send_options
def vault_distribute(vault_address: str, amount_text: str, in_token: bool, opts: SendOptions) -> None:
    """Distribute AMOUNT of revenue to a revenue-share vault's holders, pro rata to their shares."""
    session, address = Session(opts), checksum(vault_address)
    needs(vault_kind(session, address), ("RevenueShareVault",), "distribute")
    approval = None
    if in_token:
        revenue_token = checksum(session.view(address, "RevenueShareVault", "revenueToken"))
        amount = session.amount(amount_text, revenue_token)
        approval = approve_if_short(session, revenue_token, address, amount)
        sent = session.send(address, "RevenueShareVault", "distributeToken", amount)
    else:
        amount = session.native(amount_text)
        sent = session.send(address, "RevenueShareVault", "distributeNative", value=amount)
    finish(opts, "distributeToken" if in_token else "distributeNative", sent,
           {"vault": address, "amount": str(amount), "stream": "token" if in_token else "native", "approval": approval},
           (f"  distributed {amount} {'units' if in_token else 'wei'} to the holders",))


@vault.command("claim")
@click.argument("vault_address", metavar="VAULT", callback=address_arg)
@send_options
def vault_claim(vault_address: str, opts: SendOptions) -> None:
    """Claim your revenue from a revenue-share vault (an escrow past its timeout: refund the payer)."""
    session, address = Session(opts), checksum(vault_address)
    kind = vault_kind(session, address)
    needs(kind, ("RevenueShareVault", "EscrowVault"), "claim")
    if kind == "EscrowVault":
        sent = session.send(address, "EscrowVault", "claimTimeout")
        finish(opts, "claimTimeout", sent, {"vault": address, **_closed(sent, address)}, ("  refunded the payer",))
        return
    sent = session.send(address, "RevenueShareVault", "claim")
    claimed = _rwa.event_logs(sent.logs, "RevenueShareVault", "RevenueClaimed", address)
    native, token = (claimed[0]["nativeAmount"], claimed[0]["tokenAmount"]) if claimed else (None, None)
    finish(opts, "claim", sent, {"vault": address, "native": None if native is None else str(native),
                                 "token": None if token is None else str(token)},
           (f"  claimed {native} wei and {token} revenue-token units",))


def vault_state(session: Session, address: str, kind: str, holder: str | None) -> dict[str, Any]:
    v = lambda name, *args: session.view(address, kind, name, *args)  # noqa: E731
    if kind == "EscrowVault":
        return {"vault": address, "kind": kind, "payer": checksum(v("payer")), "payee": checksum(v("payee")),
                "arbiter": checksum(v("arbiter")), "token": checksum(v("token")), "amount": str(v("amount")),
                "timeout": v("timeout"), "state": ESCROW_STATES[v("state")]}
    info: dict[str, Any] = {"vault": address, "kind": kind, "name": v("name"), "symbol": v("symbol"),
                            "asset": checksum(v("asset")), "issuer": checksum(v("issuer")),
                            "totalAssets": str(v("totalAssets")), "totalSupply": str(v("totalSupply"))}
    if kind == "MilestoneVault":
        info.update({"depositDeadline": v("depositDeadline"), "quorum": v("quorum"),
                     "verifiers": [checksum(a) for a in v("verifiers")], "raised": str(v("raised")),
                     "nextMilestone": v("nextMilestone"), "failed": v("failed"), "completed": v("completed"),
                     "milestones": [dict(zip(("amount", "shareBps", "recipient", "deadline", "released"), m))
                                    for m in (v("milestone", i) for i in range(v("milestoneCount")))]})
        for m in info["milestones"]:
            m["amount"], m["recipient"] = str(m["amount"]), checksum(m["recipient"])
    else:
        info["revenueToken"] = checksum(v("revenueToken"))
        info["streams"] = {name: dict(zip(("index", "remainder", "distributed", "claimed"),
                                          map(str, v("streamInfo", stream))))
                           for name, stream in (("native", NATIVE), ("token", TOKEN))}
    if holder:
        info["holder"] = {"address": checksum(holder), "shares": str(v("balanceOf", holder)),
                          "maxWithdraw": str(v("maxWithdraw", holder))}
        if kind == "RevenueShareVault":
            native, token = v("claimable", holder)
            info["holder"].update({"claimableNative": str(native), "claimableToken": str(token)})
    return info


@vault.command("info")
@click.argument("vault_address", metavar="VAULT", callback=address_arg)
@click.option("--holder", callback=address_arg, help="Also show this holder's shares and what it can withdraw or claim.")
@rpc_option
@node_home_option
@json_option
def vault_info(vault_address: str, holder: str | None, rpc_url: str, as_json: bool) -> None:
    """A vault's configuration and state (and --holder's position)."""
    session, address = Session(rpc_url=rpc_url), checksum(vault_address)
    info = vault_state(session, address, vault_kind(session, address), holder)
    if as_json:
        echo_json(info)
        return
    click.echo(f"{info['kind']} {address}" + (f": {printable(info['name'])}" if "name" in info else ""))
    for key, value in info.items():
        if key not in ("vault", "kind", "name"):
            # on-chain strings (the symbol) may hold control characters: printable() shows them as '?'
            click.echo(f"  {key:<15} {printable(str(value), 400)}")
