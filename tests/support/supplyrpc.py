"""Reading `plume_supply` from a node, with the identities its own fields must satisfy checked.

docs/rpc.md (plume_supply) and docs/staking.md ("Supply") state them:
genesisSupply + totalIssued - totalBurned == totalSupply, totalBurned == the
burnedBy<cause> fields, stakingBalance == bonded + unbonding +
undistributedRewards + unwithdrawnCommission.
"""

from __future__ import annotations

from rpcclient import rpc


def checked_supply(url: str, block: str = "latest") -> dict[str, int]:
    """plume_supply at ``block`` as ints, after asserting every identity between its fields."""
    s = {key: int(value, 16) for key, value in rpc(url, "plume_supply", block).items()}
    assert s["genesisSupply"] + s["totalIssued"] - s["totalBurned"] == s["totalSupply"], s
    assert s["totalBurned"] == sum(v for k, v in s.items() if k.startswith("burnedBy")), s
    assert s["stakingBalance"] == s["bonded"] + s["unbonding"] + s["undistributedRewards"] + s["unwithdrawnCommission"], s
    assert s["rewardsOutstanding"] == s["undistributedRewards"] + s["unwithdrawnCommission"], s
    return s
