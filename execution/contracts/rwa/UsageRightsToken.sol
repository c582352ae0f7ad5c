// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ReentrancyGuard} from "./RwaBase.sol";

/// @notice The ERC-1155 receiver hooks a contract must answer to receive rights.
interface IERC1155Receiver {
    function onERC1155Received(address operator, address from, uint256 id, uint256 value, bytes calldata data)
        external
        returns (bytes4);
    function onERC1155BatchReceived(
        address operator,
        address from,
        uint256[] calldata ids,
        uint256[] calldata values,
        bytes calldata data
    ) external returns (bytes4);
}

/// @title UsageRightsToken: ERC-1155 rights to use an asset for a period
/// @notice Each id is a right to use the issuer's asset (compute time, a room)
///         from `start` to `end`, with an issuer-defined supply. Rights move
///         only before their period starts; from `start` they stay with their
///         holder, and `hasActiveRight` tells the asset's operator who may use
///         it now.
/// @dev A minimal ERC-1155 after OpenZeppelin Contracts 5.x (MIT): balances,
///      operator approvals, single and batch safe transfers with the receiver
///      acceptance checks, and the metadata URI per id.
contract UsageRightsToken is ReentrancyGuard {
    /// @dev One right: its period, supply cap, amount minted and metadata URI.
    struct Right {
        uint64 start;
        uint64 end;
        uint256 maxSupply;
        uint256 minted;
        string uri;
    }

    /// @notice Creates rights and mints them.
    address public immutable issuer;
    /// @notice The last id created (ids count from 1).
    uint256 public rightCount;

    mapping(uint256 id => Right) private _rights;
    mapping(uint256 id => mapping(address holder => uint256)) private _balances;
    mapping(address holder => mapping(address operator => bool)) private _approvals;

    event TransferSingle(address indexed operator, address indexed from, address indexed to, uint256 id, uint256 value);
    event TransferBatch(
        address indexed operator, address indexed from, address indexed to, uint256[] ids, uint256[] values
    );
    event ApprovalForAll(address indexed account, address indexed operator, bool approved);
    event URI(string value, uint256 indexed id);
    event RightCreated(uint256 indexed id, uint64 start, uint64 end, uint256 maxSupply);

    error NotIssuer(address caller);
    error InvalidPeriod(uint64 start, uint64 end);
    error ZeroSupply();
    error UnknownRight(uint256 id);
    error SupplyExceeded(uint256 id, uint256 requested, uint256 available);
    error RightExpired(uint256 id, uint64 end);
    /// @notice The right's period has begun: it can no longer be transferred.
    error PeriodStarted(uint256 id, uint64 start);
    error NotApproved(address operator, address holder);
    error InsufficientBalance(address holder, uint256 id, uint256 balance, uint256 needed);
    error LengthMismatch(uint256 ids, uint256 values);
    error ZeroAddress();
    error ReceiverRejected(address receiver);

    constructor(address issuer_) {
        if (issuer_ == address(0)) revert ZeroAddress();
        issuer = issuer_;
    }

    // -- issuer -------------------------------------------------------------------------

    /// @notice Create a right for the period [`start`, `end`) with at most `maxSupply` units.
    /// @return id The new right's id.
    function createRight(uint64 start, uint64 end, uint256 maxSupply, string calldata uri_)
        external
        returns (uint256 id)
    {
        if (msg.sender != issuer) revert NotIssuer(msg.sender);
        if (start >= end || end <= block.timestamp) revert InvalidPeriod(start, end);
        if (maxSupply == 0) revert ZeroSupply();
        id = ++rightCount;
        _rights[id] = Right(start, end, maxSupply, 0, uri_);
        emit RightCreated(id, start, end, maxSupply);
        emit URI(uri_, id);
    }

    /// @notice Issue `amount` units of right `id` to `to` (up to its supply, before its end).
    function mint(address to, uint256 id, uint256 amount, bytes calldata data) external nonReentrant {
        if (msg.sender != issuer) revert NotIssuer(msg.sender);
        if (to == address(0)) revert ZeroAddress();
        Right storage r = _existing(id);
        if (block.timestamp >= r.end) revert RightExpired(id, r.end);
        uint256 available = r.maxSupply - r.minted;
        if (amount > available) revert SupplyExceeded(id, amount, available);
        r.minted += amount;
        _balances[id][to] += amount;
        emit TransferSingle(msg.sender, address(0), to, id, amount);
        _checkReceiver(to, address(0), id, amount, data);
    }

    // -- ERC-1155 -------------------------------------------------------------------------

    /// @notice Units of right `id` that `holder` has.
    function balanceOf(address holder, uint256 id) public view returns (uint256) {
        return _balances[id][holder];
    }

    /// @notice `balanceOf` for each (holder, id) pair.
    function balanceOfBatch(address[] calldata holders, uint256[] calldata ids)
        external
        view
        returns (uint256[] memory balances)
    {
        if (holders.length != ids.length) revert LengthMismatch(ids.length, holders.length);
        balances = new uint256[](ids.length);
        for (uint256 i = 0; i < ids.length; ++i) {
            balances[i] = _balances[ids[i]][holders[i]];
        }
    }

    /// @notice Let `operator` move all of the caller's rights (or stop it).
    function setApprovalForAll(address operator, bool approved) external {
        if (operator == address(0)) revert ZeroAddress();
        _approvals[msg.sender][operator] = approved;
        emit ApprovalForAll(msg.sender, operator, approved);
    }

    /// @notice Whether `operator` may move `holder`'s rights.
    function isApprovedForAll(address holder, address operator) public view returns (bool) {
        return _approvals[holder][operator];
    }

    /// @notice Move `value` units of right `id` from `from` to `to` (before the period starts).
    function safeTransferFrom(address from, address to, uint256 id, uint256 value, bytes calldata data)
        external
        nonReentrant
    {
        _authorise(from, to);
        _move(from, to, id, value);
        emit TransferSingle(msg.sender, from, to, id, value);
        _checkReceiver(to, from, id, value, data);
    }

    /// @notice Move several rights at once (each before its period starts).
    function safeBatchTransferFrom(
        address from,
        address to,
        uint256[] calldata ids,
        uint256[] calldata values,
        bytes calldata data
    ) external nonReentrant {
        if (ids.length != values.length) revert LengthMismatch(ids.length, values.length);
        _authorise(from, to);
        for (uint256 i = 0; i < ids.length; ++i) {
            _move(from, to, ids[i], values[i]);
        }
        emit TransferBatch(msg.sender, from, to, ids, values);
        if (to.code.length == 0) return;
        try IERC1155Receiver(to).onERC1155BatchReceived(msg.sender, from, ids, values, data) returns (bytes4 answer) {
            if (answer != IERC1155Receiver.onERC1155BatchReceived.selector) revert ReceiverRejected(to);
        } catch {
            revert ReceiverRejected(to);
        }
    }

    /// @notice The metadata URI of right `id`.
    function uri(uint256 id) external view returns (string memory) {
        return _existing(id).uri;
    }

    /// @notice ERC-165: ERC-165 itself, ERC-1155 and its metadata URI extension.
    function supportsInterface(bytes4 interfaceId) external pure returns (bool) {
        return interfaceId == 0x01ffc9a7 || interfaceId == 0xd9b67a26 || interfaceId == 0x0e89341c;
    }

    // -- rights ---------------------------------------------------------------------------

    /// @notice Right `id`: its period, supply cap and the units minted.
    function right(uint256 id) external view returns (uint64 start, uint64 end, uint256 maxSupply, uint256 minted) {
        Right storage r = _existing(id);
        return (r.start, r.end, r.maxSupply, r.minted);
    }

    /// @notice Whether `holder` holds right `id` and its period is running now.
    function hasActiveRight(address holder, uint256 id) external view returns (bool) {
        Right storage r = _rights[id];
        return _balances[id][holder] > 0 && block.timestamp >= r.start && block.timestamp < r.end;
    }

    // -- internals ------------------------------------------------------------------------

    function _existing(uint256 id) private view returns (Right storage right_) {
        if (id == 0 || id > rightCount) revert UnknownRight(id);
        right_ = _rights[id];
    }

    function _authorise(address from, address to) private view {
        if (to == address(0) || from == address(0)) revert ZeroAddress();
        if (from != msg.sender && !_approvals[from][msg.sender]) revert NotApproved(msg.sender, from);
    }

    function _move(address from, address to, uint256 id, uint256 value) private {
        Right storage r = _existing(id);
        if (block.timestamp >= r.start) revert PeriodStarted(id, r.start);
        uint256 balance = _balances[id][from];
        if (balance < value) revert InsufficientBalance(from, id, balance, value);
        _balances[id][from] = balance - value;
        _balances[id][to] += value;
    }

    function _checkReceiver(address to, address from, uint256 id, uint256 value, bytes calldata data) private {
        if (to.code.length == 0) return;
        try IERC1155Receiver(to).onERC1155Received(msg.sender, from, id, value, data) returns (bytes4 answer) {
            if (answer != IERC1155Receiver.onERC1155Received.selector) revert ReceiverRejected(to);
        } catch {
            revert ReceiverRejected(to); // a contract without the hook, or one that refuses
        }
    }
}
