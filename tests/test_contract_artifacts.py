"""The checked-in contract artifacts match their Solidity sources (no npm needed).

Every row of the build table in scripts/build_contracts.py: the artifact
exists, records the sha256 of its current source and imports (so editing a
.sol file without rebuilding fails here), and has a non-empty ABI. The shipped
staking ABI is compared, function by function and event by event, with the
declarations read from docs/IStaking.sol.
"""

from __future__ import annotations

import hashlib
import re

import pytest
from contracts import REPO, TARGETS, build, load_artifact


def sha256_file(relative_path: str) -> str:
    return hashlib.sha256((REPO / relative_path).read_bytes()).hexdigest()


@pytest.mark.parametrize("row", TARGETS, ids=lambda row: row.contract)
def test_artifact_is_current_with_its_sources(row) -> None:
    artifact = load_artifact(row.contract)
    assert artifact["contractName"] == row.contract
    assert artifact["source"] == row.source
    assert artifact["sourceSha256"] == sha256_file(row.source), (
        f"{row.source} changed since {row.artifact} was built: run python3 scripts/build_contracts.py"
    )
    for imported, digest in artifact["imports"].items():
        assert digest == sha256_file(imported), f"{imported} (imported by {row.source}) changed: rebuild"
    assert artifact["compiler"].startswith(build.SOLC_VERSION + "+")
    assert artifact["abi"], f"{row.artifact} has an empty ABI"


@pytest.mark.parametrize(
    "row", [r for r in TARGETS if r.output is build.Output.BYTECODE], ids=lambda row: row.contract
)
def test_bytecode_artifact_fields(row) -> None:
    artifact = load_artifact(row.contract)
    for field in ("bytecode", "deployedBytecode"):
        code = artifact[field]
        assert code.startswith("0x") and len(code) > 2
        bytes.fromhex(code[2:])  # whole bytes of hex: no unlinked library placeholders
    assert artifact["settings"] == build.compiler_settings()


# --- the staking ABI against docs/IStaking.sol ---------------------------------

ISTAKING = REPO / "docs" / "IStaking.sol"
FUNCTION_RE = re.compile(r"\bfunction\s+(\w+)\s*\(([^)]*)\)([^;]*);")
EVENT_RE = re.compile(r"\bevent\s+(\w+)\s*\(([^)]*)\)\s*;")
RETURNS_RE = re.compile(r"\breturns\s*\(([^)]*)\)")
DATA_LOCATIONS = {"calldata", "memory", "storage"}


def solidity_declarations() -> str:
    """docs/IStaking.sol without comments (NatSpec mentions `function` in prose)."""
    text = re.sub(r"/\*.*?\*/", "", ISTAKING.read_text(), flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def parse_params(params: str) -> list[tuple[str, str, bool]]:
    """(type, name, indexed) of each parameter of a declaration (elementary
    types and arrays only: all the interface uses)."""
    out = []
    for param in filter(None, (p.strip() for p in params.split(","))):
        words = param.split()
        indexed = "indexed" in words
        rest = [w for w in words[1:] if w not in DATA_LOCATIONS and w != "indexed"]
        out.append((words[0], rest[0] if rest else "", indexed))
    return out


def mutability(tail: str) -> str:
    words = set(tail.split())
    for state in ("view", "pure", "payable"):
        if state in words:
            return state
    return "nonpayable"


def abi_entries(kind: str) -> dict[str, dict]:
    entries = [e for e in load_artifact("IStaking")["abi"] if e["type"] == kind]
    by_name = {e["name"]: e for e in entries}
    assert len(by_name) == len(entries), f"overloaded {kind}s: extend this test"
    return by_name


def signature(entry: dict) -> str:
    return f"{entry['name']}({','.join(i['type'] for i in entry['inputs'])})"


def test_every_function_of_the_source_is_in_the_abi_with_its_types() -> None:
    functions = abi_entries("function")
    declared = FUNCTION_RE.findall(solidity_declarations())
    assert declared and {name for name, _, _ in declared} == set(functions)
    for name, params, tail in declared:
        entry = functions[name]
        assert [(i["type"], i["name"]) for i in entry["inputs"]] == [(t, n) for t, n, _ in parse_params(params)]
        returns = RETURNS_RE.search(tail)
        outputs = parse_params(returns.group(1)) if returns else []
        assert [o["type"] for o in entry["outputs"]] == [t for t, _, _ in outputs], name
        assert entry["stateMutability"] == mutability(tail), name


def test_every_event_of_the_source_is_in_the_abi_with_its_types() -> None:
    events = abi_entries("event")
    declared = EVENT_RE.findall(solidity_declarations())
    assert declared and {name for name, _ in declared} == set(events)
    for name, params in declared:
        got = [(i["type"], i["name"], i["indexed"]) for i in events[name]["inputs"]]
        assert got == parse_params(params), name


def test_key_staking_signatures() -> None:
    functions = abi_entries("function")
    assert signature(functions["createValidator"]) == "createValidator(bytes32,string,uint16,uint16,uint16)"
    assert functions["createValidator"]["stateMutability"] == "payable"
    assert signature(functions["delegate"]) == "delegate(address)"
    assert functions["delegate"]["stateMutability"] == "payable"
    assert signature(functions["undelegate"]) == "undelegate(address,uint256)"
    assert [o["type"] for o in functions["undelegate"]["outputs"]] == ["uint256"]
    assert signature(functions["getValidator"]) == "getValidator(address)"
    assert [(o["name"], o["type"]) for o in functions["getValidator"]["outputs"]] == [
        ("consensusPubkey", "bytes32"),
        ("moniker", "string"),
        ("tokens", "uint256"),
        ("shares", "uint256"),
        ("commissionBps", "uint16"),
        ("jailed", "bool"),
        ("status", "uint8"),
    ]
    events = abi_entries("event")
    assert signature(events["Undelegated"]) == "Undelegated(address,address,uint256,uint256,uint256)"
