"""The simulated chain's identity: its chain id and the validators' keys.

Keys are real Ed25519 keys derived from the validator's index (not from the
run's seed), so every report names the same address for validator ``i``.
"""

from __future__ import annotations

import hashlib

from consensus.crypto import PrivateKey

CHAIN_ID = b"plume-sim"


def validator_key(index: int) -> PrivateKey:
    return PrivateKey.from_seed(hashlib.sha256(b"plume-sim-validator:%d" % index).digest())
