"""Import direction between our packages, read from the source with ``ast``.

plume_node -> execution -> staking; consensus/ and p2p/ import none of
plume_node/execution/staking; execution imports neither plume_node nor
consensus; staking imports nothing of ours but itself; no cycle between
packages. Every import counts: module level, inside functions and under
``TYPE_CHECKING`` alike (a deferred import is still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("plume_node", "execution", "staking", "consensus", "p2p")

# package -> packages of ours it must not import
FORBIDDEN: dict[str, frozenset[str]] = {
    "consensus": frozenset({"plume_node", "execution", "staking"}),
    "p2p": frozenset({"plume_node", "execution", "staking"}),
    "execution": frozenset({"plume_node", "consensus"}),
    "staking": frozenset(PACKAGES) - {"staking"},
}


def imported_modules(source: str, package: tuple[str, ...]) -> set[str]:
    """Every module ``source`` (a module of ``package``) imports: absolute names,
    relative imports resolved."""
    tree = ast.parse(source)
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1])
                out.add(f"{base}.{node.module}" if node.module else base)
            else:
                out.add(node.module or "")
    return out


def package_imports() -> dict[str, dict[str, set[str]]]:
    """package -> {imported package of ours -> the files that import it}."""
    graph: dict[str, dict[str, set[str]]] = {p: {} for p in PACKAGES}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            package_parts = path.relative_to(REPO).parent.parts
            for name in imported_modules(path.read_text(), package_parts):
                target = name.split(".")[0]
                if target in PACKAGES and target != package:
                    graph[package].setdefault(target, set()).add(str(path.relative_to(REPO)))
    return graph


def violations(graph: dict[str, dict[str, set[str]]]) -> list[str]:
    out = []
    for package, forbidden in FORBIDDEN.items():
        for target in sorted(forbidden & graph[package].keys()):
            out.append(f"{package}/ imports {target}/ in {sorted(graph[package][target])}")
    return out


def find_cycle(graph: dict[str, dict[str, set[str]]]) -> list[str] | None:
    """A cycle of packages (first one found), or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in PACKAGES:
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def test_every_package_is_scanned() -> None:
    for package in PACKAGES:
        assert any((REPO / package).rglob("*.py")), f"no sources found for {package}/"


def test_imports_run_one_way() -> None:
    assert violations(package_imports()) == []


def test_no_import_cycle_between_packages() -> None:
    assert find_cycle(package_imports()) is None


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"plume_node": {"execution": {"x"}}, "execution": {"plume_node": {"y"}},
          "staking": {}, "consensus": {}, "p2p": {}}, ["plume_node", "execution", "plume_node"]),
        ({"plume_node": {"execution": {"x"}}, "execution": {"staking": {"y"}},
          "staking": {}, "consensus": {}, "p2p": {}}, None),
    ],
)
def test_the_cycle_finder_finds_cycles(graph, expected) -> None:
    assert find_cycle(graph) == expected


def test_the_scanner_sees_every_kind_of_import() -> None:
    source = (
        "import plume_node.storage\n"
        "from consensus import messages\n"
        "from . import fees\n"
        "from ..execution.db import Overlay\n"
        "if TYPE_CHECKING:\n    from p2p.peers import PeerInfo\n"
        "def f():\n    import execution.chain\n"
    )
    assert imported_modules(source, ("staking", "sub")) == {
        "plume_node.storage", "consensus", "staking.sub", "staking.execution.db",
        "p2p.peers", "execution.chain",
    }


def test_a_forbidden_import_is_reported() -> None:
    graph: dict[str, dict[str, set[str]]] = {p: {} for p in PACKAGES}
    graph["staking"] = {"plume_node": {"staking/x.py"}}
    graph["execution"] = {"staking": {"execution/chain.py"}}
    assert violations(graph) == ["staking/ imports plume_node/ in ['staking/x.py']"]
