"""win_ping and setup (fact gathering)."""

from __future__ import annotations

import datetime

from lab.windows.modules import ModuleContext, module


@module("win_ping")
def win_ping(ctx: ModuleContext) -> None:
    data = ctx.params["data"]
    if data == "crash":
        ctx.fail("boom")
    ctx.result["ping"] = data


@module("setup")
def setup(ctx: ModuleContext) -> None:
    state = ctx.state
    hostname = state["hostname"]
    domain = state.get("domain") or "WORKGROUP"
    version = state["os"]["version"]
    now = datetime.datetime.now(datetime.UTC)
    adapters = state.get("network_adapters") or []
    addresses = [a["ipv4_address"] for a in adapters if a.get("ipv4_address")]
    ctx.result["ansible_facts"] = {
        "ansible_os_family": "Windows",
        "ansible_system": "Win32NT",
        "ansible_os_name": state["os"]["name"],
        "ansible_distribution": state["os"]["name"],
        "ansible_distribution_version": version,
        "ansible_distribution_major_version": version.split(".")[0],
        "ansible_kernel": version,
        "ansible_architecture": "64-bit",
        "ansible_os_product_type": "server",
        "ansible_hostname": hostname,
        "ansible_nodename": hostname if domain == "WORKGROUP" else f"{hostname}.{domain}",
        "ansible_fqdn": hostname if domain == "WORKGROUP" else f"{hostname}.{domain}",
        "ansible_domain": "" if domain == "WORKGROUP" else domain,
        "ansible_windows_domain": domain,
        "ansible_windows_domain_member": domain != "WORKGROUP",
        "ansible_windows_domain_role": "Stand-alone server",
        "ansible_powershell_version": 5,
        "ansible_system_vendor": "Microsoft Corporation",
        "ansible_product_name": "Virtual Machine",
        "ansible_virtualization_type": "Hyper-V",
        "ansible_virtualization_role": "guest",
        "ansible_user_id": ctx.host.user,
        "ansible_ip_addresses": addresses,
        "ansible_interfaces": [
            {
                "connection_name": a["name"],
                "interface_index": a.get("interface_index"),
                "dhcp_enabled": a.get("dhcp_enabled"),
            }
            for a in adapters
        ],
        "ansible_date_time": {
            "iso8601": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "date": now.strftime("%Y-%m-%d"),
            "epoch": str(int(now.timestamp())),
            "tz": "Coordinated Universal Time",
        },
        "ansible_env": {
            "COMPUTERNAME": hostname,
            "SystemDrive": "C:",
            "SystemRoot": "C:\\Windows",
            "ProgramData": "C:\\ProgramData",
        },
        "ansible_lab_locale": state.get("locale", "en-US"),
        "gather_subset": ctx.params["gather_subset"],
        "module_setup": True,
    }
