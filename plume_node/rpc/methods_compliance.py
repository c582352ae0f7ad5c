"""plume_fundFlows: the fund flows of one committed block (docs/compliance.md, "Fund flows").

Re-executes the block in an RPC worker on a snapshot (`execution.trace`)
under the request's budget: the workers' number and the deadline
(`rpc.evm_timeout_ms`) apply as to eth_call; `plume-node report
compliance` reads a range through it. A block whose re-execution the
budget refuses (past the deadline, a MODEXP input over the RPC bound) is
served from its receipts and logs alone with `internalTraced: false`, never
an error: such a block stays reportable. `truncated` says the flow bounds
left movements out (docs/compliance.md, "Limits").
"""

from __future__ import annotations

from typing import Any

from eth_utils import to_checksum_address

from plume_node.compliance.service import derive_block_flows
from plume_node.rpc import params as p
from plume_node.rpc.dispatch import MethodTable, Param
from plume_node.rpc.workers import OffThread, ReadContext

table = MethodTable()


@table.register("plume_fundFlows", Param("blockNumber", p.quantity))
def plume_fund_flows(backend: Any, number: int) -> Any:
    if not 1 <= number <= backend.chain.head.block_number:
        return None

    def work(ctx: ReadContext) -> dict[str, Any]:
        block = derive_block_flows(ctx.chain, number, ctx.budget)
        return {
            "blockNumber": number,
            "flows": [f.to_json() for f in block.flows],
            "newAccounts": sorted(to_checksum_address(a) for a in block.new_accounts),
            "internalTraced": block.internal_traced,
            "truncated": block.truncated > 0,
            "truncatedFlows": block.truncated,
        }

    return OffThread(work)
