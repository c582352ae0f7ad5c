// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20, IERC20, ReentrancyGuard, TransferLib} from "./RwaBase.sol";

/// @title Vault4626: the ERC-4626 base of the Plume RWA vaults
/// @notice Shares are an ERC-20 over one ERC-20 `asset`. Every conversion
///         rounds in the vault's favour (EIP-4626: deposit and redeem round
///         shares/assets down, mint and withdraw round them up).
/// @dev The first-depositor inflation attack is defeated as in OpenZeppelin
///      Contracts 5.x ERC4626 (MIT): conversions count `10**DECIMALS_OFFSET`
///      virtual shares and 1 virtual asset, so a donation to an empty vault
///      is shared with the virtual shares and costs the attacker far more than
///      the rounding can take from the victim. A deposit that would mint zero
///      shares reverts (`ZeroShares`) instead of donating. The virtual shares'
///      part of donated assets stays in the vault for good (dust).
///      Arithmetic is plain checked 256-bit: a product above 2**256 reverts,
///      it is never wrong (assets and supply up to ~1e35 each are fine).
///      Deposits have no cap (maxDeposit and maxMint are unlimited while open),
///      so the only deposit refusals are a closed gate, zero, and ZeroShares.
///      Derived vaults gate deposits and withdrawals with `_checkDeposit` and
///      `_checkWithdraw` (which revert with their own errors) and keep the
///      max* views in step through `_depositOpen`/`_withdrawOpen`.
abstract contract Vault4626 is ERC20, ReentrancyGuard {
    /// @notice Shares carry this many more decimals than the asset (virtual offset).
    uint8 public constant DECIMALS_OFFSET = 6;

    address private immutable _asset;
    uint8 private immutable _assetDecimals;

    event Deposit(address indexed sender, address indexed owner, uint256 assets, uint256 shares);
    event Withdraw(
        address indexed sender, address indexed receiver, address indexed owner, uint256 assets, uint256 shares
    );

    /// @notice A withdrawal of `assets` from `owner` is above the `max` it may take.
    error ExceededMaxWithdraw(address owner, uint256 assets, uint256 max);
    /// @notice A redemption of `shares` from `owner` is above the `max` it holds.
    error ExceededMaxRedeem(address owner, uint256 shares, uint256 max);
    /// @notice The deposit would mint no shares (it would be a donation).
    error ZeroShares();
    /// @notice A zero amount of assets or shares.
    error ZeroAmount();

    constructor(address asset_, string memory name_, string memory symbol_) ERC20(name_, symbol_) {
        if (asset_ == address(0) || asset_.code.length == 0) revert ZeroAddress();
        _asset = asset_;
        _assetDecimals = _readDecimals(asset_);
    }

    // -- views ------------------------------------------------------------------------

    /// @notice The ERC-20 the vault holds.
    function asset() public view returns (address) {
        return _asset;
    }

    /// @notice The share decimals: the asset's plus DECIMALS_OFFSET.
    function decimals() public view override returns (uint8) {
        return _assetDecimals + DECIMALS_OFFSET;
    }

    /// @notice The assets the shares are backed by.
    function totalAssets() public view virtual returns (uint256) {
        return IERC20(_asset).balanceOf(address(this));
    }

    /// @notice The shares `assets` buy, rounded down.
    function convertToShares(uint256 assets) public view returns (uint256) {
        return _toShares(assets, false);
    }

    /// @notice The assets `shares` are worth, rounded down.
    function convertToAssets(uint256 shares) public view returns (uint256) {
        return _toAssets(shares, false);
    }

    /// @notice The most `receiver` may deposit now (0 while deposits are closed).
    function maxDeposit(address) public view returns (uint256) {
        return _depositOpen() ? type(uint256).max : 0;
    }

    /// @notice The most shares `receiver` may mint now.
    function maxMint(address) public view returns (uint256) {
        return _depositOpen() ? type(uint256).max : 0;
    }

    /// @notice The most assets `owner` may withdraw now.
    function maxWithdraw(address owner) public view returns (uint256) {
        return _withdrawOpen() ? _toAssets(balanceOf(owner), false) : 0;
    }

    /// @notice The most shares `owner` may redeem now.
    function maxRedeem(address owner) public view returns (uint256) {
        return _withdrawOpen() ? balanceOf(owner) : 0;
    }

    /// @notice The shares a deposit of `assets` mints (rounded down).
    function previewDeposit(uint256 assets) public view returns (uint256) {
        return _toShares(assets, false);
    }

    /// @notice The assets a mint of `shares` takes (rounded up).
    function previewMint(uint256 shares) public view returns (uint256) {
        return _toAssets(shares, true);
    }

    /// @notice The shares a withdrawal of `assets` burns (rounded up).
    function previewWithdraw(uint256 assets) public view returns (uint256) {
        return _toShares(assets, true);
    }

    /// @notice The assets a redemption of `shares` pays (rounded down).
    function previewRedeem(uint256 shares) public view returns (uint256) {
        return _toAssets(shares, false);
    }

    // -- actions ----------------------------------------------------------------------

    /// @notice Deposit `assets` of the caller's asset; mint shares to `receiver`.
    /// @return shares The shares minted.
    function deposit(uint256 assets, address receiver) external nonReentrant returns (uint256 shares) {
        _checkDeposit();
        if (assets == 0) revert ZeroAmount();
        shares = _toShares(assets, false);
        if (shares == 0) revert ZeroShares();
        _enter(receiver, assets, shares);
    }

    /// @notice Mint exactly `shares` to `receiver`, taking the assets they cost from the caller.
    /// @return assets The assets taken.
    function mint(uint256 shares, address receiver) external nonReentrant returns (uint256 assets) {
        _checkDeposit();
        if (shares == 0) revert ZeroAmount();
        assets = _toAssets(shares, true);
        _enter(receiver, assets, shares);
    }

    /// @notice Withdraw exactly `assets` to `receiver`, burning `owner`'s shares.
    /// @return shares The shares burnt.
    function withdraw(uint256 assets, address receiver, address owner)
        external
        nonReentrant
        returns (uint256 shares)
    {
        _checkWithdraw();
        if (assets == 0) revert ZeroAmount();
        uint256 max = maxWithdraw(owner);
        if (assets > max) revert ExceededMaxWithdraw(owner, assets, max);
        shares = _toShares(assets, true);
        _exit(receiver, owner, assets, shares);
    }

    /// @notice Redeem `shares` of `owner` and send what they are worth to `receiver`.
    /// @return assets The assets paid.
    function redeem(uint256 shares, address receiver, address owner)
        external
        nonReentrant
        returns (uint256 assets)
    {
        _checkWithdraw();
        if (shares == 0) revert ZeroAmount();
        uint256 max = maxRedeem(owner);
        if (shares > max) revert ExceededMaxRedeem(owner, shares, max);
        assets = _toAssets(shares, false);
        _exit(receiver, owner, assets, shares);
    }

    // -- internals --------------------------------------------------------------------

    /// @dev The assets arrive before the shares are minted, as OpenZeppelin
    ///      does (a token with hooks then sees the old share price); the
    ///      guard makes the order safe against re-entry.
    function _enter(address receiver, uint256 assets, uint256 shares) private {
        TransferLib.safeTransferFrom(_asset, msg.sender, address(this), assets);
        _mint(receiver, shares);
        emit Deposit(msg.sender, receiver, assets, shares);
    }

    function _exit(address receiver, address owner, uint256 assets, uint256 shares) private {
        if (receiver == address(0)) revert ZeroAddress();
        if (msg.sender != owner) _spendAllowance(owner, msg.sender, shares);
        _burn(owner, shares);
        emit Withdraw(msg.sender, receiver, owner, assets, shares);
        TransferLib.safeTransfer(_asset, receiver, assets);
    }

    function _toShares(uint256 assets, bool up) internal view returns (uint256) {
        return _mulDiv(assets, totalSupply() + 10 ** DECIMALS_OFFSET, totalAssets() + 1, up);
    }

    function _toAssets(uint256 shares, bool up) internal view returns (uint256) {
        return _mulDiv(shares, totalAssets() + 1, totalSupply() + 10 ** DECIMALS_OFFSET, up);
    }

    function _mulDiv(uint256 a, uint256 b, uint256 d, bool up) private pure returns (uint256) {
        uint256 product = a * b;
        uint256 q = product / d;
        return (up && product % d != 0) ? q + 1 : q;
    }

    function _readDecimals(address token) private view returns (uint8) {
        (bool ok, bytes memory ret) = token.staticcall(abi.encodeWithSignature("decimals()"));
        if (ok && ret.length == 32) {
            uint256 value = abi.decode(ret, (uint256));
            if (value <= 36) return uint8(value);
        }
        return 18;
    }

    /// @dev Deposits are open (the max* views); derived vaults narrow this.
    function _depositOpen() internal view virtual returns (bool) {
        return true;
    }

    /// @dev Withdrawals are open (the max* views); derived vaults narrow this.
    function _withdrawOpen() internal view virtual returns (bool) {
        return true;
    }

    /// @dev Reverts with the derived vault's reason when deposits are closed.
    function _checkDeposit() internal view virtual {}

    /// @dev Reverts with the derived vault's reason when withdrawals are closed.
    function _checkWithdraw() internal view virtual {}
}
