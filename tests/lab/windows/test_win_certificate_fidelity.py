"""Issue 10 item 9: win_certificate_store / win_certificate_info behave like the real modules.

Certificates are generated in memory with `cryptography` (a root CA and a leaf it signs). Each test states the real
behaviour and the line of win_certificate_store.ps1 / win_certificate_info.ps1 (ansible.windows 3.8.0) it follows.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from lab.windows import filestore, transfer

from .helpers import Lab, call, host_for, task_results

DIR = "C:\\certs"


def _name(cn: str) -> x509.Name:
    # DER order CN, O: Windows shows the most specific (last) RDN first
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Lab")]
    return x509.Name(attributes)


def _issue(subject: str, issuer: tuple[x509.Name, Any] | None, *, serial: int) -> tuple[x509.Certificate, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = _name(subject)
    issuer_name, issuer_key = issuer or (name, key)
    start = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("app.lab.test"), x509.DNSName("www.lab.test")]), critical=False
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        builder = builder.add_extension(
            x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True
        )
    return builder.sign(issuer_key, hashes.SHA256()), key


ROOT, ROOT_KEY = _issue("root.lab.test", None, serial=0x0F)
LEAF, LEAF_KEY = _issue("app.lab.test", (ROOT.subject, ROOT_KEY), serial=0x80AB)
LEAF_DER = LEAF.public_bytes(serialization.Encoding.DER)
LEAF_T = hashlib.sha1(LEAF_DER).hexdigest().upper()
ROOT_T = hashlib.sha1(ROOT.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
FILES = {
    "leaf.pem": LEAF.public_bytes(serialization.Encoding.PEM),
    "leaf.cer": LEAF_DER,
    "root.pem": ROOT.public_bytes(serialization.Encoding.PEM),
    "chain.p7b": pkcs7.serialize_certificates([LEAF, ROOT], serialization.Encoding.DER),
    "chain.pem": pkcs7.serialize_certificates([LEAF, ROOT], serialization.Encoding.PEM),
    "nopass.pfx": pkcs12.serialize_key_and_certificates(None, LEAF_KEY, LEAF, None, serialization.NoEncryption()),
    "pass.pfx": pkcs12.serialize_key_and_certificates(
        None, LEAF_KEY, LEAF, None, serialization.BestAvailableEncryption(b"password")
    ),
}


def _host(spec: dict[str, Any] | None = None) -> Any:
    host = host_for(spec)
    filestore.create(host.state, f"{DIR}\\out", "directory")
    for name, data in FILES.items():
        transfer.store_bytes(filestore.create(host.state, f"{DIR}\\{name}", "file"), data)
    return host


def _store(host: Any, sid: str = "LocalMachine\\My") -> list[str]:
    return [c["thumbprint"] for c in host.state["certificates"][sid]]


def _bytes(host: Any, path: str) -> bytes:
    found = filestore.find(host.state, path)
    assert found is not None, path
    return transfer.content_bytes(found[1])


def test_absent_returns_thumbprints_as_given_and_ignores_whitespace_and_case() -> None:
    # line 409: the thumbprint is added to `thumbprints` as given; line 414: X509Certificate2Collection.Find
    # (FindByThumbprint) decodes the hex with X509Utils.DecodeHexString, which drops whitespace (any case).
    host = _host({"certificates": [{"pem": FILES["leaf.pem"].decode()}]})
    given = " " + " ".join(LEAF_T[i : i + 2] for i in range(0, 40, 2)).lower() + "\u00a0"
    for other in ({"store_name": "Root"}, {"store_location": "CurrentUser"}):  # another store: nothing to remove
        assert call(host, "win_certificate_store", state="absent", thumbprint=LEAF_T, **other)["changed"] is False
    check = call(host, "win_certificate_store", check=True, state="absent", thumbprint=given)
    assert check["changed"] is True and check["thumbprints"] == [given] and _store(host) == [LEAF_T]
    removed = call(host, "win_certificate_store", state="absent", thumbprint=given)
    assert removed["changed"] is True and _store(host) == []
    again = call(host, "win_certificate_store", state="absent", thumbprint=LEAF_T)
    assert again == {**again, "changed": False, "thumbprints": [LEAF_T]}


def test_store_location_name_and_service_validation_messages() -> None:
    # line 347 (system store location), line 384 (OpenExistingOnly on an unknown store: ERROR_FILE_NOT_FOUND),
    # line 354 (service store of an unknown service), lines 22-26 required_if (Ansible.Basic CheckRequiredIf).
    host = _host()
    path = f"{DIR}\\leaf.pem"
    assert call(host, "win_certificate_store", path=path, store_location="FakeLocation")["msg"] == (
        "value of store_location must be one of: CurrentUser, LocalMachine. Got no match for: FakeLocation"
    )
    assert call(host, "win_certificate_store", path=path, store_name="FakeName")["msg"].startswith(
        "unable to find store 'FakeName': (CertOpenStore failed (The system cannot find the file specified"
    )
    assert call(host, "win_certificate_store", path=path, store_type="service", store_location="Nope")["msg"] == (
        "value of store_location 'Nope' is not a valid windows service"
    )
    assert call(host, "win_certificate_store", state="absent")["msg"] == (
        "state is absent but any of the following are missing: path, thumbprint"
    )
    assert call(host, "win_certificate_store", state="exported", thumbprint="AB")["msg"] == (
        "state is exported but all of the following are missing: path"
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [("leaf.pem", [LEAF_T]), ("leaf.cer", [LEAF_T]), ("chain.p7b", [LEAF_T, ROOT_T]), ("chain.pem", [LEAF_T, ROOT_T])],
)
def test_present_imports_every_certificate_of_the_file(name: str, expected: list[str]) -> None:
    # lines 468-497: X509Certificate2Collection.Import reads DER, PEM and PKCS#7 (every certificate of a chain, in
    # the file's order); thumbprints = the SHA-1 of each DER, upper case; one already in the store is not re-added.
    host = _host()
    args = {"path": f"{DIR}\\{name}", "store_name": "CertificateAuthority", "store_location": "CurrentUser"}
    check = call(host, "win_certificate_store", check=True, **args)
    assert check["changed"] is True and sorted(check["thumbprints"]) == sorted(expected)
    assert _store(host, "CurrentUser\\CA") == []
    assert call(host, "win_certificate_store", **args)["changed"] is True
    assert sorted(_store(host, "CurrentUser\\CA")) == sorted(expected)  # CertificateAuthority = CA (line 337)
    assert call(host, "win_certificate_store", **args)["changed"] is False


def test_pfx_password_key_flags_and_reimport_with_key() -> None:
    # line 221: a wrong or missing PFX password fails Import; lines 205-211: key_exportable maps to
    # X509KeyStorageFlags.Exportable; lines 473-481: a certificate with a key replaces the same one stored without.
    host = _host()
    call(host, "win_certificate_store", path=f"{DIR}\\leaf.pem")
    wrong = call(host, "win_certificate_store", path=f"{DIR}\\pass.pfx", password="nope")
    assert wrong["msg"] == (
        'Failed to load cert from file: Exception calling "Import" with "3" argument(s): '
        '"The specified network password is not correct.\r\n"'
    )
    reimport = call(host, "win_certificate_store", path=f"{DIR}\\pass.pfx", password="password", key_exportable=False)
    assert reimport["changed"] is True and reimport["thumbprints"] == [LEAF_T]
    [stored] = host.state["certificates"]["LocalMachine\\My"]
    assert stored["has_private_key"] is True and stored["key"]["exportable"] is False
    assert call(host, "win_certificate_store", path=f"{DIR}\\nopass.pfx")["changed"] is False


def test_export_der_pem_pkcs12_and_idempotence() -> None:
    # New-CertFile (lines 227-279): der = the raw bytes; pem = BEGIN/END lines around base64 with CRLF every 76
    # characters (InsertLineBreaks), no final newline; lines 437-456: a file already holding that certificate in
    # that file_type is left alone; line 256: key_exported is always false.
    host = _host({"certificates": [{"pem": FILES["leaf.pem"].decode()}]})
    der = {"state": "exported", "thumbprint": LEAF_T, "path": f"{DIR}\\out\\c.cer", "file_type": "der"}
    assert call(host, "win_certificate_store", check=True, **der)["changed"] is True
    assert filestore.find(host.state, der["path"]) is None
    assert call(host, "win_certificate_store", **der)["changed"] is True
    assert _bytes(host, der["path"]) == LEAF_DER
    assert call(host, "win_certificate_store", **der)["changed"] is False
    pem = call(host, "win_certificate_store", **{**der, "file_type": "pem"})  # replaces the DER file
    text = _bytes(host, der["path"]).decode("ascii")
    body = base64.b64encode(LEAF_DER).decode()
    assert pem["changed"] is True and text.split("\r\n")[1] == body[:76]
    assert text.startswith("-----BEGIN CERTIFICATE-----\r\n") and text.endswith("\r\n-----END CERTIFICATE-----")
    pfx = call(host, "win_certificate_store", **{**der, "path": f"{DIR}\\out\\c.pfx", "file_type": "pkcs12"})
    assert pfx["changed"] is True and pfx["key_exported"] is False
    loaded = pkcs12.load_pkcs12(_bytes(host, f"{DIR}\\out\\c.pfx"), None)  # a certificate without its key
    certificates = ([loaded.cert] if loaded.cert else []) + loaded.additional_certs
    assert [c.certificate for c in certificates] == [LEAF] and loaded.key is None


def test_export_quirks_non_exportable_key_directory_and_check_mode_removal() -> None:
    # line 239: Export(Pkcs12) of a non-exportable key fails; line 438: a directory path fails; line 235:
    # Remove-Item of an existing file runs without -WhatIf, so check mode deletes a file of another type.
    host = _host()
    call(host, "win_certificate_store", path=f"{DIR}\\nopass.pfx", key_exportable=False)
    args = {"state": "exported", "thumbprint": LEAF_T, "file_type": "pkcs12"}
    failed = call(host, "win_certificate_store", path=f"{DIR}\\out\\k.pfx", **args)
    assert failed["msg"] == (
        'Failed to export certificate as bytes: Exception calling "Export" with "2" argument(s): '
        '"Key not valid for use in specified state.\r\n"'
    )
    assert call(host, "win_certificate_store", path=DIR, **args)["msg"] == (
        f"Cannot export cert to path '{DIR}' as it is a directory"
    )
    transfer.store_bytes(filestore.create(host.state, f"{DIR}\\out\\old.cer", "file"), LEAF_DER)
    pem_over_der = {**args, "file_type": "pem", "path": f"{DIR}\\out\\old.cer"}
    check = call(host, "win_certificate_store", check=True, **pem_over_der)
    assert check["changed"] is True and filestore.find(host.state, f"{DIR}\\out\\old.cer") is None


def test_service_store_is_registered_and_visible_in_the_registry() -> None:
    # lines 352-374: the module registers the nine stores of the service (CertRegisterSystemStore) when their key
    # under HKLM:\SOFTWARE\Microsoft\Cryptography\Services\<svc>\SystemCertificates is missing; a stored
    # certificate is the key Certificates\<THUMBPRINT> there (what the upstream test reads with win_reg_stat).
    host = _host()
    base = "HKLM:\\SOFTWARE\\Microsoft\\Cryptography\\Services\\WinRM\\SystemCertificates"
    args = {"path": f"{DIR}\\leaf.pem", "store_type": "service", "store_location": "winrm"}
    check = call(host, "win_certificate_store", check=True, **args)
    assert check["changed"] is True and call(host, "win_reg_stat", path=base)["exists"] is False
    assert call(host, "win_certificate_store", **args)["changed"] is True
    assert len(call(host, "win_reg_stat", path=base)["sub_keys"]) == 9
    assert call(host, "win_reg_stat", path=f"{base}\\My\\Certificates\\{LEAF_T}")["exists"] is True
    assert call(host, "win_certificate_store", **args)["changed"] is False
    remove = call(host, "win_certificate_store", state="absent", thumbprint=LEAF_T, store_type="service",
                  store_location="WinRM")  # fmt: skip
    assert remove["changed"] is True and _store(host) == []


def test_certificate_info_reads_the_certificate_like_dotnet() -> None:
    # win_certificate_info.ps1 Get-CertificateInfo (lines 18-73): X509Certificate2 properties, dates as
    # 'yyyy-MM-ddTHH:mm:ssK', dns_names = issued_to + SAN DNS names, extensions formatted with Format($false).
    host = _host({"certificates": [{"pem": FILES["leaf.pem"].decode(), "friendly_name": "app"}]})
    info = call(host, "win_certificate_info", thumbprint=LEAF_T.lower())
    [cert] = info["certificates"]
    assert info["exists"] is True and cert["thumbprint"] == LEAF_T
    assert cert["subject"] == "O=Lab, CN=app.lab.test" and cert["issuer"] == "O=Lab, CN=root.lab.test"
    assert cert["issued_to"] == "app.lab.test" and cert["issued_by"] == "root.lab.test"
    assert cert["serial_number"] == "0080AB"  # the DER INTEGER bytes: a leading 00 keeps it positive
    assert cert["valid_from_iso8601"] == "2024-01-02T03:04:05Z" and cert["valid_from"] == 1704164645.0
    assert cert["dns_names"] == ["app.lab.test", "app.lab.test", "www.lab.test"]
    assert cert["intended_purposes"] == ["Server Authentication"] and cert["signature_algorithm"] == "sha256RSA"
    assert cert["key_usages"] == ["KeyEncipherment", "DigitalSignature"]
    fields = {e["field"]: e["value"] for e in cert["extensions"]}
    assert fields["Key Usage"] == "Digital Signature, Key Encipherment (a0)"
    assert fields["Subject Alternative Name"] == "DNS Name=app.lab.test, DNS Name=www.lab.test"
    assert cert["raw"] == base64.b64encode(LEAF_DER).decode() and cert["friendly_name"] == "app"
    assert call(host, "win_certificate_info", store_location="CurrentUser")["exists"] is False


def test_cert_provider_pipeline_and_scenario_validation() -> None:
    # Get-ChildItem -Path Cert:\<location>\<store> lists X509Certificate2 objects (the upstream read-backs pipe
    # them to Where-Object); a scenario certificate entry with an unknown field is refused.
    host = _host({"certificates": [{"pem": FILES["root.pem"].decode(), "store": "CurrentUser\\Root"}]})
    line = f'Get-ChildItem -Path Cert:\\CurrentUser\\Root | Where-Object {{ $_.Thumbprint -eq "{ROOT_T}" }}'
    shell = call(host, "win_shell", _raw_params=f"{line} | Select-Object -ExpandProperty Subject")
    assert shell["stdout"] == "O=Lab, CN=root.lab.test\r\n"
    missing = call(host, "win_shell", _raw_params="Get-ChildItem -Path Cert:\\LocalMachine\\Nope")
    assert "Cannot find path 'Cert:\\LocalMachine\\Nope' because it does not exist." in missing["stderr"]
    with pytest.raises(ValueError, match="certificates\\[0\\].colour"):
        host_for({"certificates": [{"thumbprint": "AB" * 20, "colour": "red"}]})


def _shell(host: Any, script: str) -> list[str]:
    result = call(host, "win_shell", _raw_params=script)
    assert result["rc"] == 0 and result["stderr"] == "", result
    return result["stdout"].split("\r\n")[:-1]


def test_the_upstream_read_back_follows_removal_by_thumbprint() -> None:
    # The read-back of the collection's tests: Get-ChildItem Cert:\<location>\<store> lists X509Certificate2 objects
    # (the Certificate provider), Where-Object keeps the one with the thumbprint, `if` tests that it exists. Its
    # answer follows win_certificate_store's removal by thumbprint (line 414: Find(FindByThumbprint), line 426:
    # X509Store.Remove); the provider is case-insensitive on names, and Remove-Item of a certificate removes it.
    host = _host({"certificates": [{"pem": FILES["leaf.pem"].decode()}, {"pem": FILES["root.pem"].decode()}]})
    check = f'if (Get-ChildItem -Path Cert:\\LocalMachine\\My | Where-Object {{ $_.Thumbprint -eq "{LEAF_T}" }}) ' \
            "{ $true } else { $false }"
    assert _shell(host, check) == ["True"]
    assert call(host, "win_certificate_store", check=True, thumbprint=LEAF_T, state="absent")["changed"] is True
    assert _shell(host, check) == ["True"]  # check mode removes nothing
    assert call(host, "win_certificate_store", thumbprint=LEAF_T.lower(), state="absent")["changed"] is True
    assert _shell(host, check) == ["False"]
    listing = f"Test-Path Cert:\\localmachine\\my\\{ROOT_T.lower()}; Test-Path Cert:\\LocalMachine\\Nope\n" \
              "(Get-Item Cert:\\LocalMachine\\My).Name; Get-ChildItem Cert:\\ | ForEach-Object Location"
    assert _shell(host, listing) == ["True", "False", "My", "CurrentUser", "LocalMachine"]
    removal = f"Remove-Item Cert:\\LocalMachine\\My\\{ROOT_T}; Test-Path Cert:\\LocalMachine\\My\\{ROOT_T}"
    assert _shell(host, removal) == ["False"]
    assert _store(host) == []
    # win_powershell's creates/removes use Test-AnsiblePath (win_powershell.ps1 line 614): Test-Path for Cert:
    call(host, "win_certificate_store", path=f"{DIR}\\leaf.pem")
    skipped = call(host, "win_powershell", script="'ran'", creates=f"Cert:\\LocalMachine\\My\\{LEAF_T}")
    assert skipped["msg"] == f"skipped, since Cert:\\LocalMachine\\My\\{LEAF_T} exists" and skipped["output"] == []


def test_private_keys_self_signed_certificates_and_pfx_import() -> None:
    # New-SelfSignedCertificate (the cmdlet's defaults: LocalMachine\My, RSA 2048) with a CNG or a CAPI provider;
    # RSACertificateExtensions.GetRSAPrivateKey gives RSACryptoServiceProvider for a CAPI key (CspKeyContainerInfo
    # .Exportable) and RSACng otherwise (Key.ExportPolicy, None when not exportable); X509Certificate2.Import reads a
    # PFX (a wrong password is a CryptographicException). Export of a non-exportable key fails as on Windows.
    host = _host()
    key_read = (
        "$cert = Get-ChildItem -Path Cert:\\LocalMachine\\My | Where-Object {{ $_.Thumbprint -eq '{0}' }}\n"
        "$key = [System.Security.Cryptography.X509Certificates.RSACertificateExtensions]::GetRSAPrivateKey($cert)\n"
        "if ($key -is [System.Security.Cryptography.RSACryptoServiceProvider]) {{ 'capi'; $key.CspKeyContainerInfo."
        "Exportable }} else {{ 'cng'; $key.Key.ExportPolicy -ne 'None' }}"
    )
    made = {}
    for provider, policy in (("Microsoft Software Key Storage Provider", "NonExportable"),
                             ("Microsoft RSA SChannel Cryptographic Provider", "Exportable")):
        [thumbprint] = _shell(host, f'(New-SelfSignedCertificate -DnsName lab.local -KeyExportPolicy {policy} '
                                    f'-Provider "{provider}").Thumbprint')
        made[policy] = thumbprint
        assert _shell(host, key_read.format(thumbprint)) == (
            ["cng", "False"] if policy == "NonExportable" else ["capi", "True"])
    denied = call(host, "win_certificate_store", state="exported", thumbprint=made["NonExportable"],
                  file_type="pkcs12", path=f"{DIR}\\out\\x.pfx")
    assert "Key not valid for use in specified state." in denied["msg"]
    call(host, "win_certificate_store", state="exported", thumbprint=made["Exportable"], file_type="pkcs12",
         path=f"{DIR}\\out\\y.pfx", password="pw")
    # (the doubled separator is the upstream test's: GetFullPathName collapses it)
    load = ("$cert = New-Object -TypeName System.Security.Cryptography.X509Certificates.X509Certificate2\n"
            f'$cert.Import("{DIR}\\\\out\\\\y.pfx", "{{0}}", 0)\n$cert.HasPrivateKey')
    assert _shell(host, load.format("pw")) == ["True"]
    wrong = call(host, "win_shell", _raw_params=load.format("nope"))
    assert 'Exception calling "Import" with "3" argument(s): "The specified network password is not correct.' in \
        wrong["stderr"]
    # win_stat checksums the file's bytes: the SHA-1 of a DER export is the thumbprint
    call(host, "win_certificate_store", path=f"{DIR}\\leaf.pem")
    call(host, "win_certificate_store", state="exported", thumbprint=LEAF_T, file_type="der",
         path=f"{DIR}\\out\\leaf.der")
    assert call(host, "win_stat", path=f"{DIR}\\out\\leaf.der")["stat"]["checksum"] == LEAF_T.lower()


@pytest.mark.lab
def test_certificate_round_trip_through_ansible_playbook(make_lab: Any, tmp_path: Any) -> None:
    """win_copy sends the PEM, win_certificate_store imports and removes it by thumbprint, info reads it."""
    lab: Lab = make_lab({"vm1": {"platform": "windows"}})
    (tmp_path / "leaf.pem").write_bytes(FILES["leaf.pem"])
    document = lab.playbook(
        f"""
- hosts: vm1
  gather_facts: false
  tasks:
    - name: copy
      ansible.windows.win_copy: {{src: '{tmp_path / "leaf.pem"}', dest: 'C:\\certs\\'}}
    - name: import
      ansible.windows.win_certificate_store: {{path: 'C:\\certs\\leaf.pem'}}
    - name: info
      ansible.windows.win_certificate_info: {{thumbprint: '{LEAF_T}'}}
    - name: remove
      ansible.windows.win_certificate_store: {{thumbprint: '{LEAF_T.lower()}', state: absent}}
    - name: remove again
      ansible.windows.win_certificate_store: {{thumbprint: '{LEAF_T}', state: absent}}
"""
    )
    results = task_results(document, "vm1")
    assert results["copy"]["changed"] is True
    assert results["import"]["thumbprints"] == [LEAF_T] and results["import"]["changed"] is True
    assert results["info"]["certificates"][0]["issued_to"] == "app.lab.test"
    assert results["remove"]["changed"] is True and results["remove"]["thumbprints"] == [LEAF_T.lower()]
    assert results["remove again"]["changed"] is False
    assert lab.state("vm1")["certificates"]["LocalMachine\\My"] == []
