// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Plume permissions system contract
/// @notice Lives at 0x0000000000000000000000000000000000001003. Like the staking
///         contract it is not EVM bytecode: the node runs it in Python as a
///         precompile, with its state in the EVM storage of its own address.
///         Three allowlists: 0 transact (who may send transactions), 1 deploy
///         (who may create contracts), 2 validator (who may call
///         createValidator). Each is on or off (genesis, then governance); while
///         a list is off everybody may. Roles per list and address, as Avalanche
///         Subnet-EVM's allowlists: 0 none, 1 enabled, 2 manager, 3 admin. An
///         admin sets any role on any account; a manager sets none or enabled
///         on accounts that are none or enabled; enabled and none set nothing.
/// @dev A failed call reverts with `Error(string)` and is charged gas. setRole
///      refuses a static call and a DELEGATECALL/CALLCODE. See
///      docs/compliance.md for the rules, gas and storage layout.
interface IPermissions {
    /// @notice `by` set `account`'s role on `list` to `role` (by is the governance
    ///         contract, 0x…1001, when a passed proposal set it).
    event RoleSet(uint8 indexed list, address indexed account, uint8 role, address by);
    /// @notice Governance switched `list` on or off.
    event ListSwitched(uint8 indexed list, bool on);

    /// @notice Set `account`'s role on `list` (reverts with a reason if the caller's role does not allow it).
    function setRole(uint8 list, address account, uint8 role) external;
    /// @notice `account`'s role on `list` (0 none, 1 enabled, 2 manager, 3 admin).
    function roleOf(uint8 list, address account) external view returns (uint8);
    /// @notice Whether `list` is on (enforced).
    function isEnabled(uint8 list) external view returns (bool);
    /// @notice Whether `account` is enabled (or manager, or admin) on the transact list, whether the
    ///         list is on or not: what an RWA token linked here takes as "verified".
    function isAllowed(address account) external view returns (bool);
}
