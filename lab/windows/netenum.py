""".NET enums as Windows PowerShell 5.1 casts and prints them.

- `EnumType.parse(text)` is PowerShell's string-to-enum conversion (`[FileSystemRights]'Read, Write'`,
  LanguagePrimitives / EnumSingleTypeConverter): a leading digit, `+` or `-` means a number; otherwise the text is
  split on `,` (flags enums only), each entry trimmed and matched case-insensitively against the member names
  (`*`, `?` and `[...]` wildcards allowed). An entry that matches nothing fails with PowerShell's message
  (`Cannot convert value "R" to type "...". Error: "Unable to match the identifier name R to a valid enumerator
  name. Specify one of the following enumerator names and try again:` + CRLF + the names), so icacls
  abbreviations (`R`, `RX`, `F`) and `;` separators are rejected as on Windows.
- `EnumType.format(value)` is `Enum.ToString()`: for a [Flags] enum the largest members that fit are taken from
  the top down and printed in ascending order (`Write, ReadAndExecute, Synchronize`); bits no member covers make
  the whole value print as a number (`268435456`, `-536805376`).

Members that share a value (FileSystemRights.ReadData / ListDirectory, ...) print with the name .NET Framework
picks: ReadData, CreateFiles, AppendData, ExecuteFile (as `Get-Acl` shows them on Windows).
"""

from __future__ import annotations

from lab.windows import wildcard


class CastError(ValueError):
    """PSInvalidCastException: the text PowerShell prints for a failed conversion."""


def int32(value: int) -> int:
    """A 32-bit pattern as the signed Int32 .NET enums are based on."""
    value &= 0xFFFFFFFF
    return value - 0x100000000 if value & 0x80000000 else value


class EnumType:
    def __init__(
        self,
        full_name: str,
        members: list[tuple[str, int]],
        *,
        flags: bool,
        display: dict[int, str] | None = None,
    ) -> None:
        self.full_name = full_name
        self.name = full_name.rsplit(".", 1)[-1]
        self.members = members  # in Enum.GetNames order
        self.flags = flags
        by_value: dict[int, str] = {}
        for name, value in members:
            by_value.setdefault(value, name)
        by_value.update(display or {})
        self._display = by_value

    # -- conversion ---------------------------------------------------------------------------------
    def _not_found(self, entry: str) -> CastError:
        names = ", ".join(name for name, _ in self.members)
        return CastError(
            f'Cannot convert value "{entry}" to type "{self.full_name}". Error: "Unable to match the identifier '
            f"name {entry} to a valid enumerator name. Specify one of the following enumerator names and try "
            f'again:\r\n{names}"'
        )

    def parse(self, text: str) -> int:
        source = str(text)
        stripped = source.strip()
        if not stripped:
            raise CastError(f'Cannot convert value "{source}" to type "{self.full_name}". Error: "Invalid cast."')
        if stripped[0].isdigit() or stripped[0] in "+-":
            try:
                number = int(stripped)  # Convert.ChangeType(text, Int32): decimal only
            except ValueError:
                number = None  # PowerShell then tries the names
            if number is not None and -(2**31) <= number < 2**31:
                return number
        if not self.flags and "," in stripped:
            raise CastError(
                f'Cannot convert value "{source}" to type "{self.full_name}" because enumerations that are not '
                "flags cannot be combined with a comma."
            )
        entries = stripped.split(",") if self.flags else [stripped]
        total = 0
        for raw in entries:
            entry = raw.strip()
            pattern = wildcard.has_wildcards(entry)
            if pattern and "[" in entry and "]" not in entry[entry.index("[") :]:
                raise self._not_found(entry)  # WildcardPattern rejects it: no name can match
            found = False
            for name, value in self.members:
                hit = wildcard.matches(name, entry) if pattern else name.lower() == entry.lower()
                if hit:
                    found = True
                    total |= value
            if not found:
                raise self._not_found(entry)
        return int32(total)

    def convert(self, value: object) -> int:
        """A cast from an int, a string or another value of this enum."""
        if isinstance(value, bool):
            raise CastError(f'Cannot convert value "{value}" to type "{self.full_name}".')
        if isinstance(value, int):
            return int32(value)
        return self.parse(str(value))

    # -- display --------------------------------------------------------------------------------------
    def name_of(self, value: int) -> str | None:
        return self._display.get(value)

    def format(self, value: int) -> str:
        value = int32(value)
        if not self.flags:
            return self._display.get(value, str(value))
        if value == 0:
            return self._display.get(0, "0")
        remaining = value & 0xFFFFFFFF
        picked: list[str] = []
        for member in sorted({v & 0xFFFFFFFF for _, v in self.members if v}, reverse=True):
            if remaining & member == member:
                remaining -= member
                picked.insert(0, self._display[int32(member)])
        return str(value) if remaining else ", ".join(picked)


FILE_SYSTEM_RIGHTS = EnumType(
    "System.Security.AccessControl.FileSystemRights",
    [
        ("ReadData", 1),
        ("ListDirectory", 1),
        ("WriteData", 2),
        ("CreateFiles", 2),
        ("AppendData", 4),
        ("CreateDirectories", 4),
        ("ReadExtendedAttributes", 8),
        ("WriteExtendedAttributes", 16),
        ("ExecuteFile", 32),
        ("Traverse", 32),
        ("DeleteSubdirectoriesAndFiles", 64),
        ("ReadAttributes", 128),
        ("WriteAttributes", 256),
        ("Write", 278),
        ("Delete", 65536),
        ("ReadPermissions", 131072),
        ("Read", 131209),
        ("ReadAndExecute", 131241),
        ("Modify", 197055),
        ("ChangePermissions", 262144),
        ("TakeOwnership", 524288),
        ("Synchronize", 1048576),
        ("FullControl", 2032127),
    ],
    flags=True,
    display={1: "ReadData", 2: "CreateFiles", 4: "AppendData", 32: "ExecuteFile"},
)
INHERITANCE_FLAGS = EnumType(
    "System.Security.AccessControl.InheritanceFlags",
    [("None", 0), ("ContainerInherit", 1), ("ObjectInherit", 2)],
    flags=True,
)
PROPAGATION_FLAGS = EnumType(
    "System.Security.AccessControl.PropagationFlags",
    [("None", 0), ("NoPropagateInherit", 1), ("InheritOnly", 2)],
    flags=True,
)
ACCESS_CONTROL_TYPE = EnumType(
    "System.Security.AccessControl.AccessControlType", [("Allow", 0), ("Deny", 1)], flags=False
)
ACCESS_CONTROL_SECTIONS = EnumType(
    "System.Security.AccessControl.AccessControlSections",
    [("None", 0), ("Audit", 1), ("Access", 2), ("Owner", 4), ("Group", 8), ("All", 15)],
    flags=True,
)
# WellKnownSidType members the lab can map to a SID (lab.windows.accounts); the others are not simulated.
WELL_KNOWN_SID_TYPE = EnumType(
    "System.Security.Principal.WellKnownSidType",
    [
        ("NullSid", 0),
        ("WorldSid", 1),
        ("LocalSid", 2),
        ("CreatorOwnerSid", 3),
        ("CreatorGroupSid", 4),
        ("NetworkSid", 9),
        ("BatchSid", 10),
        ("InteractiveSid", 11),
        ("ServiceSid", 12),
        ("AnonymousSid", 13),
        ("SelfSid", 16),
        ("AuthenticatedUserSid", 17),
        ("LocalSystemSid", 22),
        ("LocalServiceSid", 23),
        ("NetworkServiceSid", 24),
        ("BuiltinDomainSid", 25),
        ("BuiltinAdministratorsSid", 26),
        ("BuiltinUsersSid", 27),
        ("BuiltinGuestsSid", 28),
        ("BuiltinPowerUsersSid", 29),
        ("BuiltinBackupOperatorsSid", 33),
    ],
    flags=False,
)
WELL_KNOWN_SIDS = {
    0: "S-1-0-0",
    1: "S-1-1-0",
    2: "S-1-2-0",
    3: "S-1-3-0",
    4: "S-1-3-1",
    9: "S-1-5-2",
    10: "S-1-5-3",
    11: "S-1-5-4",
    12: "S-1-5-6",
    13: "S-1-5-7",
    16: "S-1-5-10",
    17: "S-1-5-11",
    22: "S-1-5-18",
    23: "S-1-5-19",
    24: "S-1-5-20",
    25: "S-1-5-32",
    26: "S-1-5-32-544",
    27: "S-1-5-32-545",
    28: "S-1-5-32-546",
    29: "S-1-5-32-547",
    33: "S-1-5-32-551",
}
ACTION_PREFERENCE = EnumType(
    "System.Management.Automation.ActionPreference",
    [
        ("SilentlyContinue", 0),
        ("Stop", 1),
        ("Continue", 2),
        ("Inquire", 3),
        ("Ignore", 4),
        ("Suspend", 5),
    ],
    flags=False,
)
# Enum-typed properties of simulated cmdlet output (README "Enum values").
SERVICE_CONTROLLER_STATUS = EnumType(
    "System.ServiceProcess.ServiceControllerStatus",
    [("Stopped", 1), ("StartPending", 2), ("StopPending", 3), ("Running", 4), ("ContinuePending", 5),
     ("PausePending", 6), ("Paused", 7)],
    flags=False,
)  # fmt: skip
SERVICE_START_MODE = EnumType(
    "System.ServiceProcess.ServiceStartMode",
    [("Boot", 0), ("System", 1), ("Automatic", 2), ("Manual", 3), ("Disabled", 4)],
    flags=False,
)
# Microsoft.BitLocker.Structures (BitLocker.psm1); VolumeStatus numbers are Win32_EncryptableVolume
# GetConversionStatus's. The wipe states of BitLockerVolumeStatus are not simulated (their numbers were not confirmed).
BITLOCKER_VOLUME_STATUS = EnumType(
    "Microsoft.BitLocker.Structures.BitLockerVolumeStatus",
    [("FullyDecrypted", 0), ("FullyEncrypted", 1), ("EncryptionInProgress", 2), ("DecryptionInProgress", 3),
     ("EncryptionPaused", 4), ("DecryptionPaused", 5)],
    flags=False,
)  # fmt: skip
BITLOCKER_PROTECTION_STATUS = EnumType(
    "Microsoft.BitLocker.Structures.BitLockerVolumeProtectionStatus",
    [("Off", 0), ("On", 1), ("Unknown", 2)],
    flags=False,
)
BITLOCKER_LOCK_STATUS = EnumType(
    "Microsoft.BitLocker.Structures.BitLockerVolumeLockStatus", [("Unlocked", 0), ("Locked", 1)], flags=False
)
