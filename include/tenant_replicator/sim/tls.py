"""Loopback TLS for the simulator.

azure-core refuses to send bearer tokens over plain http, so the simulator must speak HTTPS.
We mint a private CA once per `tls_dir` and a server certificate for the loopback names; clients
trust only that CA file (`connection_verify=<ca.pem>`), never the system store.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import ipaddress
import os
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# extra DNS names (comma-separated), e.g. the compose service `simulator` other containers connect to
_EXTRA_NAMES = os.environ.get("TENANT_REPLICATOR_SIM_TLS_NAMES", "")
DNS_NAMES = ("localhost", *(name.strip() for name in _EXTRA_NAMES.split(",") if name.strip()))
IP_ADDRESSES = ("127.0.0.1", "::1")
CA_DAYS = 3650
SERVER_DAYS = 825
RENEW_BEFORE = dt.timedelta(days=7)


@dataclass(frozen=True)
class TlsFiles:
    ca_file: Path
    ca_key_file: Path
    cert_file: Path
    key_file: Path


def tls_files(tls_dir: Path) -> TlsFiles:
    tls_dir = Path(tls_dir).resolve()
    return TlsFiles(
        ca_file=tls_dir / "ca.pem",
        ca_key_file=tls_dir / "ca-key.pem",
        cert_file=tls_dir / "server.pem",
        key_file=tls_dir / "server-key.pem",
    )


def ensure_tls(tls_dir: Path) -> TlsFiles:
    """Create the CA and server certificate, or reuse them while they are valid.

    Reuse keeps `ca.pem` stable across restarts, so clients configured once keep working.
    A file lock makes two simulators starting on the same directory agree on one CA.
    """
    files = tls_files(tls_dir)
    files.ca_file.parent.mkdir(parents=True, exist_ok=True)
    with _locked(files.ca_file.parent / ".tls.lock"):
        ca_cert, ca_key = _load_or_create_ca(files)
        if not _server_cert_usable(files, ca_cert):
            _write_server_cert(files, ca_cert, ca_key)
    return files


def server_context(files: TlsFiles) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile=str(files.cert_file), keyfile=str(files.key_file))
    return context


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _still_valid(cert: x509.Certificate) -> bool:
    now = _now()
    return cert.not_valid_before_utc <= now and cert.not_valid_after_utc - RENEW_BEFORE > now


def _load_or_create_ca(files: TlsFiles) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    if files.ca_file.is_file() and files.ca_key_file.is_file():
        cert = x509.load_pem_x509_certificate(files.ca_file.read_bytes())
        key = serialization.load_pem_private_key(files.ca_key_file.read_bytes(), password=None)
        if _still_valid(cert) and isinstance(key, ec.EllipticCurvePrivateKey):
            return cert, key
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tenant-replicator simulator CA")])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _atomic_write(files.ca_key_file, _key_pem(key), mode=0o600)
    _atomic_write(files.ca_file, cert.public_bytes(serialization.Encoding.PEM))
    # A new CA invalidates any server certificate signed by the old one.
    files.cert_file.unlink(missing_ok=True)
    return cert, key


def _server_cert_usable(files: TlsFiles, ca_cert: x509.Certificate) -> bool:
    if not (files.cert_file.is_file() and files.key_file.is_file()):
        return False
    cert = x509.load_pem_x509_certificate(files.cert_file.read_bytes())
    if cert.issuer != ca_cert.subject or not _still_valid(cert):
        return False
    try:
        cert.verify_directly_issued_by(ca_cert)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, TypeError, x509.ExtensionNotFound, x509.InvalidSignature):
        return False
    have_ips = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    have_dns = set(san.get_values_for_type(x509.DNSName))
    return set(IP_ADDRESSES) <= have_ips and set(DNS_NAMES) <= have_dns


def _write_server_cert(files: TlsFiles, ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    san = x509.SubjectAlternativeName(
        [x509.DNSName(name) for name in DNS_NAMES] + [x509.IPAddress(ipaddress.ip_address(ip)) for ip in IP_ADDRESSES]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=SERVER_DAYS))
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _atomic_write(files.key_file, _key_pem(key), mode=0o600)
    _atomic_write(files.cert_file, cert.public_bytes(serialization.Encoding.PEM))


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)
