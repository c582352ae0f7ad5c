// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Plume staking system contract
/// @notice Lives at 0x0000000000000000000000000000000000001000. It is not EVM
///         bytecode: the node runs it in Python as a precompile of the Plume
///         fork, with its state in the EVM storage of its own address. Call it
///         like any contract. Amounts are in wei; times are unix seconds of
///         block time; heights are block numbers.
/// @dev A failed call reverts with `Error(string)` and is charged gas. Write
///      methods refuse a static call and a DELEGATECALL/CALLCODE. See
///      docs/staking.md for every rule, the gas table and the storage layout.
interface IStaking {
    /// @notice Rewards of a delegation were paid to the delegator (by a claim, or
    ///         because the delegation changed).
    event RewardsClaimed(address indexed delegator, address indexed validator, uint256 amount);
    /// @notice Rewards of a delegation were added to it.
    event RewardsRestaked(address indexed delegator, address indexed validator, uint256 amount);
    /// @notice A validator's operator withdrew its accumulated commission.
    event CommissionWithdrawn(address indexed validator, uint256 amount);
    /// @notice `delegator` opted its delegation to `validator` in (`enabled`) or out
    ///         of auto-restaking.
    event AutoRestakeSet(address indexed delegator, address indexed validator, bool enabled);
    /// @notice A validator was registered; `selfDelegation` is the value sent.
    event ValidatorCreated(
        address indexed operator,
        bytes32 consensusPubkey,
        string moniker,
        uint256 selfDelegation,
        uint16 commissionBps,
        uint16 maxCommissionBps,
        uint16 maxChangeBps
    );
    /// @notice A validator changed its moniker or commission.
    event ValidatorEdited(address indexed operator, string moniker, uint16 commissionBps);
    /// @notice A validator was jailed: it leaves the active set at the next update.
    /// @param reason 0 its self-delegation fell under the minimum, 1 double-sign, 2 downtime.
    /// @param until Unix time from which `unjail` may succeed (0: at once; 2**64-1: never).
    event Jailed(address indexed operator, uint8 reason, uint64 until);
    /// @notice A jailed validator asked to be considered for the active set again.
    event Unjailed(address indexed operator);
    /// @notice `amount` wei of the validator's stake (and of entries since the infraction) was burned.
    /// @param reason 1 double-sign, 2 downtime.
    event Slashed(address indexed operator, uint8 reason, uint256 amount, uint64 infractionHeight);
    /// @notice Double-sign evidence with keccak hash `evidenceHash` was applied (once, ever).
    event EvidenceApplied(address indexed operator, bytes32 evidenceHash, uint64 infractionHeight);
    /// @notice `amount` wei bought `shares` of `validator` for `delegator`.
    event Delegated(address indexed delegator, address indexed validator, uint256 amount, uint256 shares);
    /// @notice `amount` wei entered the unbonding queue; paid at the end of the
    ///         first block whose time is at least `completionTime`.
    event Undelegated(
        address indexed delegator,
        address indexed validator,
        uint256 amount,
        uint256 creationHeight,
        uint256 completionTime
    );
    /// @notice `amount` wei moved from `src` to `dst` at once; slashable for
    ///         `src` until `completionTime`.
    event Redelegated(
        address indexed delegator,
        address indexed src,
        address indexed dst,
        uint256 amount,
        uint256 completionTime
    );
    /// @notice `amount` wei of an unbonding entry went back into the delegation.
    event UnbondingCancelled(
        address indexed delegator,
        address indexed validator,
        uint256 creationHeight,
        uint256 amount
    );

    /// @notice Register the caller as a validator operator; the value sent is
    ///         its self-delegation (at least `minSelfDelegation`).
    /// @param consensusPubkey The node's Ed25519 consensus public key.
    /// @param moniker A display name, at most 64 bytes.
    /// @param commissionBps The commission rate, at most `maxCommissionBps`.
    /// @param maxCommissionBps The rate the commission may never exceed (<= 10000).
    /// @param maxChangeBps The most the rate may move in one edit (<= `maxCommissionBps`).
    function createValidator(
        bytes32 consensusPubkey,
        string calldata moniker,
        uint16 commissionBps,
        uint16 maxCommissionBps,
        uint16 maxChangeBps
    ) external payable;

    /// @notice Change the caller's validator's moniker and commission; the rate
    ///         moves by at most `maxChangeBps`, at most once per 24 h of block time.
    function editValidator(string calldata moniker, uint16 commissionBps) external;

    /// @notice Clear the caller's validator's jail flag once its self-delegation
    ///         is back at `minSelfDelegation`; it may join the set at the next epoch.
    function unjail() external;

    /// @notice Delegate the value sent to `validator`.
    function delegate(address validator) external payable;

    /// @notice Start unbonding `amount` wei from `validator`.
    /// @return completionTime When the tokens become payable.
    function undelegate(address validator, uint256 amount) external returns (uint256 completionTime);

    /// @notice Move `amount` wei of delegation from `src` to `dst` at once.
    /// @return completionTime Until when the moved tokens stay slashable for `src`.
    function redelegate(address src, address dst, uint256 amount) external returns (uint256 completionTime);

    /// @notice Put `amount` wei of the unbonding entry created at
    ///         `creationHeight` back into the delegation to `validator`.
    function cancelUnbonding(address validator, uint256 creationHeight, uint256 amount) external;

    /// @notice A validator; `status` is 0 unbonded, 1 unbonding, 2 bonded (in the active set).
    function getValidator(address operator)
        external
        view
        returns (
            bytes32 consensusPubkey,
            string memory moniker,
            uint256 tokens,
            uint256 shares,
            uint16 commissionBps,
            bool jailed,
            uint8 status
        );

    /// @notice A validator's commission limits and the time of its last rate change.
    function getCommission(address operator)
        external
        view
        returns (uint16 commissionBps, uint16 maxCommissionBps, uint16 maxChangeBps, uint256 lastChangeTime);

    /// @notice A validator's signing record for the downtime rule: the first height counted since it
    /// was (re)tracked, blocks counted since, blocks missed in the current window, the block time from
    /// which `unjail` may succeed (0: at once), and whether it is tombstoned.
    function getSigningInfo(address operator)
        external
        view
        returns (uint256 startHeight, uint256 indexOffset, uint256 missedBlocks, uint256 jailedUntil, bool tombstoned);

    /// @notice The operator whose validator has this consensus key (zero if none).
    function getValidatorByConsensusKey(bytes32 consensusPubkey) external view returns (address operator);

    /// @notice Registered operators in registration order, `limit` at most 100.
    function getValidators(uint256 offset, uint256 limit) external view returns (address[] memory);

    /// @notice How many validators are registered.
    function validatorCount() external view returns (uint256);

    /// @notice The active set chosen at the last epoch end, with voting powers.
    function getActiveValidators() external view returns (address[] memory operators, uint256[] memory powers);

    /// @notice The delegation of `delegator` to `validator`: its shares and their value in wei.
    function getDelegation(address delegator, address validator) external view returns (uint256 shares, uint256 tokens);

    /// @notice The delegations of `delegator`, `limit` at most 100.
    function getDelegations(address delegator, uint256 offset, uint256 limit)
        external
        view
        returns (address[] memory validators, uint256[] memory shares, uint256[] memory tokens);

    /// @notice The pending unbonding entries of a delegator with a validator.
    function getUnbondings(address delegator, address validator)
        external
        view
        returns (uint256[] memory creationHeights, uint256[] memory completionTimes, uint256[] memory amounts);

    /// @notice The immature redelegations of `delegator`.
    function getRedelegations(address delegator)
        external
        view
        returns (
            address[] memory srcs,
            address[] memory dsts,
            uint256[] memory creationHeights,
            uint256[] memory completionTimes,
            uint256[] memory amounts
        );

    /// @notice Wei delegated to all validators (in the active set or not).
    function totalBonded() external view returns (uint256);

    /// @notice Wei waiting in the unbonding queue.
    function totalUnbonding() external view returns (uint256);

    /// @notice The staking parameters in force.
    function params()
        external
        view
        returns (
            uint256 unbondingPeriod,
            uint256 maxValidators,
            uint256 epochLength,
            uint256 minSelfDelegation,
            uint256 maxEntries,
            uint256 powerReduction,
            uint256 maxValidatorShareBps,
            uint256 blockReward
        );

    /// @notice Pay the caller's pending rewards from `validator` to its balance.
    /// @return amount The wei paid; 0 (and nothing changes) if none are pending.
    function claimRewards(address validator) external returns (uint256 amount);

    /// @notice Add the caller's pending rewards from `validator` to its delegation there.
    /// @return amount The wei restaked.
    function restakeRewards(address validator) external returns (uint256 amount);

    /// @notice Pay the caller's validator's accumulated commission to the caller.
    /// @return amount The wei paid.
    function withdrawCommission() external returns (uint256 amount);

    /// @notice Rewards the delegation of `delegator` to `validator` has earned and not been paid.
    function pendingRewards(address delegator, address validator) external view returns (uint256);

    /// @notice Commission `validator` has accumulated and not withdrawn.
    function pendingCommission(address validator) external view returns (uint256);

    /// @notice Opt the caller's delegation to `validator` in or out of auto-restaking:
    ///         after every epoch end its pending rewards are added to the delegation
    ///         (at most 64 delegations per block, from the epoch-end block on, so within
    ///         ceil(N / 64) blocks for N opted-in delegations), or paid to the caller's
    ///         balance when the stake cap refuses them. At most 10,000 delegations in
    ///         all may be opted in. Opting in needs a delegation; one that reaches zero
    ///         shares is opted out. Setting what is already set changes nothing.
    function setAutoRestake(address validator, bool enabled) external;

    /// @notice Whether `delegator`'s delegation to `validator` is auto-restaked.
    function getAutoRestake(address delegator, address validator) external view returns (bool);

    /// @notice Prove a double-sign: `evidence` is a duplicate-vote evidence (two votes of one
    ///         validator for the same height, round and type and different blocks, both signed
    ///         for this chain), at most 512 bytes. Anyone may call it. Valid evidence slashes,
    ///         jails and tombstones the validator in this transaction (EvidenceApplied, Slashed,
    ///         Jailed); evidence that is invalid, too old or already applied reverts with the reason.
    function submitEvidence(bytes calldata evidence) external;
}
