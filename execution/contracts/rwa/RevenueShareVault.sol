// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20, TransferLib} from "./RwaBase.sol";
import {Vault4626} from "./Vault4626.sol";

/// @title RevenueShareVault: shares of a revenue stream (a GPU node, a solar array)
/// @notice Backers deposit the `asset` for ERC-4626 shares. Revenue arrives in
///         the native token (`distributeNative`) and, if the vault has one, in
///         the ERC-20 `revenueToken` (`distributeToken`); it is owed to the
///         share holders of that moment pro rata, through a cumulative
///         revenue-per-share index (no loop over holders). Every share balance
///         change (deposit, withdrawal, transfer) first settles what the
///         holders involved earned at their old balance, so accrued revenue
///         stays exact across transfers. Holders `claim` at any time.
/// @dev Exact to the wei: revenue is booked in scaled units (wei * INDEX_SCALE).
///      A distribution of `a` adds `(a * INDEX_SCALE + remainder) / supply` to
///      the index and keeps the new remainder; a holder accrues
///      `balance * (index - paid)` scaled units and a claim pays the whole wei
///      of them, keeping the fraction. So for each stream, at every moment,
///      sum(claimed) * INDEX_SCALE + sum(accrued scaled) + remainder
///      == distributed * INDEX_SCALE. The wei not yet claimable (dust) is at
///      most one per holder plus `supply / INDEX_SCALE`, and it is never lost:
///      it becomes claimable as later distributions add to the fractions.
contract RevenueShareVault is Vault4626 {
    /// @notice Revenue is booked in units of 1/INDEX_SCALE wei.
    uint256 public constant INDEX_SCALE = 1e30;
    uint8 private constant NATIVE = 0;
    uint8 private constant TOKEN = 1;

    /// @dev One revenue currency's books.
    struct Stream {
        uint256 index; // cumulative scaled revenue per share
        uint256 remainder; // scaled revenue not yet in the index (< supply)
        uint256 distributed; // wei ever distributed
        uint256 claimed; // wei ever claimed
    }

    /// @notice The ERC-20 revenue currency besides native (zero: native only).
    address public immutable revenueToken;
    /// @notice Who created the vault (informational; it has no powers).
    address public immutable issuer;

    Stream[2] private _streams;
    mapping(address holder => uint256[2]) private _paidIndex;
    mapping(address holder => uint256[2]) private _accrued; // scaled units

    /// @notice `amount` wei of revenue (stream 0 native, 1 token) for the current holders.
    event RevenueDistributed(address indexed from, uint8 indexed stream, uint256 amount, uint256 index);
    /// @notice `holder` was paid its claimable revenue.
    event RevenueClaimed(address indexed holder, uint256 nativeAmount, uint256 tokenAmount);

    /// @notice Revenue cannot be distributed while no share exists.
    error NoShares();
    /// @notice The caller has no whole wei of revenue to claim.
    error NothingToClaim();
    /// @notice The revenue token cannot be the vault's asset (it would count as backing).
    error RevenueTokenIsAsset();
    /// @notice The vault has no ERC-20 revenue token.
    error NoRevenueToken();

    constructor(address asset_, address revenueToken_, address issuer_, string memory name_, string memory symbol_)
        Vault4626(asset_, name_, symbol_)
    {
        if (revenueToken_ == asset_) revert RevenueTokenIsAsset();
        if (revenueToken_ != address(0) && revenueToken_.code.length == 0) revert ZeroAddress();
        revenueToken = revenueToken_;
        issuer = issuer_;
    }

    /// @notice Distribute `msg.value` wei to the current share holders.
    function distributeNative() external payable nonReentrant {
        _credit(NATIVE, msg.value);
    }

    /// @notice Take `amount` of the revenue token from the caller and distribute what arrives.
    function distributeToken(uint256 amount) external nonReentrant {
        address token = revenueToken;
        if (token == address(0)) revert NoRevenueToken();
        if (totalSupply() == 0) revert NoShares();
        uint256 before = IERC20(token).balanceOf(address(this));
        TransferLib.safeTransferFrom(token, msg.sender, address(this), amount);
        _credit(TOKEN, IERC20(token).balanceOf(address(this)) - before);
    }

    /// @notice Pay the caller every whole wei of revenue it has accrued, in both currencies.
    /// @return nativeAmount The native wei paid.
    /// @return tokenAmount The revenue-token amount paid.
    function claim() external nonReentrant returns (uint256 nativeAmount, uint256 tokenAmount) {
        _settle(msg.sender);
        nativeAmount = _takeWhole(msg.sender, NATIVE);
        tokenAmount = _takeWhole(msg.sender, TOKEN);
        if (nativeAmount == 0 && tokenAmount == 0) revert NothingToClaim();
        emit RevenueClaimed(msg.sender, nativeAmount, tokenAmount);
        if (nativeAmount > 0) TransferLib.sendValue(msg.sender, nativeAmount);
        if (tokenAmount > 0) TransferLib.safeTransfer(revenueToken, msg.sender, tokenAmount);
    }

    /// @notice The whole wei `holder` could claim now (native, revenue token).
    function claimable(address holder) external view returns (uint256 nativeAmount, uint256 tokenAmount) {
        nativeAmount = accruedScaled(holder, NATIVE) / INDEX_SCALE;
        tokenAmount = accruedScaled(holder, TOKEN) / INDEX_SCALE;
    }

    /// @notice `holder`'s unclaimed revenue of `stream` (0 native, 1 token) in units of 1/INDEX_SCALE wei.
    function accruedScaled(address holder, uint8 stream) public view returns (uint256) {
        return _accrued[holder][stream] + balanceOf(holder) * (_streams[stream].index - _paidIndex[holder][stream]);
    }

    /// @notice The books of `stream` (0 native, 1 token).
    function streamInfo(uint8 stream)
        external
        view
        returns (uint256 index, uint256 remainder, uint256 distributed, uint256 claimed)
    {
        Stream storage s = _streams[stream];
        return (s.index, s.remainder, s.distributed, s.claimed);
    }

    function _credit(uint8 stream, uint256 amount) private {
        uint256 supply = totalSupply();
        if (supply == 0) revert NoShares();
        if (amount == 0) revert ZeroAmount();
        Stream storage s = _streams[stream];
        uint256 scaled = amount * INDEX_SCALE + s.remainder;
        s.index += scaled / supply;
        s.remainder = scaled % supply;
        s.distributed += amount;
        emit RevenueDistributed(msg.sender, stream, amount, s.index);
    }

    function _takeWhole(address holder, uint8 stream) private returns (uint256 amount) {
        uint256 scaled = _accrued[holder][stream];
        amount = scaled / INDEX_SCALE;
        if (amount > 0) {
            _accrued[holder][stream] = scaled % INDEX_SCALE;
            _streams[stream].claimed += amount;
        }
    }

    /// @dev Books what `holder` earned at its current balance, for both streams.
    function _settle(address holder) private {
        uint256 balance = balanceOf(holder);
        for (uint8 stream = 0; stream < 2; ++stream) {
            uint256 index = _streams[stream].index;
            uint256 paid = _paidIndex[holder][stream];
            if (index != paid) {
                _accrued[holder][stream] += balance * (index - paid);
                _paidIndex[holder][stream] = index;
            }
        }
    }

    /// @dev Settle both sides at their old balances before any share balance changes.
    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0)) _settle(from);
        if (to != address(0) && to != from) _settle(to);
        super._update(from, to, value);
    }
}
