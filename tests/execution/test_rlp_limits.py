"""RLP nesting is bounded by a linear scan before py-evm's recursive decoder runs."""

from __future__ import annotations

import msgpack
import pytest
import rlp
from hypothesis import given
from hypothesis import strategies as st
from plume_exec_helpers import build_and_commit, deep_list, open_chain, signed_raw

from execution.block import PlumeBlock
from execution.errors import DecodeError
from execution.rlp_limits import MAX_TX_DEPTH, RlpShapeError, check_depth, check_transaction_shape
from execution.transactions import decode_transaction

nested = st.recursive(st.binary(max_size=70), lambda inner: st.lists(inner, max_size=5), max_leaves=40)


def depth(item) -> int:
    return 1 + max((depth(x) for x in item), default=0) if isinstance(item, list) else 0


@given(nested)
def test_scan_measures_the_depth_py_rlp_decodes(item) -> None:
    data = rlp.encode(item)
    d = depth(item)
    check_depth(data, d)
    if d > 0:
        with pytest.raises(RlpShapeError, match=f"deeper than {d - 1} lists"):
            check_depth(data, d - 1)


@given(st.binary(min_size=1, max_size=200))
def test_scan_never_fails_other_than_with_its_error(data: bytes) -> None:
    try:
        check_depth(data, 8)
    except RlpShapeError:
        pass


@pytest.mark.parametrize("kind", [0, 1, 2])
def test_every_valid_transaction_type_passes(kind: int) -> None:
    check_transaction_shape(signed_raw(0, 0, kind=kind))


@pytest.mark.parametrize("prefix", [b"", b"\x02"])
def test_a_deeply_nested_transaction_is_malformed_at_once(prefix: bytes) -> None:
    raw = prefix + deep_list(30_000)  # ~100 KiB, under the size limit; seconds of CPU for py-rlp
    assert len(raw) < 128 * 1024
    with pytest.raises(DecodeError, match=f"deeper than {MAX_TX_DEPTH} lists") as info:
        decode_transaction(raw)
    assert len(str(info.value)) < 300


def test_a_block_hiding_a_deep_typed_transaction_is_refused(tmp_path) -> None:
    db, chain = open_chain(tmp_path / "db")
    good = build_and_commit(chain, [decode_transaction(signed_raw(0, 0))]).block
    block_rlp, sidecar = msgpack.unpackb(good.encode())
    header, txs, uncles, withdrawals = rlp.decode(block_rlp)
    evil_tx = b"\x02" + deep_list(20_000)
    evil_rlp = rlp.encode([header, [evil_tx], uncles, withdrawals])
    with pytest.raises(DecodeError, match="deeper than"):
        PlumeBlock.decode(msgpack.packb([evil_rlp, sidecar]))
    deep_block = msgpack.packb([deep_list(20_000), sidecar])
    with pytest.raises(DecodeError, match="deeper than"):
        PlumeBlock.decode(deep_block)
    db.close()
