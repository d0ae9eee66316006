"""PowerShell providers and drives: how a path like `C:\\x`, `HKLM:\\SOFTWARE\\x` or `Cert:\\LocalMachine\\My`
reaches the simulated state, and the item objects Get-Item / Get-ChildItem return.

A path is resolved to (provider, provider path). Drives: `C:` (FileSystem), `HKLM:` / `HKCU:` (Registry), plus
those New-PSDrive adds; `Cert:` belongs to the Certificate provider, which is not registered (NotSimulated) until
someone adds it. Adding a provider is one subclass registered with `@provider`: implement the operations it
supports (`exists`, `item`, `children`, ...); the others stay NotSimulated. Network (UNC) paths are not simulated.
"""

from __future__ import annotations

import dataclasses
import ntpath
import re
from typing import Any

from lab.windows import environment, filestore, regstore, transfer
from lab.windows.powershell import types as pstypes
from lab.windows.powershell.errors import NotSimulated, PSError
from lab.windows.powershell.security import FileSystemSecurityObject
from lab.windows.powershell.values import CmdletObject, DotNetObject, to_string

PROVIDERS: dict[str, Provider] = {}
DEFAULT_DRIVES = {
    "c": ("FileSystem", "C:\\"),
    "hklm": ("Registry", "HKEY_LOCAL_MACHINE"),
    "hkcu": ("Registry", "HKEY_CURRENT_USER"),
    "cert": ("Certificate", "\\"),
    "env": ("Environment", ""),
    "function": ("Function", ""),
    "variable": ("Variable", ""),
    "alias": ("Alias", ""),
    "wsman": ("WSMan", ""),
}
PROVIDER_PREFIX = re.compile(r"^(?:Microsoft\.PowerShell\.Core\\|Microsoft\.PowerShell\.Security\\)?(\w+)::(.*)$", re.I)


def provider(cls: type[Provider]) -> type[Provider]:
    PROVIDERS[cls.name.lower()] = cls()
    return cls


def item_not_found(path: str) -> PSError:
    return PSError(
        f"Cannot find path '{path}' because it does not exist.",
        exception_type="System.Management.Automation.ItemNotFoundException",
        category="ObjectNotFound", error_id="PathNotFound", target=path,
    )


@dataclasses.dataclass
class Resolved:
    provider: Provider
    path: str  # the provider's own form (C:\x, HKLM:\SOFTWARE\x)
    drive: str

    @property
    def ps_path(self) -> str:
        return f"{self.provider.module}\\{self.provider.name}::{self.provider.native_path(self.path)}"


class Provider:
    """Base: every operation is NotSimulated until a provider implements it."""

    name = ""
    module = "Microsoft.PowerShell.Core"  # the snap-in named in its PSPath

    def _not(self, operation: str, path: str) -> NotSimulated:
        return NotSimulated(f"{operation} on {self.name} paths ({path})")

    def join(self, root: str, rest: str) -> str:
        return root.rstrip("\\") + "\\" + rest.lstrip("\\") if rest else root

    def native_path(self, path: str) -> str:
        return path

    def from_native(self, path: str) -> str:
        """The provider path of `Provider::<native path>`."""
        return self.join("\\", path)

    def exists(self, ctx: Any, path: str) -> bool:
        raise self._not("Test-Path", path)

    def is_container(self, ctx: Any, path: str) -> bool:
        raise self._not("item type", path)

    def item(self, ctx: Any, path: str) -> Any:
        raise self._not("Get-Item", path)

    def children(self, ctx: Any, path: str) -> list[str]:
        raise self._not("Get-ChildItem", path)

    def new_item(self, ctx: Any, path: str, item_type: str, value: Any, force: bool) -> Any:
        raise self._not("New-Item", path)

    def remove(self, ctx: Any, path: str, recurse: bool) -> None:
        raise self._not("Remove-Item", path)

    def get_acl(self, ctx: Any, path: str) -> Any:
        raise self._not("Get-Acl (ACLs)", path)

    def set_acl(self, ctx: Any, path: str, acl: Any) -> None:
        raise self._not("Set-Acl (ACLs)", path)

    def get_content(self, ctx: Any, path: str) -> str:
        raise self._not("Get-Content", path)

    def set_content(self, ctx: Any, path: str, text: str, append: bool) -> None:
        raise self._not("Set-Content", path)


def drive_table(ctx: Any) -> dict[str, tuple[str, str]]:
    return {**DEFAULT_DRIVES, **ctx.drives}


def resolve(ctx: Any, raw: str) -> Resolved:
    text = to_string(raw)
    prefixed = PROVIDER_PREFIX.match(text)
    if prefixed:
        name, rest = prefixed.group(1), prefixed.group(2)
        chosen = PROVIDERS.get(name.lower())
        if chosen is None:
            raise NotSimulated(f"the {name} provider ({text})")
        if chosen.name == "FileSystem":
            return resolve(ctx, rest)
        path = chosen.from_native(rest)
        return Resolved(chosen, path, path.split(":")[0] if chosen.name == "Registry" else "")
    if text.startswith("\\\\") or text.startswith("//"):
        local = filestore.local_share(text)
        if local is None:
            raise NotSimulated(f"network (UNC) paths other than this host's administrative shares ({text})")
        text = local
    match = re.match(r"^([A-Za-z][A-Za-z0-9_]*):(.*)$", text, re.S)
    if match:
        drive, rest = match.group(1), match.group(2)
        info = drive_table(ctx).get(drive.lower())
        if info is None:
            raise PSError(
                f"Cannot find drive. A drive with the name '{drive}' does not exist.",
                exception_type="System.Management.Automation.DriveNotFoundException",
                category="ObjectNotFound", error_id="DriveNotFound", target=drive,
            )
        chosen = PROVIDERS.get(info[0].lower())
        if chosen is None:
            raise NotSimulated(f"the {info[0]} provider ({drive}: drive, {text})")
        if chosen.name == "FileSystem" and rest == "" and ctx.location.lower().startswith(drive.lower() + ":"):
            return Resolved(chosen, ctx.location, drive)
        return Resolved(chosen, chosen.join(info[1] if chosen.name != "FileSystem" else drive + ":\\", rest), drive)
    base = resolve(ctx, ctx.location)
    if text.startswith("\\"):
        root = base.path.split("\\", 1)[0] + "\\"
        return Resolved(base.provider, base.provider.join(root, text), base.drive)
    combined = base.path
    for part in re.split(r"[\\/]", text):
        if part in ("", "."):
            continue
        if part == "..":
            combined = ntpath.dirname(combined.rstrip("\\")) or combined
            continue
        combined = base.provider.join(combined, part)
    return Resolved(base.provider, combined, base.drive)


# -- objects -------------------------------------------------------------------------------------------------------


class ProviderInfo(DotNetObject):
    TYPE = "System.Management.Automation.ProviderInfo"
    DISPLAY = ("Name",)

    def __init__(self, name: str, module: str = "Microsoft.PowerShell.Core") -> None:
        self.name, self.module = name, module

    def p_name(self) -> str:
        return self.name

    def to_string(self) -> str:
        return f"{self.module}\\{self.name}"


class PSDriveInfo(DotNetObject):
    TYPE = "System.Management.Automation.PSDriveInfo"
    DISPLAY = ("Name", "Provider", "Root", "CurrentLocation")

    def __init__(self, name: str, provider_name: str, root: str) -> None:
        self.name, self.provider_name, self.root = name, provider_name, root

    def p_name(self) -> str:
        return self.name

    def p_provider(self) -> ProviderInfo:
        return ProviderInfo(self.provider_name)

    def p_root(self) -> str:
        return self.root

    def p_currentlocation(self) -> str:
        return ""

    def to_string(self) -> str:
        return self.name


class PathInfo(DotNetObject):
    TYPE = "System.Management.Automation.PathInfo"
    DISPLAY = ("Path",)

    def __init__(self, path: str) -> None:
        self.path = path

    def p_path(self) -> str:
        return self.path

    def p_providerpath(self) -> str:
        return self.path

    def to_string(self) -> str:
        return self.path


class FileVersionInfo(DotNetObject):
    TYPE = "System.Diagnostics.FileVersionInfo"
    DISPLAY = ("ProductVersion", "FileVersion", "FileName")

    def __init__(self, path: str, entry: dict[str, Any]) -> None:
        self.path, self.entry = path, entry

    def p_fileversion(self) -> str | None:
        return self.entry.get("version")

    def p_productversion(self) -> str | None:
        return self.entry.get("product_version") or self.entry.get("version")

    def p_filename(self) -> str:
        return self.path

    def to_string(self) -> str:
        return f"File:             {self.path}"


class FileSystemItem(DotNetObject):
    """A DirectoryInfo / FileInfo (with the PS* properties the FileSystem provider adds)."""

    def __init__(self, ctx: Any, path: str, entry: dict[str, Any]) -> None:
        self.ctx, self.path, self.entry = ctx, path, entry
        self.container = entry.get("type") == "directory"

    @property
    def type_name(self) -> str:
        return "System.IO.DirectoryInfo" if self.container else "System.IO.FileInfo"

    def properties(self) -> list[tuple[str, Any]]:
        names = ("Mode", "Name", "FullName") if self.container else ("Mode", "Length", "Name", "FullName")
        return [(name, self.get(name)[1]) for name in names]

    def p_name(self) -> str:
        return ntpath.basename(self.path.rstrip("\\")) or self.path

    def p_fullname(self) -> str:
        return self.path

    def p_pspath(self) -> str:
        return f"Microsoft.PowerShell.Core\\FileSystem::{self.path}"

    def p_psparentpath(self) -> str:
        parent = filestore.parent(self.path)
        return f"Microsoft.PowerShell.Core\\FileSystem::{parent}" if parent else ""

    def p_pschildname(self) -> str:
        return self.p_name()

    def p_psprovider(self) -> ProviderInfo:
        return ProviderInfo("FileSystem")

    def p_psiscontainer(self) -> bool:
        return self.container

    def p_exists(self) -> bool:
        return filestore.exists(self.ctx.state, self.path)

    def p_mode(self) -> str:
        return "d-----" if self.container else "-a----"

    def p_attributes(self) -> str:
        return "Directory" if self.container else "Archive"

    def p_length(self) -> int | None:
        return None if self.container else int(self.entry.get("size", 0))  # DirectoryInfo has no Length

    def p_extension(self) -> str:
        return ntpath.splitext(self.path)[1]

    def p_basename(self) -> str:
        return ntpath.splitext(self.p_name())[0] if not self.container else self.p_name()

    def p_versioninfo(self) -> FileVersionInfo | None:
        return None if self.container else FileVersionInfo(self.path, self.entry)

    def m_getaccesscontrol(self, args: list[Any]) -> FileSystemSecurityObject:
        if args:
            raise NotSimulated("GetAccessControl(sections)")
        return FileSystemSecurityObject(self.ctx, filestore.security(self.ctx.state, self.path), self.path)

    def m_setaccesscontrol(self, args: list[Any]) -> None:
        if not isinstance(args[0], FileSystemSecurityObject):
            raise NotSimulated(f"SetAccessControl with {type(args[0]).__name__}")
        filestore.write_security(self.ctx.state, self.path, args[0].sd)

    def to_string(self) -> str:
        return self.path


class RegistryKeyItem(DotNetObject):
    TYPE = "Microsoft.Win32.RegistryKey"
    DISPLAY = ("Name", "Property")

    def __init__(self, ctx: Any, path: str) -> None:
        self.ctx, self.path = ctx, regstore.normalize(path)

    def p_name(self) -> str:
        hive, _, rest = self.path.partition(":\\")
        long_names = {v: k for k, v in regstore.HIVES.items()}
        return f"{long_names.get(hive, hive)}\\{rest}" if rest else long_names.get(hive.rstrip(":"), hive)

    def p_pspath(self) -> str:
        return f"Microsoft.PowerShell.Core\\Registry::{self.p_name()}"

    def p_pschildname(self) -> str:
        return self.path.rsplit("\\", 1)[-1]

    def p_psprovider(self) -> ProviderInfo:
        return ProviderInfo("Registry")

    def p_psiscontainer(self) -> bool:
        return True

    def p_property(self) -> list[str]:
        return list(regstore.values(self.ctx.state, self.path))

    def p_valuecount(self) -> int:
        return len(regstore.values(self.ctx.state, self.path))

    def to_string(self) -> str:
        return self.p_name()


# -- providers -------------------------------------------------------------------------------------------------------


@provider
class FileSystemProvider(Provider):
    name = "FileSystem"

    def join(self, root: str, rest: str) -> str:
        return filestore.normalize(super().join(root, rest))

    def exists(self, ctx: Any, path: str) -> bool:
        return filestore.exists(ctx.state, path)

    def is_container(self, ctx: Any, path: str) -> bool:
        found = filestore.find(ctx.state, path)
        return found is not None and found[1].get("type") == "directory"

    def item(self, ctx: Any, path: str) -> FileSystemItem:
        found = filestore.find(ctx.state, path)
        if found is None:
            raise item_not_found(path)
        return FileSystemItem(ctx, filestore.normalize(found[0]), found[1])

    def children(self, ctx: Any, path: str) -> list[str]:
        base = filestore.normalize(path)
        return [self.join(base, name) for name in filestore.children(ctx.state, base)]

    def new_item(self, ctx: Any, path: str, item_type: str, value: Any, force: bool) -> FileSystemItem:
        kind = (item_type or "file").lower()
        if kind not in ("file", "directory"):
            raise NotSimulated(f"New-Item -ItemType {item_type}")
        found = filestore.find(ctx.state, path)
        if found is not None:
            if kind == "directory" and found[1].get("type") == "directory" and force:
                return self.item(ctx, path)
            if not (force and kind == "file" and found[1].get("type") == "file"):
                raise PSError(f"An item with the specified name {filestore.normalize(path)} already exists.",
                              exception_type="System.IO.IOException", category="ResourceExists",
                              error_id="DirectoryExist" if kind == "directory" else "FileExist",
                              target=path)
        parent = filestore.parent(path)
        if kind == "file" and parent and not filestore.exists(ctx.state, parent) and not force:
            raise PSError(f"Could not find a part of the path '{filestore.normalize(path)}'.",
                          exception_type="System.IO.DirectoryNotFoundException", category="WriteError",
                          error_id="NewItemIOError", target=path)
        entry = filestore.create(ctx.state, path, kind)
        if kind == "file" and value is not None:
            transfer.store_bytes(entry, to_string(value).encode("utf-8"))
        return self.item(ctx, path)

    def remove(self, ctx: Any, path: str, recurse: bool) -> None:
        if self.is_container(ctx, path) and filestore.children(ctx.state, path) and not recurse:
            raise PSError(
                "Windows PowerShell is in NonInteractive mode. Read and Prompt functionality is not available.",
                exception_type="System.Management.Automation.PSInvalidOperationException",
                category="InvalidOperation", error_id="InvalidOperation", target=path,
            )
        filestore.remove(ctx.state, path)

    def get_acl(self, ctx: Any, path: str) -> FileSystemSecurityObject:
        return FileSystemSecurityObject(ctx, filestore.security(ctx.state, path), filestore.normalize(path))

    def set_acl(self, ctx: Any, path: str, acl: Any) -> None:
        if not isinstance(acl, FileSystemSecurityObject):
            raise NotSimulated(f"Set-Acl with an AclObject of type {getattr(acl, 'type_name', type(acl).__name__)}")
        filestore.write_security(ctx.state, path, acl.sd)

    def get_content(self, ctx: Any, path: str) -> str:
        found = filestore.find(ctx.state, path)
        if found is None or found[1].get("type") == "directory":
            raise item_not_found(path)
        if "content_base64" in found[1]:
            raise NotSimulated(f"Get-Content of a binary file ({path})")
        return str(found[1].get("content", ""))

    def set_content(self, ctx: Any, path: str, text: str, append: bool) -> None:
        found = filestore.find(ctx.state, path)
        if found is None:
            parent = filestore.parent(path)
            if parent and not filestore.exists(ctx.state, parent):
                raise PSError(f"Could not find a part of the path '{filestore.normalize(path)}'.",
                              exception_type="System.IO.DirectoryNotFoundException", category="ObjectNotFound",
                              error_id="GetContentWriterDirectoryNotFoundError", target=path)
            entry = filestore.create(ctx.state, path, "file")
        else:
            entry = filestore.materialise(ctx.state, path)
        transfer.store_bytes(entry, (transfer.content_bytes(entry) if append else b"") + text.encode("utf-8"))


@provider
class RegistryProvider(Provider):
    name = "Registry"

    def join(self, root: str, rest: str) -> str:
        return regstore.normalize(root + ("\\" + rest.lstrip("\\") if rest.strip("\\") else ""))

    def native_path(self, path: str) -> str:
        return RegistryKeyItem.p_name(RegistryKeyItem(None, path))

    def from_native(self, path: str) -> str:
        return regstore.normalize(path)

    def exists(self, ctx: Any, path: str) -> bool:
        return regstore.key_exists(ctx.state, path)

    def is_container(self, ctx: Any, path: str) -> bool:
        return self.exists(ctx, path)

    def item(self, ctx: Any, path: str) -> RegistryKeyItem:
        if not self.exists(ctx, path):
            raise item_not_found(path)
        return RegistryKeyItem(ctx, path)

    def children(self, ctx: Any, path: str) -> list[str]:
        return [self.join(path, name) for name in regstore.subkeys(ctx.state, path)]

    def new_item(self, ctx: Any, path: str, item_type: str, value: Any, force: bool) -> RegistryKeyItem:
        if item_type and item_type.lower() != "key":
            raise NotSimulated(f"New-Item -ItemType {item_type} in the registry")
        if value is not None:
            raise NotSimulated("New-Item -Value in the registry (the key's default value)")
        if self.exists(ctx, path) and not force:
            raise PSError("A key at this path already exists.", exception_type="System.IO.IOException",
                          category="ResourceExists", error_id="System.IO.IOException", target=path)
        regstore.create_key(ctx.state, path)
        return self.item(ctx, path)

    def remove(self, ctx: Any, path: str, recurse: bool) -> None:
        if regstore.subkeys(ctx.state, path) and not recurse:
            raise PSError(
                "Windows PowerShell is in NonInteractive mode. Read and Prompt functionality is not available.",
                exception_type="System.Management.Automation.PSInvalidOperationException",
                category="InvalidOperation", error_id="InvalidOperation", target=path,
            )
        regstore.delete_tree(ctx.state, path)


@provider
class EnvironmentProvider(Provider):
    """`Env:`: the module process' environment variables (lab.windows.environment); reading only."""

    name = "Environment"

    def exists(self, ctx: Any, path: str) -> bool:
        name = path.strip("\\")
        return not name or environment.lookup(ctx.host, name) is not None

    def is_container(self, ctx: Any, path: str) -> bool:
        return not path.strip("\\")

    def item(self, ctx: Any, path: str) -> CmdletObject:
        wanted = path.strip("\\").lower()
        found = next(((k, v) for k, v in environment.variables(ctx.host).items() if k.lower() == wanted), None)
        if found is None:
            raise item_not_found(path)
        name, value = found
        return CmdletObject("System.Collections.DictionaryEntry", {"Name": name, "Key": name, "Value": value})

    def children(self, ctx: Any, path: str) -> list[str]:
        return ["\\" + name for name in sorted(environment.variables(ctx.host), key=str.lower)]

    def get_content(self, ctx: Any, path: str) -> str:
        return str(self.item(ctx, path)["Value"])


def _version_info(ctx: Any, args: list[Any]) -> FileVersionInfo:
    from lab.windows.acl import DotNetException

    path = to_string(args[0])
    found = filestore.find(ctx.state, path)
    if found is None or found[1].get("type") == "directory":
        raise DotNetException("System.IO.FileNotFoundException", path)
    return FileVersionInfo(filestore.normalize(found[0]), found[1])


pstypes.register(pstypes.TypeInfo("System.Diagnostics.FileVersionInfo",
                                  static_methods={"getversioninfo": _version_info}))
