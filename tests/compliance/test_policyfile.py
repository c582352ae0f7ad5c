"""compliance.toml and denylist parsing: the rule language, and errors naming file, line and problem."""

from __future__ import annotations

import pytest

from plume_node.compliance.model import Action, RuleKind
from plume_node.compliance.policyfile import MAX_RULES, PolicyError, load_denylist, load_policy

DENIED = "0x" + "de" * 20
TOKEN = "0x" + "70" * 20

EXAMPLE = f"""
# a sanctions list, published as a file of addresses
[[rule]]
name = "sanctions"
kind = "denylist"
action = "reject"
file = "sanctions.txt"
addresses = ["{"0x" + "ab" * 20}"]

[[rule]]
name = "large-transfer"
kind = "threshold"
action = "flag"
min_value = "10 ether"

[[rule]]
name = "token-velocity"
kind = "velocity"
action = "flag"
asset = "{TOKEN}"
window_blocks = 100
max_value = 1000000
max_count = 20

[[rule]]
name = "structuring"
kind = "structuring"
action = "flag"
threshold = "10 ether"
margin_percent = 10
min_count = 3
window_blocks = 50

[[rule]]
name = "fresh"
kind = "fresh_account"
action = "reject"
asset = "any"
min_value = "2.5 ether"
window_blocks = 20
"""


def write(tmp_path, text, denylist="# OFAC\n" + DENIED + "  # listed 2026-01-01\n\n"):
    (tmp_path / "sanctions.txt").write_text(denylist)
    path = tmp_path / "compliance.toml"
    path.write_text(text)
    return path


def test_the_documented_example_parses(tmp_path):
    policy = load_policy(write(tmp_path, EXAMPLE))
    by_name = {r.name: r for r in policy.rules}
    assert [r.kind for r in policy.rules] == [RuleKind.DENYLIST, RuleKind.THRESHOLD, RuleKind.VELOCITY,
                                              RuleKind.STRUCTURING, RuleKind.FRESH_ACCOUNT]
    assert by_name["sanctions"].addresses == {bytes.fromhex("de" * 20), bytes.fromhex("ab" * 20)}
    assert by_name["sanctions"].action is Action.REJECT
    assert by_name["large-transfer"].min_value == 10 * 10**18 and by_name["large-transfer"].asset is None
    assert by_name["token-velocity"].asset == bytes.fromhex("70" * 20)
    assert (by_name["token-velocity"].max_value, by_name["token-velocity"].max_count) == (1_000_000, 20)
    assert by_name["fresh"].min_value == 25 * 10**17 and by_name["fresh"].any_asset
    assert policy.longest_window() == 100


@pytest.mark.parametrize("text, line, problem", [
    ('[[rule]]\nname = "x"\nkind = "threshold"\naction = "flag"\nmin_value = "1.5 wei"\n', 5, "more decimals"),
    ('[[rule]]\nname = "x"\nkind = "threshold"\naction = "block"\nmin_value = 1\n', 4, "action must be one of reject, flag"),
    ('[[rule]]\nname = "x"\nkind = "magic"\naction = "flag"\n', 3, "kind must be one of"),
    ('[[rule]]\nname = "x"\nkind = "threshold"\naction = "flag"\nmin_value = 1\nwindow_blocks = 3\n', 6, "takes no key 'window_blocks'"),
    ('[[rule]]\nname = "x"\nkind = "velocity"\naction = "flag"\nwindow_blocks = 3\n', 1, "needs max_value, max_count or both"),
    ('[[rule]]\nname = "x"\nkind = "structuring"\naction = "flag"\nthreshold = 1\nwindow_blocks = 0\n', 6, "window_blocks must be an integer from 1"),
    ('[[rule]]\nname = "x"\nkind = "threshold"\naction = "flag"\nmin_value = 1\n\n[[rule]]\nname = "x"\nkind = "threshold"\naction = "flag"\nmin_value = 2\n', 8, "used twice"),
    ('[[rule]]\nname = "x"\nkind = "denylist"\naction = "reject"\naddresses = ["0x12"]\n', 5, "not an address"),
    ('[[rule]]\nname = "x"\nkind = "threshold"\naction = "flag"\nasset = "eth"\nmin_value = 1\n', 5, "asset must be"),
    ('[[rule]\nname = "x"\n', 1, "not valid TOML"),
    ('rules = 3\n', 1, "unknown key 'rules'"),
    ('[[rule]]\nname = "x"\nbad = [\n', 3, "not valid TOML"),
    ('[[rule]]\nname = "has space"\nkind = "threshold"\naction = "flag"\nmin_value = 1\n', 2, "name must be"),
])
def test_a_bad_policy_names_file_line_and_problem(tmp_path, text, line, problem):
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert info.value.line == line, str(info.value)
    assert str(info.value).startswith(f"{path}, line {line}: ")
    assert problem in str(info.value)


def test_a_bad_denylist_names_its_own_file_and_line(tmp_path):
    text = '[[rule]]\nname = "s"\nkind = "denylist"\naction = "reject"\nfile = "sanctions.txt"\n'
    path = write(tmp_path, text, denylist=f"{DENIED}\n\n0xnot-an-address\n")
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert str(info.value).startswith(f"{tmp_path / 'sanctions.txt'}, line 3: not an address")
    missing = write(tmp_path, text.replace("sanctions.txt", "gone.txt"))
    with pytest.raises(PolicyError, match="gone.txt: cannot read it"):
        load_policy(missing)


def test_limits(tmp_path):
    many = "".join(f'[[rule]]\nname = "r{i}"\nkind = "threshold"\naction = "flag"\nmin_value = 1\n' for i in range(MAX_RULES + 1))
    with pytest.raises(PolicyError, match=f"the limit is {MAX_RULES}"):
        load_policy(write(tmp_path, many))
    (tmp_path / "big.txt").write_bytes(b"\xff\xfe")
    with pytest.raises(PolicyError, match="line 1: not UTF-8"):
        load_denylist(tmp_path / "big.txt")
    long_value = "9" * 5000
    with pytest.raises(PolicyError) as info:
        load_policy(write(tmp_path, f'[[rule]]\nname = "x"\nkind = "threshold"\naction = "flag"\nmin_value = "{long_value}"\n'))
    assert len(str(info.value)) < 400  # the quoted value is truncated


@pytest.mark.parametrize("text, problem", [
    ('[[rule]]\nname = "t"\nkind = "threshold"\naction = "flag"\nmin_value = ' + "9" * 5000 + "\n", "ValueError"),
    ('[[rule]]\nname = "d"\nkind = "denylist"\naction = "reject"\nfile = "a\\u0000b"\n', "line 5: rule 1: file must be"),
])
def test_every_failure_of_a_file_is_a_policy_error(tmp_path, text, problem):
    """A plain ValueError from tomllib or open() would end a node at SIGHUP (regression)."""
    path = write(tmp_path, text)
    with pytest.raises(PolicyError, match=problem) as refused:
        load_policy(path)
    assert str(refused.value).startswith(str(path)) and "\x00" not in str(refused.value)


def test_denylists_are_read_lazily_shared_and_capped_together(tmp_path, monkeypatch):
    """Regressions: splitlines() of a 64 MiB list peaked at ~1.25 GB; two rules naming one file
    held two copies; the address limit held per rule only."""
    from plume_node.compliance import policyfile

    rule = '[[rule]]\nname = "{}"\nkind = "denylist"\naction = "{}"\nfile = "{}"\n'
    text = rule.format("a", "reject", "sanctions.txt") + rule.format("b", "flag", "./sanctions.txt")
    policy = load_policy(write(tmp_path, text))
    assert policy.rules[0].addresses is policy.rules[1].addresses  # one copy, shared
    (tmp_path / "other.txt").write_text("0x" + "01" * 20 + "\n0x" + "02" * 20 + "\n")
    monkeypatch.setattr(policyfile, "MAX_DENYLIST_ADDRESSES", 2)
    text = rule.format("a", "reject", "sanctions.txt") + rule.format("b", "flag", "other.txt")
    with pytest.raises(PolicyError, match="3 denylisted addresses in all rules together, the limit is 2"):
        load_policy(write(tmp_path, text))
    (tmp_path / "long.txt").write_text("0x" + "01" * 20 + "\n" + "#" * 10_000 + "\n")
    with pytest.raises(PolicyError, match="long.txt, line 2: a line longer than"):
        load_denylist(tmp_path / "long.txt")
    (tmp_path / "big.txt").write_bytes(b"\n" * 100)
    monkeypatch.setattr(policyfile, "MAX_DENYLIST_BYTES", 50)
    with pytest.raises(PolicyError, match="larger than the limit of 50 bytes"):
        load_denylist(tmp_path / "big.txt")
