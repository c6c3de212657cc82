"""A development certificate authority and one certificate per identity of the mesh.

    python -m mesh.auth.dev_certs .oms/tls                 # ca.pem, gateway.pem, order.pem, ...
    python -m mesh.auth.dev_certs DIR --name extra --host my-host.example

Writes ``ca.pem`` (and its key, ``ca-key.pem``, mode 0600 like every key) and, for each
identity, ``<name>.pem`` / ``<name>-key.pem``: common name the identity, subject alternative
names the identity itself (the compose hostnames are the identities), ``localhost``,
``127.0.0.1``, ``::1`` and any ``--host``. Every certificate is good for both ends of mutual
TLS (serverAuth and clientAuth), so a service uses one certificate for its own port and for
the calls it makes. Development only: production certificates come from the deployment's own
CA (docs/operations.md, "Turning TLS on in production").
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# The gateway, the three services, and the operator's tools (mesh.cli, grpcurl, health probes).
IDENTITIES = ("gateway", "order", "inventory", "notify", "payment", "oms-operator")
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
VALID_DAYS = 365


@dataclass(frozen=True)
class Authority:
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _alt_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def new_authority(name: str = "OMS development CA") -> Authority:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
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
    return Authority(key, certificate)


def issue(authority: Authority, identity: str, hosts: Sequence[str] = ()) -> tuple[bytes, bytes]:
    """(certificate PEM, private key PEM) for ``identity``, signed by ``authority``."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    names = list(dict.fromkeys([identity, *LOCAL_HOSTS, *hosts]))
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, identity)]))
        .issuer_name(authority.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([_alt_name(name) for name in names]), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.key.public_key()), critical=False)
        .sign(authority.key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM), _pem_key(key)


def write(directory: Path, identities: Sequence[str] = IDENTITIES, hosts: Sequence[str] = ()) -> Authority:
    """A new CA in ``directory`` and a certificate for each identity (private keys mode 0600)."""
    directory.mkdir(parents=True, exist_ok=True)
    authority = new_authority()
    (directory / "ca.pem").write_bytes(authority.certificate.public_bytes(serialization.Encoding.PEM))
    _write_secret(directory / "ca-key.pem", _pem_key(authority.key))
    for identity in identities:
        certificate, key = issue(authority, identity, hosts)
        (directory / f"{identity}.pem").write_bytes(certificate)
        _write_secret(directory / f"{identity}-key.pem", key)
    return authority


def _write_secret(path: Path, data: bytes) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_bytes(data)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mesh.auth.dev_certs", description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--name", action="append", default=[], help="another identity to issue (repeatable)")
    parser.add_argument("--host", action="append", default=[], help="another SAN on every certificate (repeatable)")
    args = parser.parse_args(argv)
    identities = list(dict.fromkeys([*IDENTITIES, *args.name]))
    write(args.directory, identities, args.host)
    sys.stdout.write(f"development CA and certificates for {', '.join(identities)} in {args.directory}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
