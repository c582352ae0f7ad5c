"""Bad input to the `plume-node` CLI: refused with one line, nothing touched.

Every case must end with exit code 1 and exactly ONE line on stderr, starting
with "Error:" (a UserError: no traceback), and must leave the data
directory byte-for-byte as it was (docs/operator.md: "refuses, with a one-line
message and without touching anything").

One module fixture runs every case (each on its own copy of a home): a few
in real child processes started at once, the rest through click's CliRunner.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import plyvel
import pytest
from eth_utils import to_checksum_address

from node_helpers import REPO, cli_env, make_home, tree_digest
from plume_node.config import load_config
from plume_node.home import Home
from plume_node.node import Node

NEW_ACCOUNT = "0x" + "ab" * 20


def started_home(path: Path) -> Home:
    """A home whose node has opened (created) its data directory."""
    home = make_home(path)
    Node.open(home, load_config(home.config_path)).close()
    assert home.started()
    return home


def edit_genesis(home: Home, text: str) -> None:
    home.genesis_path.write_text(text)


def genesis_json(home: Home) -> dict:
    return json.loads(home.genesis_path.read_text())


@dataclass
class Case:
    name: str
    args: list[str]
    watch: Path  # the directory that must stay byte-for-byte unchanged
    expect: str  # a fragment the one error line must contain
    exit_code: int = 1
    before: dict = field(default_factory=dict)
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""


def _prepare(tmp: Path) -> list[Case]:
    base = started_home(tmp / "base")
    other = started_home(tmp / "other")  # same shape, another genesis (other keys, other time)
    fresh = make_home(tmp / "fresh")  # never started: no data directory

    def copy(name: str, source: Home = base) -> Home:
        shutil.copytree(source.root, tmp / name)
        return Home.at(tmp / name)

    def start(home: Home) -> list[str]:
        return ["start", "--home", str(home.root), "--rpc-addr", "127.0.0.1:0", "--p2p-addr", "127.0.0.1:0"]

    cases: list[Case] = []

    def case(name: str, home: Home, args: list[str], expect: str, watch: Path | None = None, exit_code: int = 1):
        cases.append(Case(name, args, watch or home.data_dir, expect, exit_code))

    h = copy("genesis-bad-json")
    edit_genesis(h, h.genesis_path.read_text()[:-20])
    case("genesis: bad JSON", h, start(h), "is not valid JSON")

    h = copy("genesis-no-chain-id")
    doc = genesis_json(h)
    del doc["chain_id"]
    edit_genesis(h, json.dumps(doc))
    case("genesis: missing chain_id", h, start(h), "missing field 'chain_id'")

    h = copy("genesis-negative")
    doc = genesis_json(h)
    addr = next(iter(doc["alloc"]))
    doc["alloc"][addr]["balance"] = "-5"
    edit_genesis(h, json.dumps(doc))
    case("genesis: negative balance", h, start(h), f"alloc[{addr}].balance must be an integer >= 0")

    h = copy("genesis-foreign")
    edit_genesis(h, json.dumps({"name": "left-pad", "version": "1.3.0", "dependencies": {}}))
    case("genesis: foreign JSON document", h, start(h), "is this a Plume genesis?")

    h = copy("key-missing", fresh)
    h.validator_key_path.unlink()
    case("validator key: missing (never started)", h, start(h), "validator_key.json is missing")

    h = copy("key-missing-started")
    h.validator_key_path.unlink()
    case("validator key: missing (started)", h, start(h), "validator_key.json is missing")

    h = copy("key-corrupt")
    key = json.loads(h.validator_key_path.read_text())
    key["private_key"] = key["private_key"][:-4] + "zzzz"
    h.validator_key_path.write_text(json.dumps(key))
    case("validator key: corrupt", h, start(h), "holds no valid Ed25519 private key")

    h = copy("key-readable-by-others")
    h.validator_key_path.chmod(0o644)
    case("validator key: readable by others", h, start(h), "permissions 0644 for")

    h = copy("key-writable-by-group", fresh)
    h.node_key_path.chmod(0o620)
    case("node key: writable by its group", h, start(h), "are too open")

    h = copy("key-truncated", fresh)
    h.node_key_path.write_text(h.node_key_path.read_text()[:30])
    case("node key: truncated (never started)", h, start(h), "node_key.json is unreadable")

    h = copy("config-bad-value")
    h.config_path.write_text(h.config_path.read_text().replace("block_time_ms = 1000", 'block_time_ms = "fast"'))
    case("config: bad value", h, start(h), "consensus.block_time_ms must be an integer")

    h = copy("config-out-of-range")
    h.config_path.write_text(h.config_path.read_text().replace("block_time_ms = 1000", "block_time_ms = 5"))
    case("config: out of range", h, start(h), "consensus.block_time_ms must be at least 100")

    h = copy("config-unknown-key")
    h.config_path.write_text(h.config_path.read_text().replace("[consensus]\n", "[consensus]\nblock_tme_ms = 200\n"))
    case("config: unknown key", h, start(h), "unknown setting consensus.block_tme_ms")

    h = copy("config-not-toml")
    h.config_path.write_text(h.config_path.read_text() + "\n[consensus\nblock_time_ms = \n")
    case("config: not TOML", h, start(h), "is not valid TOML")

    h = copy("config-nested-too-deeply")
    h.config_path.write_text(h.config_path.read_text() + "\n[deep]\nx = " + "[" * 150_000 + "]" * 150_000 + "\n")
    case("config: nested too deeply", h, start(h), "nested too deeply")

    h = copy("other-files", fresh)
    h.data_dir.mkdir()
    (h.data_dir / "holiday.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a picture")
    case("data dir: a folder of other files", h, start(h), "is not a Plume database (it holds other files)")

    h = copy("foreign-leveldb", fresh)
    db = plyvel.DB(str(h.data_dir), create_if_missing=True)
    for i in range(50):
        db.put(b"their-key-%d" % i, b"their value %d" % i)
    db.close()
    case("data dir: foreign LevelDB", h, start(h), "is not a Plume database")

    h = copy("other-genesis")
    shutil.rmtree(h.data_dir)
    shutil.copytree(other.data_dir, h.data_dir)
    case("data dir: another genesis", h, start(h), "different genesis")

    h = copy("init-twice")
    case("init twice without --force", h, ["init", "--home", str(h.root)], "already holds a Plume home", watch=h.root)

    h = copy("add-account-started")
    case("genesis add-account after start", h, ["genesis", "add-account", NEW_ACCOUNT, "1000", "--home", str(h.root)],
         "has already started", watch=h.root)

    h = copy("add-account-control", fresh)
    case("control: genesis add-account before start", h,
         ["genesis", "add-account", NEW_ACCOUNT, "1000", "--home", str(h.root)], "", watch=h.root, exit_code=0)
    return cases


# These run as real child processes (the rest through click's CliRunner in this
# process, which is the same `main` with the same exit code and stderr, and
# costs no interpreter start-up on a loaded machine).
IN_SUBPROCESS = {"genesis: bad JSON", "validator key: missing (never started)", "data dir: another genesis"}


def _run_in_process(c: Case, monkeypatch) -> None:
    from click.testing import CliRunner

    from plume_node import runtime
    from plume_node.cli import main

    async def started_instead_of_refusing(node) -> None:
        raise AssertionError("plume-node start did not refuse: the node was about to run")

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    monkeypatch.setattr(runtime, "_main", started_instead_of_refusing)
    try:
        result = CliRunner(env={"PLUME_PASSWORD": None}).invoke(main, c.args)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    c.returncode, c.stdout, c.stderr = result.exit_code, result.stdout, result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        c.stderr += "\n" + "".join(traceback.format_exception(result.exception))


@pytest.fixture(scope="module")
def ran(tmp_path_factory) -> dict[str, Case]:
    cases = _prepare(tmp_path_factory.mktemp("bad-input"))
    procs: dict[str, subprocess.Popen] = {}
    try:
        for c in cases:
            c.before = tree_digest(c.watch)
            if c.name in IN_SUBPROCESS:
                procs[c.name] = subprocess.Popen(
                    [sys.executable, "-m", "plume_node.cli", *c.args],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    stdin=subprocess.DEVNULL,
                    text=True,
                    cwd=REPO,
                    env=cli_env(),
                )
        with pytest.MonkeyPatch.context() as monkeypatch:
            for c in cases:
                if c.name not in IN_SUBPROCESS:
                    _run_in_process(c, monkeypatch)
        for c in cases:
            proc = procs.get(c.name)
            if proc is None:
                continue
            try:
                c.stdout, c.stderr = proc.communicate(timeout=90)
            except subprocess.TimeoutExpired:
                proc.kill()
                c.stdout, c.stderr = proc.communicate()
                c.stderr += "\n<killed: still running after 90 s>"
            c.returncode = proc.returncode
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return {c.name: c for c in cases}


CASE_NAMES = [
    "genesis: bad JSON",
    "genesis: missing chain_id",
    "genesis: negative balance",
    "genesis: foreign JSON document",
    "validator key: missing (never started)",
    "validator key: missing (started)",
    "validator key: corrupt",
    "node key: truncated (never started)",
    "validator key: readable by others",
    "node key: writable by its group",
    "config: bad value",
    "config: out of range",
    "config: unknown key",
    "config: not TOML",
    "config: nested too deeply",
    "data dir: a folder of other files",
    "data dir: foreign LevelDB",
    "data dir: another genesis",
    "init twice without --force",
    "genesis add-account after start",
]


def test_every_prepared_case_is_checked(ran: dict[str, Case]) -> None:
    assert set(ran) == set(CASE_NAMES) | {"control: genesis add-account before start"}


@pytest.mark.parametrize("name", CASE_NAMES)
def test_refused_with_one_line_and_nothing_touched(ran: dict[str, Case], name: str) -> None:
    c = ran[name]
    lines = [line for line in c.stderr.splitlines() if line.strip()]
    assert c.returncode == 1, f"exit code {c.returncode}; stderr:\n{c.stderr}"
    assert len(lines) == 1 and lines[0].startswith("Error: "), f"want one 'Error:' line, got:\n{c.stderr}"
    assert c.expect in lines[0], f"the message does not say {c.expect!r}: {lines[0]}"
    assert tree_digest(c.watch) == c.before, f"{c.watch} changed although the command was refused"


def test_genesis_add_account_works_before_the_first_start(ran: dict[str, Case]) -> None:
    """The control for the refusal above: an unstarted home's genesis is editable."""
    c = ran["control: genesis add-account before start"]
    assert c.returncode == 0, c.stderr
    doc = json.loads((c.watch / "genesis.json").read_text())
    assert doc["alloc"][to_checksum_address(NEW_ACCOUNT)] == {"balance": "1000"}
