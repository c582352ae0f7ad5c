"""The compiled Solidity artifacts for tests (docs/contracts.md).

The build table lives in ``scripts/build_contracts.py`` (stdlib only, so it is
imported here without node or npm). ``load_artifact("StakingDelegator")``
returns the checked-in JSON: ``abi`` always; ``bytecode``, ``deployedBytecode``
and ``immutableReferences`` for deployable contracts.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "scripts" / "build_contracts.py"


def _build_module() -> ModuleType:
    name = "build_contracts"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, BUILD_SCRIPT)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while being built
        spec.loader.exec_module(module)
    return sys.modules[name]


build = _build_module()
TARGETS = build.TARGETS


def target(contract_name: str):
    """The build table row of ``contract_name``."""
    for row in TARGETS:
        if row.contract == contract_name:
            return row
    raise KeyError(f"no contract {contract_name!r} in the build table of {BUILD_SCRIPT.name}")


def load_artifact(contract_name: str) -> dict:
    """The artifact JSON of ``contract_name`` (as written by the build script)."""
    return json.loads((REPO / target(contract_name).artifact).read_text(encoding="utf-8"))


def deployed_code(artifact: dict, immutables: dict[str, bytes]) -> bytes:
    """The runtime code a deployment leaves on chain: ``deployedBytecode`` with
    each immutable's placeholder (zeros) filled in. ``immutables`` maps the
    artifact's immutable reference ids (AST ids, as strings) to 32-byte values."""
    code = bytearray.fromhex(artifact["deployedBytecode"][2:])
    for ref_id, places in artifact["immutableReferences"].items():
        value = immutables[ref_id]
        for place in places:
            assert place["length"] == len(value) == 32
            code[place["start"] : place["start"] + 32] = value
    return bytes(code)
