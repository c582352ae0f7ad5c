// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AssetToken} from "./AssetToken.sol";
import {EscrowVault} from "./EscrowVault.sol";
import {MilestoneVault} from "./MilestoneVault.sol";
import {RevenueShareVault} from "./RevenueShareVault.sol";
import {UsageRightsToken} from "./UsageRightsToken.sol";

/// @title RwaRegistry: what each issuer created through one factory
/// @notice Every factory records the contracts it creates, per issuer (the
///         caller), and emits `Created` with the new address. Listings are
///         paged (`createdBy(issuer, offset, limit)`, at most MAX_PAGE per call).
/// @dev One factory per family keeps each factory under the EIP-170 code-size
///      limit (a factory carries its product's creation code). The factories
///      have no constructor arguments or immutables, so their runtime code can
///      be placed in genesis at the fixed addresses of docs/tokenization.md.
abstract contract RwaRegistry {
    /// @notice The most entries one `createdBy` call returns.
    uint256 public constant MAX_PAGE = 100;

    mapping(address issuer => address[]) private _created;
    /// @notice Whether `asset` was created by this factory.
    mapping(address asset => bool) public isCreated;
    /// @notice Everything this factory created.
    uint256 public totalCreated;

    /// @notice `issuer` created `asset`, its `index`-th through this factory.
    event Created(address indexed issuer, address indexed asset, uint256 index);

    error PageTooLarge(uint256 limit, uint256 max);

    /// @notice How many contracts `issuer` created here.
    function createdCount(address issuer) external view returns (uint256) {
        return _created[issuer].length;
    }

    /// @notice Up to `limit` of `issuer`'s contracts from `offset`, oldest first.
    function createdBy(address issuer, uint256 offset, uint256 limit) external view returns (address[] memory page) {
        if (limit > MAX_PAGE) revert PageTooLarge(limit, MAX_PAGE);
        address[] storage all = _created[issuer];
        if (offset >= all.length) return new address[](0);
        uint256 end = limit > all.length - offset ? all.length : offset + limit;
        page = new address[](end - offset);
        for (uint256 i = offset; i < end; ++i) {
            page[i - offset] = all[i];
        }
    }

    function _record(address asset) internal returns (address) {
        isCreated[asset] = true;
        ++totalCreated;
        _created[msg.sender].push(asset);
        emit Created(msg.sender, asset, _created[msg.sender].length - 1);
        return asset;
    }
}

/// @title AssetTokenFactory (planned genesis address 0x…2000)
contract AssetTokenFactory is RwaRegistry {
    /// @notice Create an AssetToken owned by the caller (its owner and first agent).
    function createAssetToken(string calldata name, string calldata symbol) external returns (address) {
        return _record(address(new AssetToken(name, symbol, msg.sender)));
    }
}

/// @title UsageRightsFactory (planned genesis address 0x…2001)
contract UsageRightsFactory is RwaRegistry {
    /// @notice Create a UsageRightsToken issued by the caller.
    function createUsageRights() external returns (address) {
        return _record(address(new UsageRightsToken(msg.sender)));
    }
}

/// @title MilestoneVaultFactory (planned genesis address 0x…2002)
contract MilestoneVaultFactory is RwaRegistry {
    /// @notice Create a MilestoneVault over `asset` with the caller as issuer.
    function createMilestoneVault(
        address asset,
        string calldata name,
        string calldata symbol,
        uint64 depositDeadline,
        address[] calldata verifiers,
        uint8 quorum,
        MilestoneVault.Milestone[] calldata milestones
    ) external returns (address) {
        return _record(
            address(
                new MilestoneVault(asset, msg.sender, name, symbol, depositDeadline, verifiers, quorum, milestones)
            )
        );
    }
}

/// @title RevenueShareVaultFactory (planned genesis address 0x…2003)
contract RevenueShareVaultFactory is RwaRegistry {
    /// @notice Create a RevenueShareVault over `asset` paying native and `revenueToken` revenue.
    function createRevenueShareVault(address asset, address revenueToken, string calldata name, string calldata symbol)
        external
        returns (address)
    {
        return _record(address(new RevenueShareVault(asset, revenueToken, msg.sender, name, symbol)));
    }
}

/// @title EscrowVaultFactory (planned genesis address 0x…2004)
contract EscrowVaultFactory is RwaRegistry {
    /// @notice Create an EscrowVault with the caller as payer (it then calls `fund`).
    function createEscrow(address payee, address arbiter, address token, uint256 amount, uint64 timeout)
        external
        returns (address)
    {
        return _record(address(new EscrowVault(msg.sender, payee, arbiter, token, amount, timeout)));
    }
}
