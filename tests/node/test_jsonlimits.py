"""Every JSON file and body the node parses is depth-checked first (plume_node/jsonlimits.py).

py_ecc raises the recursion limit to 100,000, so without the check ~100,000
nested brackets overflow the C stack inside json and kill the process.
"""

from __future__ import annotations

import json
import time

import py_ecc  # noqa: F401 - imported for its side effect: the recursion limit the node runs with
import pytest

from plume_node import jsonlimits
from plume_node.genesis import GenesisError, load_genesis
from plume_node.keystore import Keystore
from plume_node.node_keys import KeyFileError, load_key_file

DEEP_ARRAYS = "[" * 100_000 + "]" * 100_000
DEEP_OBJECTS = '{"a":' * 80_000 + "1" + "}" * 80_000


@pytest.mark.parametrize(
    "text, depth",
    [
        ("1", 0),
        ("[]", 1),
        ("[[], {}]", 2),
        ('{"a": [1, {"b": [2]}]}', 4),
        ('["[[[[", "{{{{"]', 1),  # brackets in strings do not count
        ('["\\"[[[[", 1]', 1),  # nor after an escaped quote
        ('["\\\\", [[1]]]', 3),  # an escaped backslash ends before the quote
        ("[[[", 3),  # unclosed brackets count: a parser would recurse into them
    ],
)
def test_nesting_depth(text, depth):
    assert jsonlimits.nesting_depth(text) == depth


def test_loads_accepts_up_to_the_limit_and_refuses_deeper():
    limit = jsonlimits.MAX_JSON_DEPTH
    assert jsonlimits.loads("[" * limit + "]" * limit) is not None
    with pytest.raises(jsonlimits.JsonTooDeep) as caught:
        jsonlimits.loads("[" * (limit + 1) + "]" * (limit + 1))
    assert caught.value.depth == limit + 1
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("text", [DEEP_ARRAYS, DEEP_OBJECTS, "[" * 100_000])
def test_deep_documents_are_refused_not_parsed(text):
    with pytest.raises(jsonlimits.JsonTooDeep):
        jsonlimits.loads(text)
    with pytest.raises(jsonlimits.JsonTooDeep):
        jsonlimits.loads(text.encode())


def test_bytes_must_be_utf8():
    with pytest.raises(ValueError):
        jsonlimits.loads('["x"]'.encode("utf-16"))


def test_deep_genesis_is_a_clear_error(tmp_path):
    path = tmp_path / "genesis.json"
    path.write_text('{"chain_id": 1, "alloc": ' + DEEP_OBJECTS + "}")
    with pytest.raises(GenesisError, match="nesting depth"):
        load_genesis(path)


def test_deep_key_file_is_a_clear_error(tmp_path):
    path = tmp_path / "node_key.json"
    path.write_text(DEEP_ARRAYS)
    path.chmod(0o600)  # a private file, so the depth check is what refuses it
    with pytest.raises(KeyFileError, match="nesting depth"):
        load_key_file(path)


def test_deep_keystore_file_is_skipped(tmp_path):
    keystore = Keystore(tmp_path)
    keystore.dir.mkdir(parents=True)
    (keystore.dir / "evil.json").write_text('{"address": ' + DEEP_ARRAYS + "}")
    (keystore.dir / "fine.json").write_text(json.dumps({"address": "11" * 20}))
    assert [k.name for k in keystore.list()] == ["fine"]


def test_depth_scan_is_linear_on_escaped_quotes():
    # one quote then many escaped quotes: a string pattern that matches escapes
    # itself rescans to the end from every quote (quadratic: minutes for 5 MB)
    text = '"' + '\\"' * 50_000 + "[" * 100
    started = time.perf_counter()
    assert jsonlimits.nesting_depth(text) == 100
    assert time.perf_counter() - started < 1.0
