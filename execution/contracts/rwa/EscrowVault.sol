// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20, ReentrancyGuard, TransferLib} from "./RwaBase.sol";

/// @title EscrowVault: funds held for a payee until the payer releases, an arbiter decides, or time runs out
/// @notice The payer funds exactly `amount` (native, or the ERC-20 `token`).
///         Then: the payer releases to the payee; or the payee refunds the
///         payer; or either opens a dispute before `timeout`, which only the
///         arbiter closes (release, refund, or a split given as the payee's
///         part); or, with no dispute, anyone refunds the payer after `timeout`.
/// @dev Not an ERC-4626 vault: an escrow has one backer and no shares. It
///      pushes the funds out in the closing call; a party that cannot receive
///      (a contract refusing native value) blocks its own payment, so the
///      parties should be accounts that can receive the currency.
contract EscrowVault is ReentrancyGuard {
    enum State {
        AwaitingFunds,
        Funded,
        Disputed,
        Closed
    }

    /// @notice How the escrow closed (in `Closed` events).
    enum Outcome {
        Released,
        Refunded,
        Split,
        TimedOut
    }

    /// @notice Funds the escrow; may release to the payee.
    address public immutable payer;
    /// @notice Is paid on release; may refund the payer.
    address public immutable payee;
    /// @notice Alone resolves a dispute.
    address public immutable arbiter;
    /// @notice The ERC-20 held (zero: the native token).
    address public immutable token;
    /// @notice The amount held.
    uint256 public immutable amount;
    /// @notice After this unix time an undisputed escrow can be refunded to the payer.
    uint64 public immutable timeout;
    /// @notice Where the escrow is in its life.
    State public state;

    event EscrowFunded(address indexed payer, uint256 amount);
    event DisputeOpened(address indexed by);
    event Closed(Outcome indexed outcome, uint256 toPayee, uint256 toPayer, address indexed by);

    error InvalidConfiguration(string reason);
    error NotPayer(address caller);
    error NotPayee(address caller);
    error NotArbiter(address caller);
    error NotParty(address caller);
    error WrongState(State current);
    error WrongValue(uint256 sent, uint256 expected);
    error TimeoutNotReached(uint64 timeout);
    error TimeoutPassed(uint64 timeout);
    error SplitTooLarge(uint256 toPayee, uint256 amount);
    error AmountNotReceived(uint256 received, uint256 expected);

    constructor(address payer_, address payee_, address arbiter_, address token_, uint256 amount_, uint64 timeout_) {
        if (payer_ == address(0) || payee_ == address(0) || arbiter_ == address(0)) {
            revert InvalidConfiguration("zero party");
        }
        if (payer_ == payee_ || arbiter_ == payer_ || arbiter_ == payee_) revert InvalidConfiguration("parties");
        if (amount_ == 0) revert InvalidConfiguration("amount");
        if (timeout_ <= block.timestamp) revert InvalidConfiguration("timeout");
        if (token_ != address(0) && token_.code.length == 0) revert InvalidConfiguration("token");
        payer = payer_;
        payee = payee_;
        arbiter = arbiter_;
        token = token_;
        amount = amount_;
        timeout = timeout_;
    }

    /// @notice The payer deposits exactly `amount` (as value, or by allowance for a token).
    function fund() external payable nonReentrant {
        if (msg.sender != payer) revert NotPayer(msg.sender);
        _requireState(State.AwaitingFunds);
        state = State.Funded;
        if (token == address(0)) {
            if (msg.value != amount) revert WrongValue(msg.value, amount);
        } else {
            if (msg.value != 0) revert WrongValue(msg.value, 0);
            uint256 before = IERC20(token).balanceOf(address(this));
            TransferLib.safeTransferFrom(token, msg.sender, address(this), amount);
            uint256 received = IERC20(token).balanceOf(address(this)) - before;
            if (received != amount) revert AmountNotReceived(received, amount);
        }
        emit EscrowFunded(msg.sender, amount);
    }

    /// @notice The payer releases the funds to the payee (also during a dispute: it concedes).
    function release() external nonReentrant {
        if (msg.sender != payer) revert NotPayer(msg.sender);
        _requireOpen();
        _close(Outcome.Released, amount);
    }

    /// @notice The payee gives the funds back to the payer (also during a dispute).
    function refund() external nonReentrant {
        if (msg.sender != payee) revert NotPayee(msg.sender);
        _requireOpen();
        _close(Outcome.Refunded, 0);
    }

    /// @notice The payer or payee asks the arbiter to decide (before the timeout).
    function dispute() external {
        if (msg.sender != payer && msg.sender != payee) revert NotParty(msg.sender);
        _requireState(State.Funded);
        if (block.timestamp > timeout) revert TimeoutPassed(timeout);
        state = State.Disputed;
        emit DisputeOpened(msg.sender);
    }

    /// @notice The arbiter closes a dispute: `toPayee` to the payee, the rest to the payer.
    function resolve(uint256 toPayee) external nonReentrant {
        if (msg.sender != arbiter) revert NotArbiter(msg.sender);
        _requireState(State.Disputed);
        if (toPayee > amount) revert SplitTooLarge(toPayee, amount);
        Outcome outcome = toPayee == amount ? Outcome.Released : (toPayee == 0 ? Outcome.Refunded : Outcome.Split);
        _close(outcome, toPayee);
    }

    /// @notice After the timeout, with no dispute, anyone returns the funds to the payer.
    function claimTimeout() external nonReentrant {
        _requireState(State.Funded);
        if (block.timestamp <= timeout) revert TimeoutNotReached(timeout);
        _close(Outcome.TimedOut, 0);
    }

    function _requireState(State expected) private view {
        if (state != expected) revert WrongState(state);
    }

    function _requireOpen() private view {
        if (state != State.Funded && state != State.Disputed) revert WrongState(state);
    }

    function _close(Outcome outcome, uint256 toPayee) private {
        state = State.Closed;
        uint256 toPayer = amount - toPayee;
        emit Closed(outcome, toPayee, toPayer, msg.sender);
        if (toPayee > 0) _pay(payee, toPayee);
        if (toPayer > 0) _pay(payer, toPayer);
    }

    function _pay(address to, uint256 value) private {
        if (token == address(0)) {
            TransferLib.sendValue(to, value);
        } else {
            TransferLib.safeTransfer(token, to, value);
        }
    }
}
