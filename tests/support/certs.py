"""Certificates for spiffe_x509 tests, made with `cryptography`: CAs (root, intermediate) and
X.509-SVIDs (a leaf with one URI SAN), as PEM."""

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
_KEY_USAGE = dict(content_commitment=False, key_encipherment=False, data_encipherment=False, key_agreement=False,
                  encipher_only=False, decipher_only=False)


@dataclass(frozen=True)
class Authority:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def pem(self) -> str:
        return pem(self.certificate)


def pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _builder(name: str, issuer: x509.Name, key, days: int) -> x509.CertificateBuilder:
    return (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(issuer).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(START).not_valid_after(START + timedelta(days=days)))


def authority(name: str = "mesh root", parent: Authority | None = None, days: int = 3650, ca: bool = True) -> Authority:
    """A CA certificate (self-signed, or issued by `parent`); ca=False: a certificate that is no CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = _builder(name, parent.certificate.subject if parent else subject, key, days).add_extension(
        x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    if ca:
        builder = builder.add_extension(x509.KeyUsage(digital_signature=False, key_cert_sign=True, crl_sign=True,
                                                      **_KEY_USAGE), critical=True)
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    if parent:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            parent.key.public_key()), critical=False)
    return Authority(builder.sign(parent.key if parent else key, hashes.SHA256()), key)


def svid(issuer: Authority, *uris: str, days: int = 365) -> x509.Certificate:
    """An X.509-SVID issued by `issuer`: its URI SANs in order (the first is the SPIFFE ID clouds read)."""
    key = ec.generate_private_key(ec.SECP256R1())
    return (_builder("workload", issuer.certificate.subject, key, days)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False, **_KEY_USAGE),
                           critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(u) for u in uris]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False)
            .sign(issuer.key, hashes.SHA256()))
