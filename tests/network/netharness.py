"""A devnet of real `plume-node start` processes on 127.0.0.1 for the network tests.

Each node is its own OS process talking Noise-encrypted TCP to the others; the
tests read them only through JSON-RPC, as a user would.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ports import free_port_range
from rpcclient import rpc
from waiting import wait_until

from plume_node.config import dump_config, load_config
from plume_node.devnet import DevnetParams, init_devnet, parse_overrides


def free_base_port(count: int) -> int:
    """The first of 2 * ``count`` free ports (p2p and RPC of each node)."""
    return free_port_range(2 * count)


@dataclass
class NetNode:
    name: str
    home: Path
    rpc_url: str
    node_id: str = ""
    p2p_port: int = 0
    validator_address: str | None = None  # 0x-hex consensus address; None on a full node
    process: subprocess.Popen | None = None

    @property
    def peer_address(self) -> str:
        return f"{self.node_id}@127.0.0.1:{self.p2p_port}"

    def set_persistent_peers(self, peers: list[str]) -> None:
        """Rewrite `p2p.persistent_peers` in the node's config.toml (takes effect at its next start)."""
        config = load_config(self.home / "config.toml")
        config = config.replace(p2p=dataclasses.replace(config.p2p, persistent_peers=list(peers)))
        (self.home / "config.toml").write_text(dump_config(config))

    def log_text(self) -> str:
        return (self.home / "node.log").read_text(errors="replace")

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, f"{self.name} already running"
        log = open(self.home / "node.log", "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "plume_node.cli", "start", "--home", str(self.home)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def kill(self, sig: int = signal.SIGKILL) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        return self.process.wait(timeout=20)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def height(self) -> int:
        return int(rpc(self.rpc_url, "eth_blockNumber"), 16)

    def block(self, number: int) -> dict:
        return rpc(self.rpc_url, "eth_getBlockByNumber", hex(number), False)

    def log_tail(self, lines: int = 30) -> str:
        text = (self.home / "node.log").read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


@dataclass
class Net:
    dir: Path
    nodes: list[NetNode]
    accounts: list[dict]
    chain_id: int

    @classmethod
    def create(
        cls, directory: Path, validators: int, full_nodes: int = 0, block_time_ms: int = 200, settings: tuple[str, ...] = ()
    ) -> "Net":
        """`settings` are extra `KEY=VALUE` config overrides, as `plume-node devnet init --set` takes."""
        base = free_base_port(validators + full_nodes)
        devnet = init_devnet(
            directory,
            DevnetParams(
                validators=validators,
                full_nodes=full_nodes,
                base_port=base,
                block_time_ms=block_time_ms,
                accounts=4,
                overrides=parse_overrides(["p2p.ban_seconds=5", *settings]),
            ),
        )
        accounts = json.loads(devnet.accounts_path.read_text())["accounts"]
        nodes = [NetNode(n.name, n.home, n.rpc_url, n.node_id, n.p2p_port, n.validator_address) for n in devnet.nodes]
        return cls(directory, nodes, accounts, devnet.chain_id)

    def start(self, indices=None) -> None:
        for i in indices if indices is not None else range(len(self.nodes)):
            self.nodes[i].start()

    def stop_all(self) -> None:
        for node in self.nodes:
            if node.running():
                try:
                    os.killpg(node.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                node.process.wait(timeout=20)

    def wait_height(self, indices, height: int, timeout: float = 60.0) -> None:
        for i in indices:
            node = self.nodes[i]
            try:
                wait_until(lambda: node.height() >= height, timeout, f"{node.name} to reach height {height}")
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n--- {node.name} log tail ---\n{node.log_tail()}") from None

    def assert_same_chain(self, indices, up_to: int) -> None:
        """Every listed node has the same block hash and state root at every height 1..up_to."""
        reference = self.nodes[indices[0]]
        for number in range(1, up_to + 1):
            want = reference.block(number)
            for i in indices[1:]:
                got = self.nodes[i].block(number)
                assert (got["hash"], got["stateRoot"]) == (want["hash"], want["stateRoot"]), (
                    f"height {number}: {self.nodes[i].name} has {got['hash']} / {got['stateRoot']}, "
                    f"{reference.name} has {want['hash']} / {want['stateRoot']}"
                )

    def route_through(self, proxy) -> None:
        """Make every node dial every other one through `proxy` (a `faultproxy.FaultProxy`),
        one listener per directed link. Call before `start`."""
        for node in self.nodes:
            peers = []
            for other in self.nodes:
                if other is not node:
                    port = proxy.add_link(node.name, other.name, other.p2p_port)
                    peers.append(f"{other.node_id}@127.0.0.1:{port}")
            node.set_persistent_peers(peers)
