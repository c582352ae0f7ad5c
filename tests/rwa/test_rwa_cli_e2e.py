"""The issue's done-when flows from the `plume-node rwa` CLI alone, against a real node process.

An issuer creates an asset token through the predeployed factory, verifies
two holders and transfers to them; a transfer to an unverified address is
refused with its reason; freezing and a forced transfer work. A milestone
vault with three verifiers and quorum two: one attestation releases nothing,
two release exactly that milestone's amount; a missed deadline lets backers
withdraw their pro-rata remainder. A revenue-share vault with three holders:
revenue distributed twice with a share transfer between, claims exact to the
wei (checked against the index arithmetic of docs/tokenization.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from eth_account import Account
from eth_utils import keccak
from rpcclient import rpc
from rwa_fixtures import RevenueModel
from waiting import wait_until

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
from e2e_node import RunningNode, cli, start_node  # noqa: E402

pytestmark = pytest.mark.slow
UNIT = 10**18  # an AssetToken's whole token
VIRTUAL_SHARES = 10**6


@pytest.fixture(scope="module")
def node(tmp_path_factory) -> RunningNode:
    running = start_node(tmp_path_factory.mktemp("rwa-cli"))
    yield running
    running.stop()


class Actors:
    """The node's operator (issuer) and funded accounts with key files, by name."""

    def __init__(self, node: RunningNode, directory: Path, names: tuple[str, ...]) -> None:
        self.node, self.keys, self.address = node, {}, {}
        self.address["issuer"] = node.operator().address
        for name in names:
            account = Account.from_key(keccak(f"rwa-cli-{directory.name}-{name}".encode()))
            key_file = directory / f"{name}.key"
            key_file.write_text(account.key.hex())
            self.keys[name], self.address[name] = str(key_file), account.address
            self.run("tx", "send", "--to", account.address, "--value", "10plume", who="issuer", send_from=True)

    def signer(self, who: str, send_from: bool = False) -> list[str]:
        if who == "issuer":
            return ["--home", str(self.node.home), "--password-file", str(self.node.password_file),
                    *(["--from", "operator"] if send_from else [])]
        return ["--private-key-file", self.keys[who]]

    def run(self, *args: str, who: str | None = None, send_from: bool = False) -> dict:
        """`plume-node ARGS --json` (signed by ``who``) must succeed: its JSON."""
        full = [*args, *(self.signer(who, send_from) if who else []), "--rpc", self.node.rpc_url, "--json"]
        done = cli(*full)
        assert done.returncode == 0, f"plume-node {' '.join(full)} failed:\n{done.stdout}\n{done.stderr}"
        return json.loads(done.stdout)

    def refused(self, *args: str, who: str) -> str:
        """`plume-node ARGS` signed by ``who`` must be refused before sending: its error line."""
        full = [*args, *self.signer(who), "--rpc", self.node.rpc_url]
        done = cli(*full)
        assert done.returncode == 1, f"expected a refusal: {done.returncode}\n{done.stdout}\n{done.stderr}"
        assert "nothing was sent" in done.stderr and "Traceback" not in done.stderr, done.stderr
        return done.stderr.strip()


def block_time(node: RunningNode) -> int:
    return int(rpc(node.rpc_url, "eth_getBlockByNumber", "latest", False)["timestamp"], 16)


def balance(actors: Actors, token: str, who: str) -> int:
    info = actors.run("rwa", "token", "info", token, "--holder", actors.address[who])
    return int(info["holders"][0]["balance"])


def test_asset_token_from_the_cli(node, tmp_path) -> None:
    actors = Actors(node, tmp_path, ("alice", "bob"))
    stranger = Account.create().address
    created = actors.run("rwa", "token", "create", "Solar Co-op", "SUN", who="issuer")
    token = created["token"]
    assert created["status"] == "success" and token.startswith("0x")
    for who, country in (("issuer", 276), ("alice", 276), ("bob", 250)):
        actors.run("rwa", "token", "identity", "add", token, actors.address[who], "--country", str(country), who="issuer")
    actors.run("rwa", "token", "mint", token, actors.address["issuer"], "1000tokens", who="issuer")
    actors.run("rwa", "token", "transfer", token, actors.address["alice"], "300tokens", who="issuer")
    actors.run("rwa", "token", "transfer", token, actors.address["bob"], "200000000000000000000", who="issuer")
    assert [balance(actors, token, w) for w in ("issuer", "alice", "bob")] == [500 * UNIT, 300 * UNIT, 200 * UNIT]

    error = actors.refused("rwa", "token", "transfer", token, stranger, "1tokens", who="alice")
    assert f"ReceiverNotVerified(holder={stranger})" in error

    actors.run("rwa", "token", "freeze", token, actors.address["alice"], who="issuer")
    error = actors.refused("rwa", "token", "transfer", token, actors.address["bob"], "1", who="alice")
    assert f"SenderFrozen(holder={actors.address['alice']})" in error
    forced = actors.run("rwa", "token", "forced-transfer", token, actors.address["alice"], actors.address["bob"],
                        "100tokens", who="issuer")
    assert forced["amount"] == str(100 * UNIT)
    assert [balance(actors, token, w) for w in ("alice", "bob")] == [200 * UNIT, 300 * UNIT]
    listed = actors.run("query", "rwa", actors.address["issuer"])
    assert token in listed["assets"]["AssetToken"]


def stable_token(actors: Actors, holders: dict[str, int]) -> str:
    """An asset token (the vaults' asset) with ``holders`` verified and minted whole tokens."""
    token = actors.run("rwa", "token", "create", "Dollar", "USD", who="issuer")["token"]
    for who, amount in holders.items():
        actors.run("rwa", "token", "identity", "add", token, actors.address[who], "--country", "840", who="issuer")
        actors.run("rwa", "token", "mint", token, actors.address[who], f"{amount}tokens", who="issuer")
    return token


def verify(actors: Actors, token: str, *addresses: str) -> None:
    for address in addresses:
        actors.run("rwa", "token", "identity", "add", token, address, "--country", "840", who="issuer")


def test_milestone_vault_from_the_cli(node, tmp_path) -> None:
    actors = Actors(node, tmp_path, ("backer1", "backer2", "v1", "v2", "v3"))
    recipient = Account.create().address
    usd = stable_token(actors, {"backer1": 300, "backer2": 200})
    now = block_time(node)
    # deposits close 35 s after now; milestone 0 must be attested within 30 s more, milestone 1 is missed
    created = actors.run(
        "rwa", "vault", "create", "milestone", "--asset", usd, "--name", "School", "--symbol", "SCH",
        "--deposit-deadline", str(now + 35), *(a for v in ("v1", "v2", "v3") for a in ("--verifier", actors.address[v])),
        "--quorum", "2", "--milestone", f"100tokens:{recipient}:{now + 65}", "--milestone", f"50%:{recipient}:{now + 70}",
        who="issuer")
    vault = created["vault"]
    verify(actors, usd, vault, recipient)
    for backer, amount in (("backer1", "300tokens"), ("backer2", "200tokens")):
        deposited = actors.run("rwa", "vault", "deposit", vault, amount, who=backer)
        assert deposited["approval"] is not None  # the vault was approved first
    wait_until(lambda: block_time(node) > now + 35, timeout=90, what="the deposit deadline to pass")

    first = actors.run("rwa", "vault", "attest", vault, "0", "--evidence", "school built", who="v1")
    assert first["count"] == 1 and first["released"] is None
    assert int(actors.run("rwa", "token", "info", usd, "--holder", recipient)["holders"][0]["balance"]) == 0
    error = actors.refused("rwa", "vault", "attest", vault, "0", "--evidence", "school built", who="v1")
    assert f"AlreadyAttested(milestone=0, verifier={actors.address['v1']})" in error
    # v3 signs; backer1 submits the signature
    signature = actors.run("rwa", "vault", "attest", vault, "0", "--evidence", "school built", "--sign-only",
                           who="v3")["signature"]
    second = actors.run("rwa", "vault", "attest", vault, "0", "--evidence", "school built", "--signature", signature,
                        who="backer1")
    assert second["count"] == 2 and second["released"] == str(100 * UNIT)
    assert int(actors.run("rwa", "token", "info", usd, "--holder", recipient)["holders"][0]["balance"]) == 100 * UNIT

    wait_until(lambda: block_time(node) > now + 70, timeout=120, what="milestone 1's deadline to pass")
    info = actors.run("rwa", "vault", "info", vault)
    assert info["failed"] is True and info["totalAssets"] == str(400 * UNIT)
    supply = raised_supply = int(info["totalSupply"])
    remaining = 400 * UNIT
    paid = 0
    for backer in ("backer1", "backer2"):
        shares = int(actors.run("rwa", "vault", "info", vault, "--holder", actors.address[backer])["holder"]["shares"])
        out = actors.run("rwa", "vault", "withdraw", vault, "--all", who=backer)
        # ERC-4626 redeem, rounded down, with the virtual shares and asset of the inflation defence
        expected = shares * (remaining + 1) // (supply + VIRTUAL_SHARES)
        assert int(out["assets"]) == expected
        exact_pro_rata = 400 * UNIT * shares // raised_supply
        assert exact_pro_rata - expected <= 1  # the virtual shares take less than a unit
        remaining, supply, paid = remaining - expected, supply - shares, paid + expected
        assert balance(actors, usd, backer) == expected
    assert 400 * UNIT - paid <= 2


def test_revenue_share_vault_from_the_cli(node, tmp_path) -> None:
    holders = ("h1", "h2", "h3")
    actors = Actors(node, tmp_path, holders)
    sol = stable_token(actors, {"h1": 50, "h2": 30, "h3": 20})
    vault = actors.run("rwa", "vault", "create", "revenue", "--asset", sol, "--name", "Solar revenue",
                       "--symbol", "rSUN", who="issuer")["vault"]
    verify(actors, sol, vault)
    shares: dict[str, int] = {}
    for who, amount in zip(holders, ("50tokens", "30tokens", "20tokens")):
        shares[who] = int(actors.run("rwa", "vault", "deposit", vault, amount, who=who)["shares"])
    model = RevenueModel()
    first, second = 1_000_000_000_000_000_001, 700_000_000_000_000_003  # odd wei: dust to carry
    actors.run("rwa", "vault", "distribute", vault, str(first), who="issuer")
    model.distribute(first, sum(shares.values()))
    # h1 moves a third of its shares to h3 between the distributions (vault shares are ERC-20)
    moved = shares["h1"] // 3
    for who in ("h1", "h3"):
        model.settle(who, shares[who])
    actors.run("rwa", "token", "transfer", vault, actors.address["h3"], str(moved), who="h1")
    shares["h1"], shares["h3"] = shares["h1"] - moved, shares["h3"] + moved
    actors.run("rwa", "vault", "distribute", vault, "0.700000000000000003plume", who="issuer")
    model.distribute(second, sum(shares.values()))
    claimed = 0
    for who in holders:
        before = int(rpc(node.rpc_url, "eth_getBalance", actors.address[who], "latest"), 16)
        out = actors.run("rwa", "vault", "claim", vault, who=who)
        expected = model.claim(who, shares[who])
        assert int(out["native"]) == expected
        fee = out["gasUsed"] * int(out["effectiveGasPrice"])
        assert int(rpc(node.rpc_url, "eth_getBalance", actors.address[who], "latest"), 16) == before + expected - fee
        claimed += expected
    streams = actors.run("rwa", "vault", "info", vault)["streams"]["native"]
    assert int(streams["distributed"]) == first + second and int(streams["claimed"]) == claimed
    dust = first + second - claimed
    assert 0 <= dust <= len(holders)  # at most a wei per holder, still owed (docs: "Exact to the wei")
    error = actors.refused("rwa", "vault", "claim", vault, who="h2")
    assert "NothingToClaim()" in error


def native_balance(node: RunningNode, address: str) -> int:
    return int(rpc(node.rpc_url, "eth_getBalance", address, "latest"), 16)


def test_pause_partial_freeze_escrow_and_rights_from_the_cli(node, tmp_path) -> None:
    actors = Actors(node, tmp_path, ("alice", "bob"))
    token = actors.run("rwa", "token", "create", "Roof", "ROOF", who="issuer")["token"]
    verify(actors, token, actors.address["alice"], actors.address["bob"])
    actors.run("rwa", "token", "mint", token, actors.address["alice"], "10tokens", who="issuer")
    actors.run("rwa", "token", "pause", token, who="issuer")
    assert "TokenPaused()" in actors.refused("rwa", "token", "transfer", token, actors.address["bob"], "1", who="alice")
    actors.run("rwa", "token", "pause", token, "--unpause", who="issuer")
    actors.run("rwa", "token", "freeze", token, actors.address["alice"], "--amount", "9.5tokens", who="issuer")
    error = actors.refused("rwa", "token", "transfer", token, actors.address["bob"], "1tokens", who="alice")
    assert f"InsufficientUnfrozenBalance(holder={actors.address['alice']}, unfrozen={UNIT // 2}, needed={UNIT})" in error
    actors.run("rwa", "token", "identity", "remove", token, actors.address["bob"], who="issuer")
    info = actors.run("rwa", "token", "info", token, "--holder", actors.address["alice"], "--holder", actors.address["bob"])
    assert [h["verified"] for h in info["holders"]] == [True, False]
    assert info["holders"][0]["frozenTokens"] == str(95 * UNIT // 10)
    error = actors.refused("rwa", "token", "mint", token, actors.address["bob"], "1", who="alice")
    assert f"NotAgent(caller={actors.address['alice']})" in error

    # an escrow of 2 PLUME: the payee disputes, only the arbiter resolves, here a split
    escrow = actors.run("rwa", "vault", "create", "escrow", "--payee", actors.address["alice"], "--arbiter",
                        actors.address["bob"], "--amount", "2plume", "--timeout-at", "+1h", who="issuer")["vault"]
    actors.run("rwa", "vault", "deposit", escrow, who="issuer")
    actors.run("rwa", "vault", "dispute", escrow, who="alice")
    error = actors.refused("rwa", "vault", "resolve", escrow, "--to-payee", "1plume", who="alice")
    assert f"NotArbiter(caller={actors.address['alice']})" in error
    before = native_balance(node, actors.address["alice"])
    resolved = actors.run("rwa", "vault", "resolve", escrow, "--to-payee", "1.5plume", who="bob")
    assert (resolved["toPayee"], resolved["toPayer"]) == (str(15 * UNIT // 10), str(UNIT // 2))
    assert native_balance(node, actors.address["alice"]) == before + 15 * UNIT // 10
    assert actors.run("rwa", "vault", "info", escrow)["state"] == "closed"
    not_a_vault = cli("rwa", "vault", "info", token, "--rpc", node.rpc_url)
    assert not_a_vault.returncode == 1 and "is not a vault created by the RWA factories" in not_a_vault.stderr

    # usage rights: a new rights contract and its first right, minted up to its supply
    right = actors.run("rwa", "rights", "create", "--start", "+1h", "--end", "+2h", "--max-supply", "10",
                       "--uri", "ipfs://gpu-hour", who="issuer")
    contract = right["contract"]
    assert right["id"] == 1
    actors.run("rwa", "rights", "mint", contract, "1", actors.address["alice"], "4", who="issuer")
    error = actors.refused("rwa", "rights", "mint", contract, "1", actors.address["bob"], "7", who="issuer")
    assert "SupplyExceeded(id=1, requested=7, available=6)" in error
    shown = actors.run("rwa", "rights", "info", contract, "--holder", actors.address["alice"])
    assert shown["rights"][0]["balance"] == "4" and shown["rights"][0]["active"] is False
    listed = actors.run("query", "rwa", actors.address["issuer"])["assets"]
    assert escrow in listed["EscrowVault"] and contract in listed["UsageRightsToken"] and token in listed["AssetToken"]
