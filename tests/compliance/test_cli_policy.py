"""`plume-node start` refuses a bad compliance.toml with one Error: line (file, line, problem)
and exit code 1, as other config errors; `report compliance` refuses a bad range the same way."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
from e2e_node import PASSWORD, fails, ok  # noqa: E402


def test_start_refuses_a_bad_policy_file(tmp_path):
    home = tmp_path / "home"
    (tmp_path / "pw").write_text(PASSWORD + "\n")
    ok("init", "--home", str(home), "--password-file", str(tmp_path / "pw"))
    (home / "compliance.toml").write_text('[[rule]]\nname = "s"\nkind = "denylist"\naction = "reject"\nfile = "list.txt"\n')
    (home / "list.txt").write_text("# OFAC\n0x" + "ab" * 20 + "\n0xabc\n")
    err = fails("start", "--home", str(home), "--rpc-addr", "127.0.0.1:0", "--p2p-addr", "127.0.0.1:0")
    assert err.count("\n") == 0 and err.startswith("Error: "), err
    assert f"{home / 'list.txt'}, line 3: not an address" in err
    (home / "compliance.toml").write_text('[[rule]]\nname = "s"\nkind = "threshold"\naction = "flag"\nmin_value = -1\n')
    err = fails("start", "--home", str(home), "--rpc-addr", "127.0.0.1:0", "--p2p-addr", "127.0.0.1:0")
    assert f"{home / 'compliance.toml'}, line 5: rule 1: min_value must be" in err
    assert not (home / "data").exists() or not any((home / "data").iterdir())  # refused before the data directory


def test_report_refuses_a_range_too_long(tmp_path):
    err = fails("report", "compliance", "--rpc", "http://127.0.0.1:9", "--from-block", "1", "--to-block", "20000",
                "--out", str(tmp_path / "r"))
    assert err.startswith("Error: 20000 blocks asked; a report covers at most 10000")
