"""`plume-node query ...`: read the chain over JSON-RPC (balance, block, tx, receipt, supply, status).

Human-readable by default; `--json` prints the node's answer (amounts as
decimal strings so scripts never lose precision to floating point).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from plume_node.cli._common import address_arg, echo_json, hash_arg, json_option, node_home_option, rpc_call, rpc_option, to_int
from plume_node.cli._rpc_client import RpcClient
from plume_node.cli._units import format_gwei, format_plume


@click.group()
def query() -> None:
    """Read chain data from a node."""


def block_tag(value: str) -> str:
    if value in ("latest", "earliest", "pending", "safe", "finalized"):
        return value
    try:
        number = int(value, 0)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a block number or latest/earliest") from None
    if number < 0:
        raise click.BadParameter("block numbers are not negative")
    return hex(number)


@query.command("balance")
@click.argument("address", callback=address_arg)
@click.option("--block", "block", default="latest", show_default=True, help="Block number or tag.")
@rpc_option
@node_home_option
@json_option
def balance(address: str, block: str, rpc_url: str, as_json: bool) -> None:
    """Balance of ADDRESS."""
    tag = block_tag(block)
    wei = int(rpc_call(RpcClient(rpc_url), "eth_getBalance", address, tag), 16)
    if as_json:
        echo_json({"address": address, "block": tag, "balance": str(wei)})
    else:
        click.echo(f"{format_plume(wei)} ({wei} wei)")


@query.command("block")
@click.argument("number", default="latest")
@click.option("--full", is_flag=True, help="Include full transactions.")
@rpc_option
@node_home_option
@json_option
def block(number: str, full: bool, rpc_url: str, as_json: bool) -> None:
    """A block by NUMBER (default latest)."""
    tag = block_tag(number)
    result = rpc_call(RpcClient(rpc_url), "eth_getBlockByNumber", tag, full)
    if result is None:
        raise click.ClickException(f"no block {number} yet")
    if as_json:
        echo_json(result)
        return
    timestamp = to_int(result["timestamp"]) or 0
    when = dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    click.echo(
        f"block {to_int(result['number'])}\n"
        f"  hash          {result['hash']}\n"
        f"  parent        {result['parentHash']}\n"
        f"  time          {when}\n"
        f"  proposer fee  {result['miner']}\n"
        f"  transactions  {len(result['transactions'])}\n"
        f"  gas used      {to_int(result['gasUsed'])} of {to_int(result['gasLimit'])}\n"
        f"  base fee      {format_gwei(to_int(result.get('baseFeePerGas')) or 0)}"
    )
    for item in result["transactions"]:
        click.echo(f"    {item if isinstance(item, str) else item['hash']}")


@query.command("tx")
@click.argument("tx_hash", callback=hash_arg)
@rpc_option
@node_home_option
@json_option
def tx(tx_hash: str, rpc_url: str, as_json: bool) -> None:
    """A transaction by hash (committed or pending)."""
    result = rpc_call(RpcClient(rpc_url), "eth_getTransactionByHash", tx_hash)
    if result is None:
        raise click.ClickException(f"the node knows no transaction {tx_hash} (neither committed nor pending)")
    if as_json:
        echo_json(result)
        return
    where = "pending" if result["blockNumber"] is None else f"block {to_int(result['blockNumber'])}"
    lines = [
        f"transaction {result['hash']} ({where})",
        f"  type      {to_int(result['type'])}",
        f"  from      {result['from']}",
        f"  to        {result['to'] or '(contract creation)'}",
        f"  value     {format_plume(to_int(result['value']) or 0)}",
        f"  nonce     {to_int(result['nonce'])}",
        f"  gas       {to_int(result['gas'])}",
    ]
    if "maxFeePerGas" in result:
        lines.append(f"  max fee   {format_gwei(to_int(result['maxFeePerGas']) or 0)}")
        lines.append(f"  tip       {format_gwei(to_int(result['maxPriorityFeePerGas']) or 0)}")
    else:
        lines.append(f"  gas price {format_gwei(to_int(result['gasPrice']) or 0)}")
    click.echo("\n".join(lines))


@query.command("receipt")
@click.argument("tx_hash", callback=hash_arg)
@rpc_option
@node_home_option
@json_option
def receipt(tx_hash: str, rpc_url: str, as_json: bool) -> None:
    """The receipt of a committed transaction."""
    result = rpc_call(RpcClient(rpc_url), "eth_getTransactionReceipt", tx_hash)
    if result is None:
        raise click.ClickException(f"no receipt for {tx_hash}: it is not committed (yet), or unknown")
    if as_json:
        echo_json(result)
        return
    lines = [
        f"receipt of {result['transactionHash']}",
        f"  block       {to_int(result['blockNumber'])} ({result['blockHash']})",
        f"  status      {'success' if result['status'] == '0x1' else 'failed'}",
        f"  gas used    {to_int(result['gasUsed'])} at {format_gwei(to_int(result['effectiveGasPrice']) or 0)}",
        f"  logs        {len(result['logs'])}",
    ]
    if result.get("contractAddress"):
        lines.append(f"  contract    {result['contractAddress']}")
    click.echo("\n".join(lines))


def _supply_json(result: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(int(v, 16)) if k != "blockNumber" else int(v, 16)) for k, v in result.items()}


@query.command("supply")
@rpc_option
@node_home_option
@json_option
def supply(rpc_url: str, as_json: bool) -> None:
    """Total supply, issued and burned, reward pool, rewards owed, bonded and unbonding stake."""
    result = _supply_json(rpc_call(RpcClient(rpc_url), "plume_supply"))
    if as_json:
        echo_json(result)
        return
    rows = [
        ("genesis supply", "genesisSupply"), ("total supply", "totalSupply"), ("total issued", "totalIssued"),
        ("total burned", "totalBurned"), *((f"  by {k[8:]}", k) for k in result if k.startswith("burnedBy")),
        ("reward pool", "rewardPool"), ("staking holds", "stakingBalance"), ("bonded", "bonded"),
        ("unbonding", "unbonding"), ("rewards owed", "undistributedRewards"),
        ("commission owed", "unwithdrawnCommission"),
    ]
    lines = [f"  {label:<16}{format_plume(int(result[key]))}" for label, key in rows if key in result]
    click.echo("\n".join([f"at block {result['blockNumber']}", *lines]))


@query.command("status")
@rpc_option
@node_home_option
@json_option
def status(rpc_url: str, as_json: bool) -> None:
    """The node's identity, height, peers and sync state."""
    info = rpc_call(RpcClient(rpc_url), "plume_nodeInfo")
    if as_json:
        echo_json(info)
        return
    lines = [
        f"node     {info.get('nodeId', '?')}" + (f" ({info['moniker']})" if info.get("moniker") else ""),
        f"version  {info['version']}",
        f"chain    {to_int(info['chainId'])}" + (f" (genesis {info['genesisHash']})" if info.get("genesisHash") else ""),
        f"height   {to_int(info['height'])} ({info['latestBlockHash']})",
        f"peers    {info['peers']}",
        f"syncing  {'yes' if info['syncing'] else 'no'}",
    ]
    click.echo("\n".join(lines))
