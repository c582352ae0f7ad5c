// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TransferLib} from "./RwaBase.sol";
import {Vault4626} from "./Vault4626.sol";

/// @title MilestoneVault: capital released milestone by milestone on verified achievement
/// @notice Backers deposit the `asset` for shares until `depositDeadline`.
///         After it, the ordered milestones are released one at a time: a
///         milestone's amount (a fixed `amount`, or `shareBps` basis points
///         of the assets raised) goes to its `recipient` when `quorum` of the
///         designated verifiers have signed an EIP-712 attestation of it (the
///         same evidence hash) before the milestone's deadline. Anyone may
///         submit a signature. If the next milestone passes its deadline
///         unreleased, the vault has failed: backers redeem their pro-rata
///         share of what remains. After the last milestone is released,
///         backers redeem what is left over the same way.
/// @dev EIP-712 domain: name "PlumeMilestoneVault", version "1", the chain id
///      and this vault's address, so a signature is valid for one vault on one
///      chain only. A verifier attests a milestone at most once (replay
///      protection); a signature from anyone else is refused. Signatures must
///      have a low `s` and `v` of 27 or 28 (no malleable duplicates).
contract MilestoneVault is Vault4626 {
    /// @notice At most this many milestones (bounds the constructor's work).
    uint256 public constant MAX_MILESTONES = 32;
    /// @notice At most this many verifiers.
    uint256 public constant MAX_VERIFIERS = 32;

    /// @notice The EIP-712 type hash of an attestation.
    bytes32 public constant ATTESTATION_TYPEHASH =
        keccak256("MilestoneAttestation(uint256 milestone,bytes32 evidence)");
    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant NAME_HASH = keccak256("PlumeMilestoneVault");
    bytes32 private constant VERSION_HASH = keccak256("1");
    uint256 private constant BPS = 10_000;
    /// @dev secp256k1n / 2: larger `s` values are the malleable twins.
    uint256 private constant HALF_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    /// @notice One milestone: for `recipient`, attestable until `deadline`, either a fixed
    ///         `amount` of the asset or (`amount` 0) `shareBps` of the assets raised.
    struct Milestone {
        uint256 amount;
        uint16 shareBps;
        address recipient;
        uint64 deadline;
    }

    /// @notice Who created the vault (informational; it has no powers).
    address public immutable issuer;
    /// @notice Deposits are accepted until this unix time (inclusive).
    uint64 public immutable depositDeadline;
    /// @notice Attestations of one evidence hash that release a milestone.
    uint8 public immutable quorum;

    Milestone[] private _milestones;
    /// @notice The assets held when the first attestation came in (the base of share milestones; 0 before).
    uint256 public raised;
    /// @notice Whether `account` is a designated verifier.
    mapping(address account => bool) public isVerifier;
    address[] private _verifiers;
    /// @notice The next milestone to release (== milestoneCount when all are released).
    uint256 public nextMilestone;
    /// @notice Whether `verifier` has attested `milestone`.
    mapping(uint256 milestone => mapping(address verifier => bool)) public hasAttested;
    /// @notice Attestations of `milestone` with `evidence` so far.
    mapping(uint256 milestone => mapping(bytes32 evidence => uint256)) public attestations;

    /// @notice `verifier` attested `milestone` with `evidence`; `count` attestations of that evidence so far.
    event Attested(uint256 indexed milestone, address indexed verifier, bytes32 evidence, uint256 count);
    /// @notice Funding closed with `raised` assets (recorded at the first attestation).
    event RaiseClosed(uint256 raised);
    /// @notice `milestone`'s `amount` went to `recipient` on a quorum of `evidence`.
    event MilestoneReleased(uint256 indexed milestone, address indexed recipient, uint256 amount, bytes32 evidence);

    error InvalidConfiguration(string reason);
    error DepositsClosed(uint64 depositDeadline);
    /// @notice Withdrawals open when a milestone deadline is missed or all milestones are released.
    error WithdrawalsLocked();
    error FundingOpen(uint64 depositDeadline);
    error NotVerifier(address signer);
    error InvalidSignature();
    error AlreadyAttested(uint256 milestone, address verifier);
    error WrongMilestone(uint256 milestone, uint256 next);
    error MilestoneExpired(uint256 milestone, uint64 deadline);
    error InsufficientAssets(uint256 milestone, uint256 amount, uint256 available);
    /// @notice Nothing was raised, so there is nothing to attest.
    error NothingRaised();

    constructor(
        address asset_,
        address issuer_,
        string memory name_,
        string memory symbol_,
        uint64 depositDeadline_,
        address[] memory verifiers_,
        uint8 quorum_,
        Milestone[] memory milestones_
    ) Vault4626(asset_, name_, symbol_) {
        if (verifiers_.length == 0 || verifiers_.length > MAX_VERIFIERS) revert InvalidConfiguration("verifiers");
        if (quorum_ == 0 || quorum_ > verifiers_.length) revert InvalidConfiguration("quorum");
        if (milestones_.length == 0 || milestones_.length > MAX_MILESTONES) revert InvalidConfiguration("milestones");
        for (uint256 i = 0; i < verifiers_.length; ++i) {
            address v = verifiers_[i];
            if (v == address(0) || isVerifier[v]) revert InvalidConfiguration("verifier zero or repeated");
            isVerifier[v] = true;
            _verifiers.push(v);
        }
        uint64 previous = depositDeadline_;
        uint256 totalBps = 0;
        for (uint256 i = 0; i < milestones_.length; ++i) {
            Milestone memory m = milestones_[i];
            // exactly one of amount and share
            if ((m.amount == 0) == (m.shareBps == 0)) revert InvalidConfiguration("milestone amount or share");
            if (m.recipient == address(0)) revert InvalidConfiguration("milestone recipient");
            if (m.deadline <= previous) revert InvalidConfiguration("milestone deadlines must increase");
            totalBps += m.shareBps;
            previous = m.deadline;
            _milestones.push(m);
        }
        if (totalBps > BPS) revert InvalidConfiguration("milestone shares above 100%");
        issuer = issuer_;
        depositDeadline = depositDeadline_;
        quorum = quorum_;
    }

    // -- views ----------------------------------------------------------------------------

    /// @notice The number of milestones.
    function milestoneCount() external view returns (uint256) {
        return _milestones.length;
    }

    /// @notice Milestone `index`: its fixed amount or share, recipient, deadline and whether it is released.
    function milestone(uint256 index)
        external
        view
        returns (uint256 amount, uint16 shareBps, address recipient, uint64 deadline, bool released)
    {
        Milestone storage m = _milestones[index];
        return (m.amount, m.shareBps, m.recipient, m.deadline, index < nextMilestone);
    }

    /// @notice The designated verifiers.
    function verifiers() external view returns (address[] memory) {
        return _verifiers;
    }

    /// @notice Whether the next milestone missed its deadline (backers may withdraw).
    function failed() public view returns (bool) {
        uint256 next = nextMilestone;
        return next < _milestones.length && block.timestamp > _milestones[next].deadline;
    }

    /// @notice Whether every milestone is released.
    function completed() public view returns (bool) {
        return nextMilestone == _milestones.length;
    }

    /// @notice The EIP-712 domain separator (this chain, this vault).
    function domainSeparator() public view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid, address(this)));
    }

    /// @notice The EIP-712 digest a verifier signs to attest `milestone_` with `evidence`.
    function attestationDigest(uint256 milestone_, bytes32 evidence) public view returns (bytes32) {
        bytes32 structHash = keccak256(abi.encode(ATTESTATION_TYPEHASH, milestone_, evidence));
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
    }

    // -- attestations -----------------------------------------------------------------------

    /// @notice Record a verifier's signed attestation of `milestone_`; the one that
    ///         reaches the quorum releases the milestone's amount to its recipient.
    /// @param signature 65 bytes: r, s, v.
    function attest(uint256 milestone_, bytes32 evidence, bytes calldata signature) external nonReentrant {
        if (block.timestamp <= depositDeadline) revert FundingOpen(depositDeadline);
        uint256 next = nextMilestone;
        if (milestone_ != next) revert WrongMilestone(milestone_, next);
        Milestone memory m = _milestones[next];
        if (block.timestamp > m.deadline) revert MilestoneExpired(milestone_, m.deadline);
        _closeRaise();
        address signer = _recover(attestationDigest(milestone_, evidence), signature);
        if (!isVerifier[signer]) revert NotVerifier(signer);
        if (hasAttested[milestone_][signer]) revert AlreadyAttested(milestone_, signer);
        hasAttested[milestone_][signer] = true;
        uint256 count = ++attestations[milestone_][evidence];
        emit Attested(milestone_, signer, evidence, count);
        if (count == quorum) _release(milestone_, m, evidence);
    }

    function _release(uint256 index, Milestone memory m, bytes32 evidence) private {
        uint256 amount = m.amount != 0 ? m.amount : raised * m.shareBps / BPS; // a share rounds down
        uint256 available = totalAssets();
        if (amount == 0 || available < amount) revert InsufficientAssets(index, amount, available);
        nextMilestone = index + 1;
        emit MilestoneReleased(index, m.recipient, amount, evidence);
        TransferLib.safeTransfer(asset(), m.recipient, amount);
    }

    /// @dev The base of share milestones: the assets held when attestation starts
    ///      (after the deposit deadline no deposit or withdrawal can change it).
    function _closeRaise() private {
        if (raised != 0) return;
        uint256 held = totalAssets();
        if (held == 0) revert NothingRaised();
        raised = held;
        emit RaiseClosed(held);
    }

    /// @dev ECDSA recovery with OpenZeppelin's malleability rules.
    function _recover(bytes32 digest, bytes calldata signature) private pure returns (address signer) {
        if (signature.length != 65) revert InvalidSignature();
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint8 v = uint8(signature[64]);
        if (uint256(s) > HALF_ORDER || (v != 27 && v != 28)) revert InvalidSignature();
        signer = ecrecover(digest, v, r, s);
        if (signer == address(0)) revert InvalidSignature();
    }

    // -- the ERC-4626 gates -------------------------------------------------------------------

    function _depositOpen() internal view override returns (bool) {
        return block.timestamp <= depositDeadline;
    }

    function _withdrawOpen() internal view override returns (bool) {
        return failed() || completed();
    }

    function _checkDeposit() internal view override {
        if (!_depositOpen()) revert DepositsClosed(depositDeadline);
    }

    function _checkWithdraw() internal view override {
        if (!_withdrawOpen()) revert WithdrawalsLocked();
    }
}
