"""Certificates for the web server's TLS (``rsu keys tls``): a private CA, the server's certificate and client
certificates, all ECDSA P-256, made with the ``cryptography`` package (no ``openssl`` command).

Folder layout: ``ca.crt`` / ``ca.key`` (the CA: ``web.tls.client_ca``, and what clients trust for the server),
``server.crt`` / ``server.key`` (``web.tls.cert`` / ``web.tls.key``), and per client ``NAME.crt``, ``NAME.key``
and ``NAME.p12`` (the pair for a browser's certificate store, no password). Private keys are mode 0600.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path
from typing import NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["TlsFiles", "generate_tls", "add_tls_client"]

_PRIVATE = serialization.PrivateFormat.PKCS8


class TlsFiles(NamedTuple):
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    clients: dict[str, tuple[Path, Path, Path]]  # name -> (cert, key, p12)


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "rsu"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _write(path: Path, data: bytes, *, secret: bool) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret else 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o600 if secret else 0o644)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, _PRIVATE, serialization.NoEncryption())


def _builder(subject: x509.Name, issuer: x509.Name, public: ec.EllipticCurvePublicKey, days: int) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public)
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days)))


def _load_ca(folder: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate((folder / "ca.crt").read_bytes())
    key = serialization.load_pem_private_key((folder / "ca.key").read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{folder / 'ca.key'}: not an EC key made by rsu keys tls")
    return cert, key


def _san(hosts: tuple[str, ...]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(hosts):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host.strip("[]"))))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def add_tls_client(folder: Path, name: str, *, days: int = 825, force: bool = False) -> tuple[Path, Path, Path]:
    """Issue client certificate ``name`` with the CA in ``folder``; FileExistsError unless ``force``."""
    cert_path, key_path, p12_path = folder / f"{name}.crt", folder / f"{name}.key", folder / f"{name}.p12"
    if not force and any(p.exists() for p in (cert_path, key_path, p12_path)):
        raise FileExistsError(f"{cert_path} exists (use --force to reissue it)")
    ca_cert, ca_key = _load_ca(folder)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (_builder(_name(name), ca_cert.subject, key.public_key(), days)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    _write(key_path, _key_pem(key), secret=True)
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM), secret=False)
    _write(p12_path, pkcs12.serialize_key_and_certificates(name.encode(), key, cert, [ca_cert],
                                                           serialization.NoEncryption()), secret=True)
    return cert_path, key_path, p12_path


def generate_tls(folder: Path, hosts: tuple[str, ...], clients: tuple[str, ...], *, days: int = 825,
                 force: bool = False) -> TlsFiles:
    """A new CA, a server certificate for ``hosts`` (names or addresses; localhost and 127.0.0.1 always) and
    one client certificate per name. FileExistsError when ``folder`` already holds a CA, unless ``force``."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_cert_path, ca_key_path = folder / "ca.crt", folder / "ca.key"
    if ca_key_path.exists() and not force:
        raise FileExistsError(f"{ca_key_path} exists (use --force to make a new CA: every certificate changes)")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(f"rsu web CA {folder.resolve().name}")
    ca = (_builder(ca_name, ca_name, ca_key.public_key(), days)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    _write(ca_key_path, _key_pem(ca_key), secret=True)
    _write(ca_cert_path, ca.public_bytes(serialization.Encoding.PEM), secret=False)
    server_key = ec.generate_private_key(ec.SECP256R1())
    all_hosts = (*hosts, "localhost", "127.0.0.1")
    server = (_builder(_name(all_hosts[0]), ca_name, server_key.public_key(), days)
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .add_extension(_san(all_hosts), critical=False)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
              .sign(ca_key, hashes.SHA256()))
    server_cert_path, server_key_path = folder / "server.crt", folder / "server.key"
    _write(server_key_path, _key_pem(server_key), secret=True)
    _write(server_cert_path, server.public_bytes(serialization.Encoding.PEM), secret=False)
    issued = {name: add_tls_client(folder, name, days=days, force=True) for name in clients}
    return TlsFiles(ca_cert_path, ca_key_path, server_cert_path, server_key_path, issued)
