"""Shared helpers for the node-level tests: real homes, real nodes, real processes.

Nothing here is a mock: homes are made by `plume_node.init.init_home` (real
keys, a real keystore), nodes are `plume_node.node.Node` over a real LevelDB in
a temp dir, processes are `python -m plume_node.cli` children. Every wait is
bounded and fails with a message saying what it was waiting for.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import trio
from rpcclient import RpcError, rpc
from waiting import await_until

from plume_node.config import Config, load_config
from plume_node.genesis import dump_genesis, load_genesis
from plume_node.home import Home
from plume_node.init import init_home
from plume_node.node import Node

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery staple"
CHAIN_ID = 1337


def make_home(root: Path, *, chain_id: int = CHAIN_ID, genesis_changes: dict | None = None) -> Home:
    """A home made by init_home with a known password; optionally edit the genesis before first start."""
    home = Home.at(root)
    init_home(home, chain_id=chain_id, moniker="test-node", password=PASSWORD)
    if genesis_changes:
        doc = load_genesis(home.genesis_path)
        home.genesis_path.write_bytes(dump_genesis(dataclasses.replace(doc, **genesis_changes)))
    return home


def fast_config(home: Home, *, block_time_ms: int = 100, create_empty_blocks: bool = True, **top: Any) -> Config:
    """The home's config.toml with a short block time, no RPC and p2p only on loopback."""
    config = load_config(home.config_path)
    return config.replace(
        consensus=dataclasses.replace(
            config.consensus,
            block_time_ms=block_time_ms,
            create_empty_blocks=create_empty_blocks,
        ),
        rpc=dataclasses.replace(config.rpc, enabled=False, listen_addr="127.0.0.1:0"),
        p2p=dataclasses.replace(config.p2p, listen_addr="127.0.0.1:0", persistent_peers=[]),
        **top,
    )


@contextlib.asynccontextmanager
async def running(node: Node) -> AsyncIterator[Node]:
    """Run `node` in a nursery for the body of the block; cancel it afterwards."""
    async with trio.open_nursery() as nursery:
        await nursery.start(node.run)
        try:
            yield node
        finally:
            nursery.cancel_scope.cancel()


async def wait_for_height(node: Node, height: int, timeout: float = 20.0) -> None:
    await await_until(
        lambda: node.app.committed_height() >= height,
        timeout,
        f"height {height} (node is at {node.app.committed_height()})",
    )


def chain_record(node: Node, upto: int | None = None) -> dict[int, tuple[bytes, bytes]]:
    """{height: (block hash, state root)} for every committed height up to `upto`."""
    chain = node.chain
    top = chain.height if upto is None else upto
    return {h: (chain.get_header(h).hash, chain.get_header(h).state_root) for h in range(top + 1)}


def tree_digest(path: Path) -> dict[str, str]:
    """{relative path: sha256} of every file under `path` ({} when it does not exist)."""
    if not path.exists():
        return {}
    out = {}
    for p in sorted(path.rglob("*")):
        if p.is_file():
            out[str(p.relative_to(path))] = hashlib.sha256(p.read_bytes()).hexdigest()
        elif p.is_dir():
            out[str(p.relative_to(path)) + "/"] = "dir"
    return out


# ---- processes -----------------------------------------------------------------


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("PLUME_PASSWORD", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def cli(*args: str, timeout: float = 60.0, input: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run `plume-node ARGS` to completion in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "plume_node.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env=env or cli_env(),
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
    )


class NodeProcess:
    """`plume-node start` in a child process, its stderr (the log) in a file."""

    def __init__(
        self, home: Path, log_path: Path, rpc_port: int, p2p_port: int, extra_args: tuple[str, ...] = ()
    ) -> None:
        self.home = home
        self.log_path = log_path
        self.rpc_port = rpc_port
        self.log_file = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "plume_node.cli", "start",
                "--home", str(home),
                "--rpc-addr", f"127.0.0.1:{rpc_port}",
                "--p2p-addr", f"127.0.0.1:{p2p_port}",
                *extra_args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=self.log_file,
            stdin=subprocess.DEVNULL,
            cwd=REPO,
            env=cli_env(),
        )

    def log(self) -> str:
        if not self.log_file.closed:
            self.log_file.flush()
        return self.log_path.read_text(errors="replace")

    def committed_heights(self) -> list[int]:
        return [int(m) for m in re.findall(r"committed height=(\d+)", self.log())]

    def committed_hash_prefixes(self) -> dict[int, str]:
        """{height: the block hash prefix its "committed" log line shows}."""
        return {int(h): p for h, p in re.findall(r"committed height=(\d+) .*?hash=([0-9a-f]+)", self.log())}

    def rpc(self, method: str, *params: Any, timeout: float = 5.0) -> Any:
        return rpc(f"http://127.0.0.1:{self.rpc_port}", method, *params, timeout=timeout)

    def block_number(self) -> int | None:
        try:
            return int(self.rpc("eth_blockNumber"), 16)
        except (OSError, urllib.error.URLError, RpcError):
            return None

    def wait_for_block(self, height: int, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"node exited with {self.proc.returncode} before height {height}; log:\n{self.log()[-3000:]}"
                )
            last = self.block_number()
            if last is not None and last >= height:
                return last
            time.sleep(0.1)
        raise AssertionError(
            f"node did not reach height {height} in {timeout}s (RPC says {last}); log:\n{self.log()[-3000:]}"
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise AssertionError(f"node did not stop within {timeout}s of signal {sig}")
        self.log_file.close()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if not self.log_file.closed:
            self.log_file.close()
