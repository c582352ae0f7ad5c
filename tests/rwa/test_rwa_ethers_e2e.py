"""The RWA flows from ethers.js v6 with the shipped ABIs, against a real `plume-node` process.

The script (below) uses only the artifacts' ABIs and the factories predeployed
at 0x…2000: an asset token created, two holders verified and paid, a transfer
to an unverified address refused with `ReceiverNotVerified`, a freeze and a
forced transfer; a milestone vault with three verifiers and quorum two whose
EIP-712 attestations are signed with ethers' `signTypedData` (one releases
nothing, two release exactly the milestone); a revenue-share vault with three
holders, two distributions around a share transfer, and claims exact to the
wei. Python checks what the script reports against the index arithmetic.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from npm import npm_ethers
from rwa_fixtures import RevenueModel

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
from e2e_node import RunningNode, start_node  # noqa: E402

pytestmark = pytest.mark.slow
ARTIFACTS = Path(__file__).resolve().parents[2] / "execution" / "contracts" / "rwa"
UNIT = 10**18
SCRIPT_TIMEOUT_S = 240

ETHERS_SCRIPT = r"""
const { ethers } = require("ethers");
const fs = require("fs");
const [url, issuerKey, artifacts] = process.argv.slice(2);
const abi = (name) => JSON.parse(fs.readFileSync(`${artifacts}/${name}.json`, "utf8")).abi;
const FACTORY = { asset: "0x0000000000000000000000000000000000002000", milestone: "0x0000000000000000000000000000000000002002",
                  revenue: "0x0000000000000000000000000000000000002003" };
// ethers v6 answers an identical request from a 250 ms cache; a Plume block is final
// sooner than that, so the next send would get the previous pending nonce (docs/rpc.md).
const provider = new ethers.JsonRpcProvider(url, undefined, { cacheTimeout: -1 });
provider.pollingInterval = 250;
const issuer = new ethers.Wallet(issuerKey, provider);
const wallet = (label) => new ethers.Wallet(ethers.id(`rwa-ethers-${label}`), provider);
const out = {};

async function send(promise) {
  const receipt = await (await promise).wait();
  if (receipt.status !== 1) throw new Error("transaction failed");
  return receipt;
}
async function refusal(promise, contract) {
  try { await promise; } catch (e) {
    if (e.revert) return e.revert.name;
    const parsed = e.data ? contract.interface.parseError(e.data) : null;
    return parsed ? parsed.name : `unexpected: ${e.shortMessage || e.message}`;
  }
  return "not refused";
}
async function created(factory, receipt, name, signer) {
  const log = receipt.logs.map((l) => { try { return factory.interface.parseLog(l); } catch { return null; } })
    .find((p) => p && p.name === "Created");
  return new ethers.Contract(log.args.asset, abi(name), signer);
}
async function newToken(name, symbol) {
  const factory = new ethers.Contract(FACTORY.asset, abi("AssetTokenFactory"), issuer);
  return created(factory, await send(factory.createAssetToken(name, symbol)), "AssetToken", issuer);
}
async function fund(wallets) {
  for (const w of wallets) await send(issuer.sendTransaction({ to: w.address, value: ethers.parseEther("5") }));
}
async function waitPast(timestamp) {
  for (;;) {
    const block = await provider.getBlock("latest");
    if (block.timestamp > timestamp) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function assetTokenFlow() {
  const [alice, bob] = [wallet("alice"), wallet("bob")];
  await fund([alice, bob]);
  const token = await newToken("Solar Co-op", "SUN");
  for (const [who, country] of [[issuer, 276], [alice, 276], [bob, 250]]) await send(token.registerIdentity(who.address, country));
  await send(token.mint(issuer.address, 1000n));
  await send(token.transfer(alice.address, 300n));
  await send(token.transfer(bob.address, 200n));
  out.balances = (await Promise.all([issuer, alice, bob].map((w) => token.balanceOf(w.address)))).map(String);
  out.unverified = await refusal(token.connect(alice).transfer(ethers.Wallet.createRandom().address, 1n), token);
  await send(token.setAddressFrozen(alice.address, true));
  out.frozen = await refusal(token.connect(alice).transfer(bob.address, 1n), token);
  await send(token.forcedTransfer(alice.address, bob.address, 100n));
  out.afterForced = (await Promise.all([alice, bob].map((w) => token.balanceOf(w.address)))).map(String);
}

async function milestoneFlow() {
  const backer = wallet("backer"), recipient = ethers.Wallet.createRandom().address;
  const verifiers = [0, 1, 2].map((i) => wallet(`verifier-${i}`));
  await fund([backer, verifiers[0]]);
  const usd = await newToken("Dollar", "USD");
  await send(usd.registerIdentity(backer.address, 840));
  await send(usd.registerIdentity(recipient, 840));
  await send(usd.mint(backer.address, ethers.parseEther("500")));
  const factory = new ethers.Contract(FACTORY.milestone, abi("MilestoneVaultFactory"), issuer);
  const now = (await provider.getBlock("latest")).timestamp;
  const deadline = now + 20;
  const receipt = await send(factory.createMilestoneVault(await usd.getAddress(), "School", "SCH", deadline,
    verifiers.map((v) => v.address), 2, [[ethers.parseEther("100"), 0, recipient, deadline + 600]]));
  const vault = await created(factory, receipt, "MilestoneVault", backer);
  const vaultAddress = await vault.getAddress();
  await send(usd.registerIdentity(vaultAddress, 840));
  await send(usd.connect(backer).approve(vaultAddress, ethers.parseEther("500")));
  await send(vault.deposit(ethers.parseEther("500"), backer.address));
  await waitPast(deadline);
  const domain = { name: "PlumeMilestoneVault", version: "1", chainId: (await provider.getNetwork()).chainId,
                   verifyingContract: vaultAddress };
  const types = { MilestoneAttestation: [{ name: "milestone", type: "uint256" }, { name: "evidence", type: "bytes32" }] };
  const evidence = ethers.id("school built");
  const sign = (v) => v.signTypedData(domain, types, { milestone: 0, evidence });
  const first = await sign(verifiers[0]);
  await send(vault.attest(0, evidence, first));
  out.afterOne = String(await usd.balanceOf(recipient));
  out.replay = await refusal(vault.attest(0, evidence, first), vault);
  out.outsider = await refusal(vault.attest(0, evidence, await sign(wallet("outsider"))), vault);
  await send(vault.attest(0, evidence, await sign(verifiers[2])));
  out.afterTwo = String(await usd.balanceOf(recipient));
}

async function revenueFlow() {
  const holders = [0, 1, 2].map((i) => wallet(`holder-${i}`));
  await fund(holders);
  const sol = await newToken("Solar", "SOL");
  const factory = new ethers.Contract(FACTORY.revenue, abi("RevenueShareVaultFactory"), issuer);
  const vault = await created(factory, await send(factory.createRevenueShareVault(await sol.getAddress(),
    ethers.ZeroAddress, "Solar revenue", "rSOL")), "RevenueShareVault", issuer);
  const vaultAddress = await vault.getAddress();
  await send(sol.registerIdentity(vaultAddress, 840));
  out.shares = [];
  for (const [i, amount] of [50n, 30n, 20n].entries()) {
    await send(sol.registerIdentity(holders[i].address, 840));
    await send(sol.mint(holders[i].address, amount * 10n ** 18n));
    await send(sol.connect(holders[i]).approve(vaultAddress, amount * 10n ** 18n));
    await send(vault.connect(holders[i]).deposit(amount * 10n ** 18n, holders[i].address));
    out.shares.push(String(await vault.balanceOf(holders[i].address)));
  }
  await send(vault.distributeNative({ value: 1000000000000000001n }));
  out.moved = String((await vault.balanceOf(holders[0].address)) / 3n);
  await send(vault.connect(holders[0]).transfer(holders[2].address, BigInt(out.moved)));
  await send(vault.distributeNative({ value: 700000000000000003n }));
  out.claims = [];
  for (const h of holders) {
    const receipt = await send(vault.connect(h).claim());
    const claimed = receipt.logs.map((l) => { try { return vault.interface.parseLog(l); } catch { return null; } })
      .find((p) => p && p.name === "RevenueClaimed");
    out.claims.push(String(claimed.args.nativeAmount));
  }
  out.nothing = await refusal(vault.connect(holders[1]).claim(), vault);
}

(async () => {
  await assetTokenFlow();
  await milestoneFlow();
  await revenueFlow();
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
"""


@pytest.fixture(scope="module")
def node(tmp_path_factory) -> RunningNode:
    running = start_node(tmp_path_factory.mktemp("rwa-ethers"))
    yield running
    running.stop()


def test_rwa_flows_from_ethers(node, tmp_path) -> None:
    workdir = npm_ethers(tmp_path)
    script = workdir / "rwa.js"
    script.write_text(ETHERS_SCRIPT)
    done = subprocess.run(["node", str(script), node.rpc_url, node.operator().key.hex(), str(ARTIFACTS)],
                          cwd=workdir, capture_output=True, text=True, timeout=SCRIPT_TIMEOUT_S)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])

    assert seen["balances"] == ["500", "300", "200"]
    assert seen["unverified"] == "ReceiverNotVerified" and seen["frozen"] == "SenderFrozen"
    assert seen["afterForced"] == ["200", "300"]

    assert seen["afterOne"] == "0"
    assert seen["replay"] == "AlreadyAttested" and seen["outsider"] == "NotVerifier"
    assert seen["afterTwo"] == str(100 * UNIT)

    shares = dict(zip(("h0", "h1", "h2"), map(int, seen["shares"])))
    model = RevenueModel()
    model.distribute(1_000_000_000_000_000_001, sum(shares.values()))
    moved = int(seen["moved"])
    for who in ("h0", "h2"):
        model.settle(who, shares[who])
    shares["h0"], shares["h2"] = shares["h0"] - moved, shares["h2"] + moved
    model.distribute(700_000_000_000_000_003, sum(shares.values()))
    assert [int(c) for c in seen["claims"]] == [model.claim(w, shares[w]) for w in ("h0", "h1", "h2")]
    assert seen["nothing"] == "NothingToClaim"
