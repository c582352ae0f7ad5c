"""Compile the project's Solidity sources into checked-in JSON artifacts.

``python3 scripts/build_contracts.py`` rebuilds every artifact of ``TARGETS``;
``python3 scripts/build_contracts.py --check`` recompiles in memory and exits 1
naming each artifact that differs from what the sources give (or is missing).

The compiler is solc-js, pinned in ``tools/solc/package.json`` (install it
with ``cd tools/solc && npm ci``); this script is stdlib-only and drives it
through ``tools/solc/compile.js`` with solc's standard-JSON interface. Only
rebuilding needs node and npm: installing the project and running the tests
read the artifacts. See docs/contracts.md.

The output is deterministic: fixed compiler settings, no metadata hash in the
bytecode, JSON with sorted keys. Each target is compiled on its own (its source
plus what it imports), so adding a target never changes another's artifact.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOLC_DIR = REPO / "tools" / "solc"
DRIVER = SOLC_DIR / "compile.js"

SOLC_VERSION = "0.8.28"
EVM_VERSION = "cancun"  # Plume runs Prague; cancun code runs unchanged there
OPTIMIZER = {"enabled": True, "runs": 200}
# No CBOR metadata appended: the bytecode then depends on the code alone, not
# on comments, file paths or the metadata hash (sourceSha256 tracks the text).
METADATA = {"appendCBOR": False, "bytecodeHash": "none"}
# soljson compiles the current table in a few seconds; this bounds a hung node
COMPILE_TIMEOUT_S = 600

EXIT_STALE = 1
EXIT_TOOLCHAIN = 2


class Output(Enum):
    """What an artifact holds."""

    ABI = "abi"  # an interface: the ABI only
    BYTECODE = "bytecode"  # a deployable contract: ABI, creation and runtime code


@dataclass(frozen=True)
class Target:
    """One row of the build table: paths are relative to the repository."""

    source: str  # the .sol file
    contract: str  # the contract or interface in it to emit
    artifact: str  # the JSON file written
    output: Output


# One line per artifact. Imports are resolved against the repository root
# (relative imports work too), so a source may import docs/IStaking.sol.
TARGETS: tuple[Target, ...] = (
    Target("docs/IStaking.sol", "IStaking", "staking/interfaces/IStaking.json", Output.ABI),
    Target("docs/IGovernance.sol", "IGovernance", "staking/interfaces/IGovernance.json", Output.ABI),
    Target("docs/IPermissions.sol", "IPermissions", "staking/interfaces/IPermissions.json", Output.ABI),
    Target(
        "tests/fixtures/contracts/StakingDelegator.sol",
        "StakingDelegator",
        "tests/fixtures/contracts/StakingDelegator.json",
        Output.BYTECODE,
    ),
    Target(
        "tests/fixtures/contracts/TestToken.sol",
        "TestToken",
        "tests/fixtures/contracts/TestToken.json",
        Output.BYTECODE,
    ),
    *(
        Target("tests/fixtures/contracts/RwaFixtures.sol", name, f"tests/fixtures/contracts/{name}.json", Output.BYTECODE)
        for name in ("ReentrantToken", "Reenterer", "TestAllowlist")
    ),
    # the real-world-asset library (docs/tokenization.md)
    *(
        Target(f"execution/contracts/rwa/{name}.sol", name, f"execution/contracts/rwa/{name}.json", Output.BYTECODE)
        for name in ("AssetToken", "RevenueShareVault", "MilestoneVault", "EscrowVault", "UsageRightsToken")
    ),
    *(
        Target("execution/contracts/rwa/RwaFactories.sol", name, f"execution/contracts/rwa/{name}.json", Output.BYTECODE)
        for name in (
            "AssetTokenFactory",
            "UsageRightsFactory",
            "MilestoneVaultFactory",
            "RevenueShareVaultFactory",
            "EscrowVaultFactory",
        )
    ),
)

_SELECTIONS = {
    Output.ABI: ["abi"],
    Output.BYTECODE: [
        "abi",
        "evm.bytecode.object",
        "evm.bytecode.linkReferences",
        "evm.deployedBytecode.object",
        "evm.deployedBytecode.immutableReferences",
    ],
}


class BuildError(Exception):
    """The toolchain is missing or a source does not compile cleanly."""


def sha256_of(relative_path: str) -> str:
    return hashlib.sha256((REPO / relative_path).read_bytes()).hexdigest()


def compiler_settings() -> dict:
    """The settings recorded in bytecode artifacts (and used for every target)."""
    return {"evmVersion": EVM_VERSION, "metadata": dict(METADATA), "optimizer": dict(OPTIMIZER)}


def standard_input(target: Target) -> dict:
    source_text = (REPO / target.source).read_text(encoding="utf-8")
    return {
        "language": "Solidity",
        "sources": {target.source: {"content": source_text}},
        "settings": {
            **compiler_settings(),
            "outputSelection": {target.source: {target.contract: _SELECTIONS[target.output]}},
        },
    }


def run_solc(jobs: list[dict]) -> tuple[str, list[dict]]:
    """Compile the standard-JSON inputs in one node process: (version, outputs)."""
    node = shutil.which("node")
    if node is None:
        raise BuildError("node is not on PATH (it is needed only to rebuild the artifacts)")
    if not (SOLC_DIR / "node_modules" / "solc").is_dir():
        raise BuildError(f"solc-js is not installed: run `cd {SOLC_DIR.relative_to(REPO)} && npm ci`")
    proc = subprocess.run(
        [node, str(DRIVER), str(REPO)],
        input=json.dumps({"jobs": jobs}),
        capture_output=True,
        text=True,
        timeout=COMPILE_TIMEOUT_S,
        check=False,
    )
    if proc.returncode != 0:
        raise BuildError(f"the solc driver failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    reply = json.loads(proc.stdout)
    version = reply["version"]
    if not version.startswith(SOLC_VERSION + "+"):
        raise BuildError(f"tools/solc has solc {version}, expected {SOLC_VERSION}: run `npm ci` there")
    return version, reply["outputs"]


def check_diagnostics(target: Target, output: dict) -> None:
    """Errors and warnings both fail the build: the sources compile cleanly."""
    problems = [d for d in output.get("errors", []) if d.get("severity") in ("error", "warning")]
    if problems:
        text = "\n".join(d.get("formattedMessage", d.get("message", "")).rstrip() for d in problems)
        raise BuildError(f"{target.source} does not compile cleanly:\n{text}")


def make_artifact(target: Target, version: str, output: dict) -> dict:
    """The artifact of one target from solc's standard-JSON output."""
    check_diagnostics(target, output)
    try:
        compiled = output["contracts"][target.source][target.contract]
    except KeyError:
        raise BuildError(f"{target.source} has no contract named {target.contract}") from None
    artifact = {
        "abi": compiled["abi"],
        "compiler": version,
        "contractName": target.contract,
        # every other file the compilation read, with its hash: editing an
        # import changes the code too, so the artifacts test checks these
        "imports": {name: sha256_of(name) for name in sorted(output["sources"]) if name != target.source},
        "source": target.source,
        "sourceSha256": sha256_of(target.source),
    }
    if target.output is Output.BYTECODE:
        artifact.update(bytecode_fields(target, compiled["evm"]))
    return artifact


def bytecode_fields(target: Target, evm: dict) -> dict:
    if evm["bytecode"]["linkReferences"]:
        raise BuildError(f"{target.contract} needs linked libraries, which the build does not support")
    return {
        "bytecode": "0x" + evm["bytecode"]["object"],
        "deployedBytecode": "0x" + evm["deployedBytecode"]["object"],
        "immutableReferences": evm["deployedBytecode"]["immutableReferences"],
        "settings": compiler_settings(),
    }


def render(artifact: dict) -> str:
    return json.dumps(artifact, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def build_all(targets: tuple[Target, ...] = TARGETS) -> dict[Target, str]:
    """Compile every target: target -> the artifact's file text."""
    version, outputs = run_solc([standard_input(t) for t in targets])
    return {t: render(make_artifact(t, version, out)) for t, out in zip(targets, outputs, strict=True)}


def stale_artifacts(rendered: dict[Target, str]) -> list[str]:
    """The artifacts whose file is missing or differs from ``rendered``."""
    stale = []
    for target, text in rendered.items():
        path = REPO / target.artifact
        if not path.is_file():
            stale.append(f"{target.artifact}: missing (source {target.source})")
        elif path.read_text(encoding="utf-8") != text:
            stale.append(f"{target.artifact}: not current with {target.source}")
    return stale


def write_artifacts(rendered: dict[Target, str]) -> None:
    for target, text in rendered.items():
        path = REPO / target.artifact
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {target.artifact}")
        else:
            print(f"unchanged {target.artifact}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if an artifact is not current")
    args = parser.parse_args(argv)
    try:
        rendered = build_all()
    except (BuildError, subprocess.TimeoutExpired) as exc:
        print(f"build_contracts: {exc}", file=sys.stderr)
        return EXIT_TOOLCHAIN
    if not args.check:
        write_artifacts(rendered)
        return 0
    stale = stale_artifacts(rendered)
    for line in stale:
        print(f"stale: {line}", file=sys.stderr)
    if stale:
        print("rebuild with: python3 scripts/build_contracts.py", file=sys.stderr)
        return EXIT_STALE
    print(f"all {len(rendered)} artifacts are current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
