// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title RwaBase: the small shared pieces of the Plume RWA library
/// @notice A transient-storage reentrancy guard, token-transfer helpers that
///         check the return data, a minimal ERC-20 and an ERC-20 interface.
///         No external library: the logic follows OpenZeppelin Contracts 5.x
///         (ReentrancyGuardTransient, SafeERC20, ERC20 with its `_update`
///         hook; MIT licence), rewritten in a few lines.

/// @notice The ERC-20 functions the library calls on other tokens.
interface IERC20 {
    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    function totalSupply() external view returns (uint256);
    function balanceOf(address account) external view returns (uint256);
    function transfer(address to, uint256 value) external returns (bool);
    function allowance(address owner, address spender) external view returns (uint256);
    function approve(address spender, uint256 value) external returns (bool);
    function transferFrom(address from, address to, uint256 value) external returns (bool);
}

/// @notice Refuses re-entry into any function marked `nonReentrant`
///         (one flag in transient storage, EIP-1153: cleared after the transaction).
abstract contract ReentrancyGuard {
    bool private transient _entered;

    /// @notice A value-moving function was re-entered.
    error Reentrancy();

    modifier nonReentrant() {
        if (_entered) revert Reentrancy();
        _entered = true;
        _;
        _entered = false;
    }
}

/// @notice Moves ERC-20 tokens and native value, reverting on any failure.
library TransferLib {
    /// @notice The token call reverted, returned false, or the token has no code.
    error TokenTransferFailed(address token);
    /// @notice Sending native value to `to` failed.
    error NativeTransferFailed(address to, uint256 amount);

    function safeTransfer(address token, address to, uint256 amount) internal {
        _call(token, abi.encodeCall(IERC20.transfer, (to, amount)));
    }

    function safeTransferFrom(address token, address from, address to, uint256 amount) internal {
        _call(token, abi.encodeCall(IERC20.transferFrom, (from, to, amount)));
    }

    function sendValue(address to, uint256 amount) internal {
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert NativeTransferFailed(to, amount);
    }

    /// @dev SafeERC20's rule: success, and either no return data from a
    ///      contract (old tokens) or a return value that decodes to true.
    function _call(address token, bytes memory data) private {
        (bool ok, bytes memory ret) = token.call(data);
        bool good = ok && (ret.length == 0 ? token.code.length > 0 : (ret.length == 32 && abi.decode(ret, (bool))));
        if (!good) revert TokenTransferFailed(token);
    }
}

/// @notice A minimal ERC-20 whose every balance change goes through `_update`,
///         so derived contracts add their rules (compliance, revenue settlement)
///         in one place.
abstract contract ERC20 is IERC20 {
    mapping(address account => uint256) private _balances;
    mapping(address account => mapping(address spender => uint256)) private _allowances;
    uint256 private _totalSupply;
    string private _name;
    string private _symbol;

    /// @notice `account` has `balance`, less than the `needed` amount.
    error InsufficientBalance(address account, uint256 balance, uint256 needed);
    /// @notice `spender` may spend `allowance` of the owner's tokens, less than `needed`.
    error InsufficientAllowance(address spender, uint256 allowance, uint256 needed);
    /// @notice The zero address cannot send, receive or approve.
    error ZeroAddress();

    constructor(string memory name_, string memory symbol_) {
        _name = name_;
        _symbol = symbol_;
    }

    /// @notice The token's name.
    function name() external view returns (string memory) {
        return _name;
    }

    /// @notice The token's symbol.
    function symbol() external view returns (string memory) {
        return _symbol;
    }

    /// @notice The number of decimals of amounts.
    function decimals() public view virtual returns (uint8) {
        return 18;
    }

    /// @notice The tokens in existence.
    function totalSupply() public view returns (uint256) {
        return _totalSupply;
    }

    /// @notice The tokens `account` holds.
    function balanceOf(address account) public view returns (uint256) {
        return _balances[account];
    }

    /// @notice How many of `owner`'s tokens `spender` may move.
    function allowance(address owner, address spender) public view returns (uint256) {
        return _allowances[owner][spender];
    }

    /// @notice Move `value` tokens from the caller to `to`.
    function transfer(address to, uint256 value) public virtual returns (bool) {
        _transfer(msg.sender, to, value);
        return true;
    }

    /// @notice Let `spender` move up to `value` of the caller's tokens.
    function approve(address spender, uint256 value) public returns (bool) {
        if (spender == address(0)) revert ZeroAddress();
        _allowances[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    /// @notice Move `value` tokens from `from` to `to` using the caller's allowance.
    function transferFrom(address from, address to, uint256 value) public virtual returns (bool) {
        _spendAllowance(from, msg.sender, value);
        _transfer(from, to, value);
        return true;
    }

    function _transfer(address from, address to, uint256 value) internal {
        if (from == address(0) || to == address(0)) revert ZeroAddress();
        _update(from, to, value);
    }

    function _mint(address to, uint256 value) internal {
        if (to == address(0)) revert ZeroAddress();
        _update(address(0), to, value);
    }

    function _burn(address from, uint256 value) internal {
        if (from == address(0)) revert ZeroAddress();
        _update(from, address(0), value);
    }

    /// @dev Every balance change: a transfer, a mint (`from` zero) or a burn (`to` zero).
    function _update(address from, address to, uint256 value) internal virtual {
        if (from == address(0)) {
            _totalSupply += value;
        } else {
            uint256 balance = _balances[from];
            if (balance < value) revert InsufficientBalance(from, balance, value);
            unchecked {
                _balances[from] = balance - value;
            }
        }
        if (to == address(0)) {
            unchecked {
                _totalSupply -= value; // value <= balance <= totalSupply
            }
        } else {
            unchecked {
                _balances[to] += value; // balance <= totalSupply, which did not overflow
            }
        }
        emit Transfer(from, to, value);
    }

    function _spendAllowance(address owner, address spender, uint256 value) internal {
        uint256 allowed = _allowances[owner][spender];
        if (allowed == type(uint256).max) return; // an infinite approval stays infinite
        if (allowed < value) revert InsufficientAllowance(spender, allowed, value);
        unchecked {
            _allowances[owner][spender] = allowed - value;
        }
        emit Approval(owner, spender, allowed - value);
    }
}
