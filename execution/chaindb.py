"""``PlumeChainDB``: py-evm's ``ChainDB`` without its class-level memo caches.

py-evm memoizes ``_get_block_transactions``/``_get_block_withdrawals`` with a
``functools.lru_cache`` on the *method*, keyed by ``self``: every ChainDB ever
used stays referenced (with its database) until 32 newer ones push it out. For
us that meant each block's execution overlay (all its trie nodes) outliving
the block, and the LevelDB handle outliving ``close()`` until interpreter
teardown. Same behaviour, no global cache.
"""

from __future__ import annotations

from typing import Type

from eth.abc import SignedTransactionAPI, TransactionDecoderAPI, WithdrawalAPI
from eth.db.chain import ChainDB
import rlp
from eth.vm.forks.shanghai.withdrawals import Withdrawal


class PlumeChainDB(ChainDB):
    def _get_block_transactions(  # type: ignore[override]
        self, transaction_root: bytes, transaction_decoder: Type[TransactionDecoderAPI]
    ) -> tuple[SignedTransactionAPI, ...]:
        return tuple(
            transaction_decoder.decode(encoded)
            for encoded in self._get_block_data_from_root_hash(self.db, transaction_root)
        )

    def _get_block_withdrawals(  # type: ignore[override]
        self, withdrawals_root: bytes
    ) -> tuple[WithdrawalAPI, ...]:
        return tuple(
            rlp.decode(encoded, sedes=Withdrawal)
            for encoded in self._get_block_data_from_root_hash(self.db, withdrawals_root)
        )
