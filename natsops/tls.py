"""Certificates for TLS listeners: a CA, server certificates with the right SANs, keys 0600.

Built on the ``cryptography`` library (no hand-written ASN.1). Keys are ECDSA P-256, which
nats-server (Go crypto/tls) accepts on every listener. A server certificate carries both the
serverAuth and clientAuth usages, because routes, gateways and leaf nodes use the same
certificate to dial their peers (mutual TLS with ``verify: true``).

::

    ca = generate_ca("natsops prod CA")
    cert = issue_cert(ca, "east-1", dns_names=["east-1", "nats-1.example.com"],
                      ip_addresses=["10.0.0.1"], not_after=datetime(...))
    write_pair(cert, Path("tls/server.pem"), Path("tls/server-key.pem"))
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from natsops.errors import UsageError
from natsops.files import read_bytes, write_atomic, write_private

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey

__all__ = ["CertInfo", "CertKey", "CertProblem", "cert_info", "chain_infos", "check_server_cert",
           "covers", "generate_ca", "is_ip", "issue_cert", "load_pair", "write_pair"]

_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class CertKey:
    """A PEM certificate and its PEM private key (the key never printed)."""

    cert_pem: bytes
    key_pem: bytes = field(repr=False)


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _key() -> EllipticCurvePrivateKey:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: EllipticCurvePrivateKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(key.private_bytes(serialization.Encoding.PEM,
                                   serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))


def generate_ca(common_name: str, *, not_after: dt.datetime | None = None,
                parent: CertKey | None = None, path_length: int = 0) -> CertKey:
    """A self-signed CA (10 years unless ``not_after``) that can sign server certificates;
    with ``parent``, an intermediate CA signed by it (the parent needs ``path_length`` 1+)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    key = _key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    issuer, signer = name, key
    if parent is not None:
        issuer = x509.load_pem_x509_certificate(parent.cert_pem).subject
        signer = serialization.load_pem_private_key(  # type: ignore[assignment]
            parent.key_pem, password=None)
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(issuer).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _DAY).not_valid_after(not_after or now + 3650 * _DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(signer, hashes.SHA256())
    )
    return CertKey(cert.public_bytes(serialization.Encoding.PEM), _pem_key(key))


def issue_cert(ca: CertKey, common_name: str, *, dns_names: Sequence[str] = (),
               ip_addresses: Sequence[str] = (), not_after: dt.datetime | None = None,
               not_before: dt.datetime | None = None, server: bool = True,
               client: bool = True) -> CertKey:
    """A certificate signed by ``ca`` for these DNS names and IPs (825 days unless
    ``not_after``; a past ``not_after`` makes an expired one, for tests)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    if not dns_names and not ip_addresses:
        raise UsageError(f"certificate for {common_name}: give at least one DNS name or IP")
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem)
    ca_key = serialization.load_pem_private_key(ca.key_pem, password=None)
    key = _key()
    now = _now()
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dict.fromkeys(dns_names)]
    sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in dict.fromkeys(ip_addresses)]
    usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + (
        [ExtendedKeyUsageOID.CLIENT_AUTH] if client else [])
    end = not_after or now + 825 * _DAY
    start = not_before or min(now - _DAY, end - _DAY)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False,
                                     key_cert_sign=False, crl_sign=False,
                                     content_commitment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False,
                                     decipher_only=False), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            ca_cert.public_key()), critical=False)  # type: ignore[arg-type]
    )
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    return CertKey(cert.public_bytes(serialization.Encoding.PEM), _pem_key(key))


def write_pair(pair: CertKey, cert_path: Path, key_path: Path) -> None:
    """Write the certificate (0644) and its key (0600), atomically."""
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    key_path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(cert_path, pair.cert_pem)
    write_private(key_path, pair.key_pem)


def _reason(exc: Exception) -> str:
    """cryptography's message without its FAQ link: ``Unable to load PEM file ...`` becomes
    ``no -----BEGIN ...----- block``."""
    text = str(exc)
    if "Unable to load PEM file" in text or "MalformedFraming" in text:
        return "no -----BEGIN ...----- block"
    return text.split(" See https://", 1)[0].rstrip(". ")


def load_pair(cert_path: str | Path, key_path: str | Path) -> CertKey:
    """Read a PEM certificate and key (a CA to issue from, or a server's pair)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert = read_bytes(cert_path, what="certificate")
    key = read_bytes(key_path, what="private key")
    try:
        x509.load_pem_x509_certificate(cert)
    except ValueError as exc:
        raise UsageError(f"{cert_path}: not a PEM certificate ({_reason(exc)})") from None
    try:
        serialization.load_pem_private_key(key, password=None)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"{key_path}: not an unencrypted PEM private key "
                         f"({_reason(exc)})") from None
    return CertKey(cert, key)


@dataclass(frozen=True)
class CertInfo:
    subject: str
    issuer: str
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    not_before: dt.datetime
    not_after: dt.datetime
    is_ca: bool


def cert_info(cert_pem: bytes) -> CertInfo:
    """What a certificate says: names, SANs, validity (for checks and tests)."""
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(cert_pem)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = tuple(san.get_values_for_type(x509.DNSName))
        ips = tuple(str(i) for i in san.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        dns, ips = (), ()
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    return CertInfo(cert.subject.rfc4514_string(), cert.issuer.rfc4514_string(), dns, ips,
                    cert.not_valid_before_utc, cert.not_valid_after_utc, is_ca)


def chain_infos(pem: bytes) -> list[CertInfo]:
    """What every certificate of a PEM bundle says (a chain file: the leaf first)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    return [cert_info(c.public_bytes(serialization.Encoding.PEM))
            for c in x509.load_pem_x509_certificates(pem)]


def covers(info: CertInfo, host: str) -> bool:
    """Whether the certificate's SANs cover ``host`` as Go's TLS checks it: an IP only by an IP
    SAN, a name by a DNS SAN (``*.`` covers exactly one label); the CN is not looked at."""
    h = host.strip("[]").lower().rstrip(".")
    if is_ip(h):
        return any(ipaddress.ip_address(i) == ipaddress.ip_address(h) for i in info.ip_addresses)
    for d in (x.lower().rstrip(".") for x in info.dns_names):
        if d == h or (d.startswith("*.") and "." in h and h.split(".", 1)[1] == d[2:]):
            return True
    return False


@dataclass(frozen=True)
class CertProblem:
    """Something wrong with a certificate file: ``fatal`` ones break TLS, the others warn."""

    kind: str  # unreadable expired expiring sans key chain
    file: str
    message: str
    fatal: bool = True


def _sans_text(info: CertInfo) -> str:
    names = [f"DNS:{d}" for d in info.dns_names] + [f"IP:{i}" for i in info.ip_addresses]
    return ", ".join(names) or "none"


def check_server_cert(cert: str | Path, key: str | Path | None, ca: str | Path | None,
                      hosts: Sequence[str] = (), *, warn_days: float = 30.0,
                      now: dt.datetime | None = None) -> list[CertProblem]:
    """Problems of a server certificate file: unreadable, expired or within ``warn_days``
    (itself or an intermediate in the file), a key that is not its key, not chaining to
    ``ca``, SANs that do not cover each of ``hosts`` (the names clients and peers dial)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    now = now or _now()
    cf = str(cert)
    try:
        certs = x509.load_pem_x509_certificates(Path(cert).read_bytes())
    except OSError as exc:
        return [CertProblem("unreadable", cf, f"cannot read: {exc.strerror or exc}")]
    except ValueError as exc:
        return [CertProblem("unreadable", cf, f"not a PEM certificate ({_reason(exc)})")]
    out: list[CertProblem] = []
    for i, c in enumerate(certs):
        what = "the certificate" if i == 0 else f"intermediate {c.subject.rfc4514_string()}"
        left = (c.not_valid_after_utc - now).total_seconds() / 86400
        if left <= 0:
            out.append(CertProblem("expired", cf, f"{what} expired on "
                                   f"{c.not_valid_after_utc:%Y-%m-%d}"))
        elif left < warn_days:
            out.append(CertProblem("expiring", cf, f"{what} expires in {left:.0f} days "
                                   f"({c.not_valid_after_utc:%Y-%m-%d})", fatal=False))
    leaf = certs[0]
    info = cert_info(leaf.public_bytes(serialization.Encoding.PEM))
    missing = [h for h in dict.fromkeys(hosts) if h and not covers(info, h)]
    if missing:
        out.append(CertProblem("sans", cf, f"its SANs ({_sans_text(info)}) do not cover "
                               f"{', '.join(missing)}, which clients and peers dial"))
    if key is not None:
        out += _key_problems(leaf, Path(key))
    if ca is not None:
        out += _chain_problems(certs, Path(ca), cf)
    return out


def _key_problems(leaf: x509.Certificate, key: Path) -> list[CertProblem]:
    from cryptography.hazmat.primitives import serialization

    try:
        pk = serialization.load_pem_private_key(key.read_bytes(), password=None)
    except OSError as exc:
        return [CertProblem("unreadable", str(key), f"cannot read: {exc.strerror or exc}")]
    except (ValueError, TypeError) as exc:
        return [CertProblem("key", str(key),
                            f"not an unencrypted PEM private key ({_reason(exc)})")]
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if pk.public_key().public_bytes(der, spki) != leaf.public_key().public_bytes(der, spki):
        return [CertProblem("key", str(key), "this private key does not belong to the "
                            "certificate (their public keys differ)")]
    return []


def _chain_problems(certs: list[x509.Certificate], ca: Path, cf: str) -> list[CertProblem]:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature

    try:
        roots = x509.load_pem_x509_certificates(ca.read_bytes())
    except OSError as exc:
        return [CertProblem("unreadable", str(ca), f"cannot read: {exc.strerror or exc}")]
    except ValueError as exc:
        return [CertProblem("unreadable", str(ca), f"not a PEM certificate ({_reason(exc)})")]
    cur, pool = certs[0], certs[1:]
    for _ in range(8):
        for cand in [*roots, *pool]:
            if cand.subject != cur.issuer:
                continue
            try:
                cur.verify_directly_issued_by(cand)
            except (ValueError, TypeError, InvalidSignature):
                continue
            if any(cand is r for r in roots):
                return []
            cur = cand
            break
        else:
            break
    return [CertProblem("chain", cf, f"does not chain to the CA in {ca}: no certificate "
                        f"there (or intermediate in the file) signed "
                        f"{cur.subject.rfc4514_string()} (issuer {cur.issuer.rfc4514_string()})")]
