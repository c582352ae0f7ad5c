// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20, ReentrancyGuard} from "./RwaBase.sol";

/// @notice The chain's permissions contract (planned at 0x…1003; it does not
///         exist yet): an on-chain allowlist that can serve as identity registry.
interface IPermissions {
    function isAllowed(address account) external view returns (bool);
}

/// @title AssetToken: an ERC-20 for fractional ownership with the ERC-3643 core
/// @notice Only verified holders (in the token's identity registry, with a
///         country code) can hold it; a compliance check runs on every
///         transfer and mint (max holders, max balance per holder, allowed
///         countries, lock-up until a date); agents mint, burn, freeze an
///         address or part of a balance, pause, force transfers and recover
///         wallets. The owner (the issuer) appoints agents and sets the rules.
/// @dev ERC-3643 (T-REX) splits registry and compliance into contracts of
///      their own; here they live in the token (one contract to audit), with
///      the same checks: `canTransfer` is the compliance view, and `_update`
///      is where the `transferred`/`created`/`destroyed` hooks' holder count
///      is kept. Agent actions follow T-REX: forced transfers and recovery
///      ignore pause, lock-up and freezes (unfreezing what they move) but the
///      receiver must be verified; burns unfreeze what they take.
contract AssetToken is ERC20, ReentrancyGuard {
    /// @dev A holder's entry in the identity registry.
    struct Identity {
        bool verified;
        uint16 country; // ISO 3166-1 numeric
    }

    /// @notice Why a transfer is refused (`canTransfer`); each has a custom error.
    enum Refusal {
        None,
        Paused,
        FrozenSender,
        FrozenReceiver,
        UnverifiedReceiver,
        LockedUp,
        CountryNotAllowed,
        MaxBalanceExceeded,
        MaxHoldersExceeded,
        FrozenBalance
    }

    /// @notice Where the chain's permissions contract is planned (not deployed yet).
    address public constant DEFAULT_PERMISSIONS = 0x0000000000000000000000000000000000001003;

    /// @notice The issuer: appoints agents and sets the compliance rules.
    address public owner;
    /// @notice Optional on-chain allowlist accepted as identity registry (zero: none).
    address public permissions;
    /// @notice Holder transfers are stopped (agents' forced transfers are not).
    bool public paused;
    /// @notice Holder-to-holder transfers are refused before this unix time (mints are not).
    uint64 public lockupUntil;
    /// @notice At most this many addresses hold a non-zero balance (0: no limit).
    uint32 public maxHolders;
    /// @notice Holders with a non-zero balance.
    uint32 public holderCount;
    /// @notice Only holders of an allowed country may receive (when true).
    bool public countryRestricted;
    /// @notice No holder may hold more than this (0: no limit).
    uint256 public maxBalance;

    /// @notice Whether `agent` holds the agent powers.
    mapping(address agent => bool) public isAgent;
    mapping(address holder => Identity) private _identities;
    /// @notice Whether holders of `country` may receive, when countryRestricted.
    mapping(uint16 country => bool) public countryAllowed;
    /// @notice Whether all of `holder`'s transfers are frozen.
    mapping(address holder => bool) public isFrozen;
    /// @notice How much of `holder`'s balance is frozen.
    mapping(address holder => uint256) public frozenTokens;

    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);
    event AgentAdded(address indexed agent);
    event AgentRemoved(address indexed agent);
    event IdentityRegistered(address indexed holder, uint16 country, address indexed agent);
    event IdentityRemoved(address indexed holder, address indexed agent);
    event PermissionsContractSet(address indexed permissions);
    event MaxHoldersSet(uint32 maxHolders);
    event MaxBalanceSet(uint256 maxBalance);
    event CountryRestrictionSet(bool restricted);
    event CountryAllowedSet(uint16 indexed country, bool allowed);
    event LockupSet(uint64 until);
    event Paused(address indexed agent);
    event Unpaused(address indexed agent);
    event AddressFrozen(address indexed holder, bool indexed frozen, address indexed agent);
    event TokensFrozen(address indexed holder, uint256 amount);
    event TokensUnfrozen(address indexed holder, uint256 amount);
    event ForcedTransfer(address indexed from, address indexed to, uint256 amount, address indexed agent);
    event RecoverySuccess(address indexed lostWallet, address indexed newWallet, address indexed agent);

    error NotOwner(address caller);
    error NotAgent(address caller);
    error TokenPaused();
    error SenderFrozen(address holder);
    error ReceiverFrozen(address holder);
    error ReceiverNotVerified(address holder);
    error LockedUp(uint64 until);
    error CountryNotAllowed(address holder, uint16 country);
    error MaxBalanceExceeded(address holder, uint256 newBalance, uint256 maxBalance);
    error MaxHoldersExceeded(uint32 maxHolders);
    /// @notice The transfer needs more than the holder's unfrozen balance.
    error InsufficientUnfrozenBalance(address holder, uint256 unfrozen, uint256 needed);
    /// @notice Freezing more tokens than the holder has unfrozen, or unfreezing more than frozen.
    error InvalidFreezeAmount(address holder, uint256 amount, uint256 available);
    /// @notice The wallet to recover has no tokens, or the new wallet is the same.
    error NothingToRecover(address lostWallet);

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        _;
    }

    modifier onlyAgent() {
        if (!isAgent[msg.sender]) revert NotAgent(msg.sender);
        _;
    }

    /// @param owner_ The issuer: owner and first agent.
    constructor(string memory name_, string memory symbol_, address owner_) ERC20(name_, symbol_) {
        if (owner_ == address(0)) revert ZeroAddress();
        owner = owner_;
        isAgent[owner_] = true;
        emit OwnershipTransferred(address(0), owner_);
        emit AgentAdded(owner_);
    }

    // -- owner: roles and rules ---------------------------------------------------------

    /// @notice Hand the token to `newOwner` (agents are unchanged).
    function transferOwnership(address newOwner) external onlyOwner {
        if (newOwner == address(0)) revert ZeroAddress();
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }

    /// @notice Appoint `agent`.
    function addAgent(address agent) external onlyOwner {
        if (agent == address(0)) revert ZeroAddress();
        isAgent[agent] = true;
        emit AgentAdded(agent);
    }

    /// @notice Dismiss `agent`.
    function removeAgent(address agent) external onlyOwner {
        isAgent[agent] = false;
        emit AgentRemoved(agent);
    }

    /// @notice Accept the allowlist at `permissions_` as identity registry (zero: none).
    /// @dev Holders verified only through it have country 0.
    function setPermissionsContract(address permissions_) external onlyOwner {
        permissions = permissions_;
        emit PermissionsContractSet(permissions_);
    }

    /// @notice Limit the number of holders (0: no limit).
    function setMaxHolders(uint32 maxHolders_) external onlyOwner {
        maxHolders = maxHolders_;
        emit MaxHoldersSet(maxHolders_);
    }

    /// @notice Limit each holder's balance (0: no limit).
    function setMaxBalance(uint256 maxBalance_) external onlyOwner {
        maxBalance = maxBalance_;
        emit MaxBalanceSet(maxBalance_);
    }

    /// @notice Turn the allowed-countries rule on or off.
    function setCountryRestricted(bool restricted) external onlyOwner {
        countryRestricted = restricted;
        emit CountryRestrictionSet(restricted);
    }

    /// @notice Allow or disallow holders of `country`.
    function setCountryAllowed(uint16 country, bool allowed) external onlyOwner {
        countryAllowed[country] = allowed;
        emit CountryAllowedSet(country, allowed);
    }

    /// @notice Refuse holder-to-holder transfers until `until` (unix seconds).
    function setLockup(uint64 until) external onlyOwner {
        lockupUntil = until;
        emit LockupSet(until);
    }

    // -- agents: identity registry -----------------------------------------------------

    /// @notice Verify `holder` with its `country` (ISO 3166-1 numeric).
    function registerIdentity(address holder, uint16 country) external onlyAgent {
        if (holder == address(0)) revert ZeroAddress();
        _identities[holder] = Identity(true, country);
        emit IdentityRegistered(holder, country, msg.sender);
    }

    /// @notice Remove `holder` from the registry (its tokens stay; it can no longer receive).
    function removeIdentity(address holder) external onlyAgent {
        delete _identities[holder];
        emit IdentityRemoved(holder, msg.sender);
    }

    /// @notice Whether `holder` is verified, in the registry or by the permissions contract.
    function isVerified(address holder) public view returns (bool) {
        return _identities[holder].verified || _allowedByPermissions(holder);
    }

    /// @notice `holder`'s registry entry (country 0 when verified by the permissions contract only).
    function identity(address holder) external view returns (bool verified, uint16 country) {
        return (isVerified(holder), _identities[holder].country);
    }

    // -- agents: supply, freezes, pause, forced moves -----------------------------------

    /// @notice Create `amount` tokens for `to` (verified, and within the holder rules).
    function mint(address to, uint256 amount) external onlyAgent nonReentrant {
        _requireRecipient(to, amount);
        _mint(to, amount);
    }

    /// @notice Destroy `amount` of `from`'s tokens, unfreezing them first if needed.
    function burn(address from, uint256 amount) external onlyAgent nonReentrant {
        _unfreezeFor(from, amount);
        _burn(from, amount);
    }

    /// @notice Freeze (`frozen` true) or unfreeze all of `holder`'s transfers.
    function setAddressFrozen(address holder, bool frozen) external onlyAgent {
        isFrozen[holder] = frozen;
        emit AddressFrozen(holder, frozen, msg.sender);
    }

    /// @notice Freeze `amount` more of `holder`'s balance.
    function freezePartialTokens(address holder, uint256 amount) external onlyAgent {
        uint256 free = balanceOf(holder) - frozenTokens[holder];
        if (amount == 0 || amount > free) revert InvalidFreezeAmount(holder, amount, free);
        frozenTokens[holder] += amount;
        emit TokensFrozen(holder, amount);
    }

    /// @notice Unfreeze `amount` of `holder`'s frozen tokens.
    function unfreezePartialTokens(address holder, uint256 amount) external onlyAgent {
        uint256 frozen = frozenTokens[holder];
        if (amount == 0 || amount > frozen) revert InvalidFreezeAmount(holder, amount, frozen);
        frozenTokens[holder] = frozen - amount;
        emit TokensUnfrozen(holder, amount);
    }

    /// @notice Stop holder transfers.
    function pause() external onlyAgent {
        paused = true;
        emit Paused(msg.sender);
    }

    /// @notice Resume holder transfers.
    function unpause() external onlyAgent {
        paused = false;
        emit Unpaused(msg.sender);
    }

    /// @notice Move `amount` from `from` to the verified `to`, regardless of pause, lock-up and freezes.
    function forcedTransfer(address from, address to, uint256 amount) external onlyAgent nonReentrant returns (bool) {
        if (!isVerified(to)) revert ReceiverNotVerified(to);
        _unfreezeFor(from, amount);
        _transfer(from, to, amount);
        emit ForcedTransfer(from, to, amount, msg.sender);
        return true;
    }

    /// @notice Move all of `lostWallet`'s tokens, freezes and identity to `newWallet`.
    function recoveryAddress(address lostWallet, address newWallet) external onlyAgent nonReentrant returns (bool) {
        uint256 balance = balanceOf(lostWallet);
        if (balance == 0 || newWallet == lostWallet) revert NothingToRecover(lostWallet);
        if (newWallet == address(0)) revert ZeroAddress();
        Identity memory id = _identities[lostWallet];
        if (id.verified) {
            _identities[newWallet] = id;
            delete _identities[lostWallet];
            emit IdentityRegistered(newWallet, id.country, msg.sender);
            emit IdentityRemoved(lostWallet, msg.sender);
        } else if (!isVerified(newWallet)) {
            revert ReceiverNotVerified(newWallet);
        }
        uint256 frozen = frozenTokens[lostWallet];
        bool wasFrozen = isFrozen[lostWallet];
        frozenTokens[lostWallet] = 0;
        _transfer(lostWallet, newWallet, balance);
        if (frozen > 0) {
            frozenTokens[newWallet] += frozen;
            emit TokensUnfrozen(lostWallet, frozen);
            emit TokensFrozen(newWallet, frozen);
        }
        if (wasFrozen) {
            isFrozen[lostWallet] = false;
            isFrozen[newWallet] = true;
            emit AddressFrozen(lostWallet, false, msg.sender);
            emit AddressFrozen(newWallet, true, msg.sender);
        }
        emit RecoverySuccess(lostWallet, newWallet, msg.sender);
        return true;
    }

    // -- holders --------------------------------------------------------------------------

    /// @notice Move `value` to `to` if compliance allows it (reverts with the reason otherwise).
    function transfer(address to, uint256 value) public override nonReentrant returns (bool) {
        _requireCompliant(msg.sender, to, value);
        return super.transfer(to, value);
    }

    /// @notice Move `value` from `from` to `to` with the caller's allowance, if compliance allows it.
    function transferFrom(address from, address to, uint256 value) public override nonReentrant returns (bool) {
        _requireCompliant(from, to, value);
        return super.transferFrom(from, to, value);
    }

    /// @notice The compliance check: whether `from` may send `amount` to `to` now, and if not why.
    function canTransfer(address from, address to, uint256 amount) public view returns (bool, Refusal) {
        Refusal refusal = _refusal(from, to, amount);
        return (refusal == Refusal.None, refusal);
    }

    // -- internals ------------------------------------------------------------------------

    function _refusal(address from, address to, uint256 amount) private view returns (Refusal) {
        if (paused) return Refusal.Paused;
        if (isFrozen[from]) return Refusal.FrozenSender;
        if (isFrozen[to]) return Refusal.FrozenReceiver;
        if (block.timestamp < lockupUntil) return Refusal.LockedUp;
        if (balanceOf(from) - frozenTokens[from] < amount) return Refusal.FrozenBalance;
        return _recipientRefusal(to, from == to ? 0 : amount);
    }

    /// @dev The rules on the receiving side, shared by transfers and mints.
    function _recipientRefusal(address to, uint256 amount) private view returns (Refusal) {
        if (!isVerified(to)) return Refusal.UnverifiedReceiver;
        if (countryRestricted && !countryAllowed[_identities[to].country]) return Refusal.CountryNotAllowed;
        uint256 balance = balanceOf(to);
        if (maxBalance != 0 && balance + amount > maxBalance) return Refusal.MaxBalanceExceeded;
        if (maxHolders != 0 && balance == 0 && amount > 0 && holderCount >= maxHolders) {
            return Refusal.MaxHoldersExceeded;
        }
        return Refusal.None;
    }

    function _requireCompliant(address from, address to, uint256 amount) private view {
        _revertFor(_refusal(from, to, amount), from, to, amount);
    }

    function _requireRecipient(address to, uint256 amount) private view {
        if (isFrozen[to]) revert ReceiverFrozen(to);
        _revertFor(_recipientRefusal(to, amount), address(0), to, amount);
    }

    function _revertFor(Refusal refusal, address from, address to, uint256 amount) private view {
        if (refusal == Refusal.None) return;
        if (refusal == Refusal.Paused) revert TokenPaused();
        if (refusal == Refusal.FrozenSender) revert SenderFrozen(from);
        if (refusal == Refusal.FrozenReceiver) revert ReceiverFrozen(to);
        if (refusal == Refusal.LockedUp) revert LockedUp(lockupUntil);
        if (refusal == Refusal.FrozenBalance) {
            revert InsufficientUnfrozenBalance(from, balanceOf(from) - frozenTokens[from], amount);
        }
        if (refusal == Refusal.UnverifiedReceiver) revert ReceiverNotVerified(to);
        if (refusal == Refusal.CountryNotAllowed) revert CountryNotAllowed(to, _identities[to].country);
        if (refusal == Refusal.MaxBalanceExceeded) revert MaxBalanceExceeded(to, balanceOf(to) + amount, maxBalance);
        revert MaxHoldersExceeded(maxHolders);
    }

    /// @dev T-REX: an agent's burn or forced transfer unfreezes what the free balance lacks.
    function _unfreezeFor(address holder, uint256 amount) private {
        uint256 free = balanceOf(holder) - frozenTokens[holder];
        if (amount > free) {
            uint256 needed = amount - free;
            uint256 frozen = frozenTokens[holder];
            uint256 release = needed > frozen ? frozen : needed;
            frozenTokens[holder] = frozen - release;
            emit TokensUnfrozen(holder, release);
        }
    }

    /// @dev A static call that tolerates a missing or odd contract (no code: not allowed).
    function _allowedByPermissions(address holder) private view returns (bool) {
        address registry = permissions;
        if (registry == address(0) || registry.code.length == 0) return false;
        (bool ok, bytes memory ret) = registry.staticcall(abi.encodeCall(IPermissions.isAllowed, (holder)));
        return ok && ret.length == 32 && abi.decode(ret, (uint256)) == 1;
    }

    /// @dev The holder count, kept on every balance change (T-REX's transferred/created/destroyed hooks).
    function _update(address from, address to, uint256 value) internal override {
        bool toWasEmpty = to != address(0) && balanceOf(to) == 0;
        super._update(from, to, value);
        if (toWasEmpty && value > 0 && from != to) ++holderCount;
        if (from != address(0) && from != to && value > 0 && balanceOf(from) == 0) --holderCount;
    }
}
