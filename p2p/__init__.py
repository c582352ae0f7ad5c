"""Networking: Noise-secured TCP transport, framing, peers, gossip, sync messages.

Imports nothing else of Plume's: blocks, votes and proposals travel as opaque bytes.

Modules: `noise` (Noise_XX_25519_ChaChaPoly_SHA256), `identity` (node ids and
the identity-bound handshake), `framing` (frames and chunked encrypted
messages), `messages` (the wire catalogue), `transport` (a secure connection
over a trio stream), `peers` (config, addresses, bans, peer info), `gossip`
(seen sets), `service` (`P2PService`, the trio task a node runs).
"""

from p2p.errors import DecryptError, FramingError, IdentityError, MessageError, NoiseError, P2PError
from p2p.identity import node_id_of
from p2p.messages import (
    PROTOCOL_VERSION,
    BlockRequest,
    BlockResponse,
    Disconnect,
    Evidence,
    Hello,
    Message,
    Ping,
    Pong,
    Proposal,
    Status,
    Tx,
    TxBatch,
    Vote,
    decode_message,
    message_hash,
)
from p2p.peers import P2PConfig, PeerAddress, PeerConnected, PeerDisconnected, PeerEvent, PeerInfo
from p2p.service import P2PService

__all__ = [
    "PROTOCOL_VERSION",
    "BlockRequest",
    "BlockResponse",
    "DecryptError",
    "Disconnect",
    "Evidence",
    "FramingError",
    "Hello",
    "IdentityError",
    "Message",
    "MessageError",
    "NoiseError",
    "P2PConfig",
    "P2PError",
    "P2PService",
    "PeerAddress",
    "PeerConnected",
    "PeerDisconnected",
    "PeerEvent",
    "PeerInfo",
    "Ping",
    "Pong",
    "Proposal",
    "Status",
    "Tx",
    "TxBatch",
    "Vote",
    "decode_message",
    "message_hash",
    "node_id_of",
]
