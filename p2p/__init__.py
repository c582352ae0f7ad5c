"""Networking: Noise-secured TCP transport, framing, peers, gossip, sync messages.

Imports nothing else of Plume's: blocks, votes and proposals travel as opaque bytes.
"""
