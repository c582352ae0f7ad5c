// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Plume governance system contract
/// @notice Lives at 0x0000000000000000000000000000000000001001. Like the staking
///         contract it is not EVM bytecode: the node runs it in Python as a
///         precompile, with its state in the EVM storage of its own address.
///         Stakers propose parameter changes (or text), deposit, vote with
///         their bonded stake; a passed proposal's changes apply at the end of
///         the block that closes its voting period. Amounts are in wei; times
///         are unix seconds of block time.
/// @dev A failed call reverts with `Error(string)` and is charged gas. Write
///      methods refuse a static call and a DELEGATECALL/CALLCODE. See
///      docs/governance.md for every rule, the gas table and the storage layout.
interface IGovernance {
    /// @notice One parameter change: `key` as in genesis.json (`staking.unbonding_period`),
    ///         `value` ABI-encoded in the parameter's type (uint256 for every parameter today).
    struct Change {
        string key;
        bytes value;
    }

    /// @notice Proposal `id` was submitted with `changes` parameter changes (0: a text proposal).
    event ProposalSubmitted(uint256 indexed id, address indexed proposer, string title, uint256 changes);
    /// @notice `depositor` added `amount` wei; the proposal now holds `total`.
    event DepositAdded(uint256 indexed id, address indexed depositor, uint256 amount, uint256 total);
    /// @notice The deposits reached `gov.min_deposit`: votes are taken until `votingEnd`.
    event VotingStarted(uint256 indexed id, uint64 votingEnd);
    /// @notice `voter` voted (or changed its vote): options 1 yes, 2 abstain, 3 no, 4 no with veto.
    event Voted(uint256 indexed id, address indexed voter, uint8[] options, uint16[] weightsBps);
    /// @notice The proposal passed with this tally; its changes were applied.
    event ProposalPassed(uint256 indexed id, uint256 yes, uint256 abstain, uint256 no, uint256 veto);
    /// @notice The proposal was rejected.
    /// @param reason 1 no majority, 2 no quorum, 3 vetoed, 4 a change no longer fits its bounds.
    event ProposalRejected(uint256 indexed id, uint8 reason, uint256 yes, uint256 abstain, uint256 no, uint256 veto);
    /// @notice The deposit period ended under `gov.min_deposit`; `deposit` wei were burned.
    event ProposalDropped(uint256 indexed id, uint256 deposit);
    /// @notice Parameter `key` took `value`, by proposal `id`.
    event ParamChanged(uint256 indexed id, string key, uint256 value);
    /// @notice The proposal's deposits, `amount` wei in all, went back to their depositors.
    event DepositsReturned(uint256 indexed id, uint256 amount);
    /// @notice The proposal's deposits, `amount` wei in all, were burned (veto, no quorum, dropped).
    event DepositsBurned(uint256 indexed id, uint256 amount);

    /// @notice Submit a proposal; the value sent is the first deposit (at least a
    ///         tenth of `gov.min_deposit`). Every change is checked now against
    ///         the same bounds as genesis loading.
    function submitProposal(string calldata title, string calldata description, Change[] calldata changes)
        external
        payable
        returns (uint256 id);

    /// @notice Add the value sent to the proposal's deposits (deposit or voting period).
    function deposit(uint256 id) external payable;

    /// @notice Vote with all of the sender's bonded stake: 1 yes, 2 abstain, 3 no, 4 no with veto.
    function vote(uint256 id, uint8 option) external;

    /// @notice Split the sender's vote over options; the weights (bps) sum to 10000.
    function voteWeighted(uint256 id, uint8[] calldata options, uint16[] calldata weightsBps) external;

    /// @notice A proposal. `status`: 1 deposit period, 2 voting period, 3 passed,
    ///         4 rejected, 5 dropped; `outcome` 0 none (not decided), 1 passed, or the
    ///         rejection reason (as ProposalRejected: 2 no majority, 3 no quorum, 4 vetoed, 5 invalid change).
    function getProposal(uint256 id)
        external
        view
        returns (
            address proposer,
            string memory title,
            string memory description,
            uint8 status,
            uint8 outcome,
            uint64 submitTime,
            uint64 depositEnd,
            uint64 votingStart,
            uint64 votingEnd,
            uint256 totalDeposit,
            string[] memory keys,
            bytes[] memory values
        );

    /// @notice Proposals `offset + 1 .. offset + limit` (ids start at 1; at most 100 per page).
    function getProposals(uint256 offset, uint256 limit)
        external
        view
        returns (uint256[] memory ids, uint8[] memory statuses, string[] memory titles);

    /// @notice How many proposals were ever submitted (the last id).
    function proposalCount() external view returns (uint256);

    /// @notice `voter`'s vote (empty lists if none) and the stake it counts for: wei of
    ///         bonded stake the tally would count it for at this block (0 without a vote).
    function getVote(uint256 id, address voter)
        external
        view
        returns (uint8[] memory options, uint16[] memory weightsBps, uint256 power);

    /// @notice What `depositor` has deposited on the proposal.
    function getDeposit(uint256 id, address depositor) external view returns (uint256);

    /// @notice The tally: live (today's bonded stake) during the voting period, final once closed.
    function tally(uint256 id) external view returns (uint256 yes, uint256 abstain, uint256 no, uint256 veto);

    /// @notice The governance parameters, in the order of genesis.json's `gov` section.
    function params()
        external
        view
        returns (
            uint256 minDeposit,
            uint256 maxDepositPeriod,
            uint256 votingPeriod,
            uint256 quorumBps,
            uint256 thresholdBps,
            uint256 vetoThresholdBps
        );
}
