"""compliance.toml and denylist files: text in, a `Policy` out, or one error naming file, line and problem.

The rule language is documented in docs/compliance.md. Every input is
bounded before it is parsed (`MAX_POLICY_FILE_BYTES`, `MAX_RULES`,
`MAX_DENYLIST_BYTES`, `MAX_DENYLIST_ADDRESSES`, `MAX_WINDOW_BLOCKS`);
text quoted from the file in an error is truncated.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

from execution.errors import truncate
from plume_node.compliance.model import Action, Policy, Rule, RuleKind
from plume_node.errors import UserError

POLICY_FILE_NAME = "compliance.toml"
MAX_POLICY_FILE_BYTES = 1024 * 1024
MAX_RULES = 64
MAX_DENYLIST_BYTES = 64 * 1024 * 1024
MAX_DENYLIST_ADDRESSES = 1_000_000  # per denylist rule, and across all rules of a file together
MAX_DENYLIST_LINE_BYTES = 4096
MAX_WINDOW_BLOCKS = 100_000
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_AMOUNT = re.compile(r"^\s*(\d{1,60})(?:\.(\d{1,18}))?\s*(wei|gwei|ether)?\s*$")
_UNITS = {"wei": 0, "gwei": 9, "ether": 18, None: 0}
_RULE_HEADER = re.compile(r"^\s*\[\[\s*rule\s*\]\]")
# Python 3.11's TOMLDecodeError carries its position only in its message (3.14 adds lineno).
_TOML_LINE = re.compile(r"\(at line (\d+)")

# The keys each kind reads, besides name, kind and action.
KIND_KEYS: dict[RuleKind, frozenset[str]] = {
    RuleKind.DENYLIST: frozenset({"file", "addresses"}),
    RuleKind.THRESHOLD: frozenset({"asset", "min_value"}),
    RuleKind.VELOCITY: frozenset({"asset", "window_blocks", "max_value", "max_count"}),
    RuleKind.STRUCTURING: frozenset({"asset", "threshold", "margin_percent", "min_count", "window_blocks"}),
    RuleKind.FRESH_ACCOUNT: frozenset({"asset", "min_value", "window_blocks"}),
}


class PolicyError(UserError):
    """A compliance.toml or denylist file that cannot be used; the message names file and line."""

    def __init__(self, path: Path, line: int | None, problem: str) -> None:
        where = f"{path}" if line is None else f"{path}, line {line}"
        super().__init__(f"{where}: {problem}")
        self.path = path
        self.line = line


def _read_bounded(path: Path, limit: int) -> str:
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise PolicyError(path, None, f"cannot read it: {exc.strerror or exc}") from None
    except ValueError as exc:  # a path with an embedded NUL byte, from a `file = "..."` key
        raise PolicyError(path, None, f"cannot open it: {truncate(str(exc))}") from None
    if len(data) > limit:
        raise PolicyError(path, None, f"larger than the limit of {limit} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PolicyError(path, line, "not UTF-8 text") from None


def load_denylist(path: Path) -> frozenset[bytes]:
    """One 0x address a line; blank lines and `#` comments are ignored.

    Read line by line (never the whole file in memory at once): a line longer than
    MAX_DENYLIST_LINE_BYTES, more than MAX_DENYLIST_BYTES in all or more than
    MAX_DENYLIST_ADDRESSES addresses is refused."""
    try:
        with open(path, "rb") as f:
            return _denylist_lines(path, f)
    except OSError as exc:
        raise PolicyError(path, None, f"cannot read it: {exc.strerror or exc}") from None
    except ValueError as exc:  # a path with an embedded NUL byte
        raise PolicyError(path, None, f"cannot open it: {truncate(str(exc))}") from None


def _denylist_lines(path: Path, f: Any) -> frozenset[bytes]:
    found: set[bytes] = set()
    size = 0
    number = 0
    while True:
        raw = f.readline(MAX_DENYLIST_LINE_BYTES + 1)
        if not raw:
            return frozenset(found)
        number += 1
        size += len(raw)
        if size > MAX_DENYLIST_BYTES:
            raise PolicyError(path, None, f"larger than the limit of {MAX_DENYLIST_BYTES} bytes")
        if len(raw) > MAX_DENYLIST_LINE_BYTES:
            raise PolicyError(path, number, f"a line longer than {MAX_DENYLIST_LINE_BYTES} bytes")
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise PolicyError(path, number, "not UTF-8 text") from None
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        if not _ADDRESS.match(entry):
            raise PolicyError(path, number, f"not an address (0x and 40 hex digits): {truncate(entry, 80)!r}")
        found.add(bytes.fromhex(entry[2:]))
        if len(found) > MAX_DENYLIST_ADDRESSES:
            raise PolicyError(path, number, f"more than {MAX_DENYLIST_ADDRESSES} addresses")


def load_policy(path: Path) -> Policy:
    """Parse compliance.toml at `path` (denylist files relative to its directory).

    Every failure is a PolicyError: a caller (the start, a SIGHUP reload) never
    sees another exception from the file's content."""
    try:
        return _load_policy(path)
    except PolicyError:
        raise
    except (ValueError, TypeError, OverflowError, RecursionError, MemoryError) as exc:
        # e.g. a TOML integer of more than 4300 digits (int's own limit) raises a plain ValueError
        raise PolicyError(path, None, f"cannot use it ({type(exc).__name__}): {truncate(str(exc))}") from None


def _load_policy(path: Path) -> Policy:
    text = _read_bounded(path, MAX_POLICY_FILE_BYTES)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_LINE.search(str(exc))
        line = int(match.group(1)) if match else len(text.splitlines()) or 1  # "(at end of document)"
        raise PolicyError(path, line, f"not valid TOML: {exc}") from None
    except RecursionError:
        raise PolicyError(path, None, "values nested too deeply") from None
    return parse_policy(data, text, path)


def parse_policy(data: dict[str, Any], text: str, path: Path) -> Policy:
    unknown = sorted(set(data) - {"rule"})
    if unknown:
        raise PolicyError(path, _key_line(text, None, unknown[0]), f"unknown key {truncate(unknown[0], 64)!r} (rules are [[rule]] tables)")
    tables = data.get("rule", [])
    if not isinstance(tables, list):
        raise PolicyError(path, None, "rule must be an array of tables: [[rule]]")
    if len(tables) > MAX_RULES:
        raise PolicyError(path, None, f"{len(tables)} rules, the limit is {MAX_RULES}")
    rules: list[Rule] = []
    denylists: dict[Path, frozenset[bytes]] = {}  # a file named by several rules is read once, shared
    for index, table in enumerate(tables):
        rule = _RuleReader(table, index, text, path, denylists).rule()
        if any(r.name == rule.name for r in rules):
            raise PolicyError(path, _key_line(text, index, "name"), f"rule name {rule.name!r} is used twice")
        rules.append(rule)
    total = sum(len(r.addresses) for r in rules)
    if total > MAX_DENYLIST_ADDRESSES:
        raise PolicyError(path, None, f"{total} denylisted addresses in all rules together, the limit is "
                                      f"{MAX_DENYLIST_ADDRESSES} (merge the lists into one file)")
    return Policy(tuple(rules))


def _key_line(text: str, rule_index: int | None, key: str | None) -> int | None:
    """The line of `key` in the rule_index-th [[rule]] table (or at the top), else the table's header."""
    lines = text.splitlines()
    headers = [i for i, line in enumerate(lines) if _RULE_HEADER.match(line)]
    if rule_index is None:
        start, end = 0, headers[0] if headers else len(lines)
    elif rule_index < len(headers):
        start = headers[rule_index]
        end = headers[rule_index + 1] if rule_index + 1 < len(headers) else len(lines)
    else:
        return None
    if key is not None:
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        for i in range(start, end):
            if pattern.match(lines[i]):
                return i + 1
    return start + 1 if rule_index is not None else None


class _RuleReader:
    """Reads one [[rule]] table, raising PolicyError at the line of the key at fault."""

    def __init__(self, table: Any, index: int, text: str, path: Path,
                 denylists: dict[Path, frozenset[bytes]] | None = None) -> None:
        self.index, self.text, self.path = index, text, path
        self.denylists = {} if denylists is None else denylists
        if not isinstance(table, dict):
            self.fail(None, "each rule must be a table")
        self.table = table

    def fail(self, key: str | None, problem: str) -> None:
        raise PolicyError(self.path, _key_line(self.text, self.index, key), f"rule {self.index + 1}: {problem}")

    def rule(self) -> Rule:
        name = self.string("name")
        if not _NAME.match(name):
            self.fail("name", f"name must be 1-64 letters, digits, '_', '.' or '-', got {truncate(name, 64)!r}")
        kind = self.choice("kind", RuleKind)
        action = self.choice("action", Action)
        unknown = sorted(set(self.table) - {"name", "kind", "action"} - KIND_KEYS[kind])
        if unknown:
            self.fail(unknown[0], f"{kind.value} rule {name!r} takes no key {truncate(unknown[0], 64)!r} "
                                  f"(it takes {', '.join(sorted(KIND_KEYS[kind]))})")
        base = Rule(name=name, kind=kind, action=action, **self.asset())
        return getattr(self, f"read_{kind.value}")(base)

    # ---- kinds

    def read_denylist(self, base: Rule) -> Rule:
        addresses = set(self.addresses())
        if "file" in self.table:
            name = self.string("file")
            if not name or any(ord(c) < 32 for c in name):  # open() refuses a NUL byte with a ValueError
                self.fail("file", f"file must be a file name without control characters, got {truncate(repr(name), 64)}")
            file = Path(os.path.normpath(self.path.parent / name))  # one key per file, however named
            if file not in self.denylists:
                self.denylists[file] = load_denylist(file)
            listed = self.denylists[file]
            if not addresses:
                return _replace(base, addresses=listed, any_asset=True)  # shared with other rules naming it
            addresses |= listed
        if "file" not in self.table and "addresses" not in self.table:
            self.fail(None, "a denylist rule needs file = \"...\" or addresses = [...]")
        return _replace(base, addresses=frozenset(addresses), any_asset=True)

    def read_threshold(self, base: Rule) -> Rule:
        return _replace(base, min_value=self.amount("min_value"))

    def read_velocity(self, base: Rule) -> Rule:
        max_value = self.amount("max_value") if "max_value" in self.table else None
        max_count = self.integer("max_count", 1, 1_000_000) if "max_count" in self.table else None
        if max_value is None and max_count is None:
            self.fail(None, "a velocity rule needs max_value, max_count or both")
        return _replace(base, window_blocks=self.window(), max_value=max_value, max_count=max_count)

    def read_structuring(self, base: Rule) -> Rule:
        return _replace(
            base,
            threshold=self.amount("threshold"),
            margin_percent=self.integer("margin_percent", 1, 50, default=10),
            min_count=self.integer("min_count", 2, 1000, default=3),
            window_blocks=self.window(),
        )

    def read_fresh_account(self, base: Rule) -> Rule:
        return _replace(base, min_value=self.amount("min_value"), window_blocks=self.window())

    # ---- values

    def string(self, key: str) -> str:
        value = self.table.get(key)
        if not isinstance(value, str):
            self.fail(key, f"{key} must be a string" + ("" if key in self.table else " (missing)"))
        return value

    def choice(self, key: str, enum: Any) -> Any:
        value = self.string(key)
        try:
            return enum(value)
        except ValueError:
            self.fail(key, f"{key} must be one of {', '.join(e.value for e in enum)}, got {truncate(value, 64)!r}")

    def integer(self, key: str, low: int, high: int, default: int | None = None) -> int:
        value = self.table.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            self.fail(key, f"{key} must be an integer from {low} to {high}, got {truncate(repr(value), 64)}")
        return value

    def window(self) -> int:
        return self.integer("window_blocks", 1, MAX_WINDOW_BLOCKS)

    def amount(self, key: str) -> int:
        value = self.table.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        match = _AMOUNT.match(value) if isinstance(value, str) else None
        if match is None:
            self.fail(key, f"{key} must be a whole number of wei or a string like \"2.5 ether\", \"30 gwei\", "
                           f"got {truncate(repr(value), 64)}")
        whole, fraction, unit = match.groups()
        decimals = _UNITS[unit]
        fraction = fraction or ""
        if len(fraction) > decimals:
            self.fail(key, f"{key}: {truncate(value, 64)!r} has more decimals than {unit or 'wei'} allows")
        return int(whole) * 10**decimals + int(fraction.ljust(decimals, "0") or 0)

    def addresses(self) -> list[bytes]:
        value = self.table.get("addresses", [])
        if not isinstance(value, list) or len(value) > MAX_DENYLIST_ADDRESSES:
            self.fail("addresses", f"addresses must be a list of at most {MAX_DENYLIST_ADDRESSES} addresses")
        for item in value:
            if not isinstance(item, str) or not _ADDRESS.match(item):
                self.fail("addresses", f"not an address (0x and 40 hex digits): {truncate(repr(item), 80)}")
        return [bytes.fromhex(item[2:]) for item in value]

    def asset(self) -> dict[str, Any]:
        value = self.table.get("asset", "native")
        if value == "native":
            return {}
        if value == "any":
            return {"any_asset": True}
        if isinstance(value, str) and _ADDRESS.match(value):
            return {"asset": bytes.fromhex(value[2:])}
        self.fail("asset", f"asset must be \"native\", \"any\" or a token contract address, got {truncate(repr(value), 64)}")
        raise AssertionError  # fail raised


def _replace(rule: Rule, **changes: Any) -> Rule:
    import dataclasses

    return dataclasses.replace(rule, **changes)


__all__ = ["PolicyError", "load_denylist", "load_policy", "POLICY_FILE_NAME"]
