"""Trust bundles: the PEM files of CA certificates that spiffe_x509 issuers name (trust_bundle_file).

A bundle is read at load, from inside the spec folder only, and parsed here with `cryptography`. It
holds public CA certificates and nothing else: a private key, any other PEM block, DER, binary or
stray text is an error at its line that never shows the file's content. Whether a certificate has
expired is no error (validity never depends on the time): analysis reports it."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtensionOID

from .issuers import KINDS

FIELD = "trust_bundle_file"  # the issuer field naming the file, relative to the spec file declaring the issuer
SUFFIX = ".pem"  # bundles are named so: a revision copied out of git takes them along with the spec files
MAX_BYTES = 256 * 1024  # ~200 certificates of 4096-bit keys: far more than any trust domain holds
MAX_CERTIFICATES = 50
MAX_PATH = 255  # the schema's limit on the field

# What cryptography raises for DER it cannot read: names and extensions decode only when read
_UNREADABLE = (ValueError, KeyError, x509.InvalidVersion, x509.DuplicateExtension, x509.UnsupportedGeneralNameType)
_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]{1,40})-----\n(.*?)\n?-----END \1-----\n?", re.S)
_BEGIN = "-----BEGIN "


@dataclass(frozen=True)
class Certificate:
    """One CA certificate of a bundle."""
    pem: str  # its PEM block, exactly as the clouds receive it
    subject: str  # RFC 4514
    sha256: str  # fingerprint of the DER, hex
    not_after: datetime  # UTC
    line: int  # where its block begins in the file, 1-based


@dataclass(frozen=True)
class Bundle:
    file: str  # the path as messages show it
    certificates: tuple[Certificate, ...]


class BundleError(ValueError):
    """A bundle that is not public CA certificates only: the line, the message and the fix."""

    def __init__(self, line: int, message: str, fix: str) -> None:
        super().__init__(message)
        self.line, self.message, self.fix = line, message, fix


_ONLY = "keep only -----BEGIN CERTIFICATE----- blocks of the trust domain's CA certificates in the file"


def path_of(spec_file: str, relative: str) -> str:
    """Where the bundle `relative` of an issuer declared in `spec_file` is."""
    return os.path.normpath(os.path.join(os.path.dirname(spec_file), relative))


def fingerprint(pem: str) -> str:
    """The SHA-256 of a PEM certificate's DER, hex, as drift compares certificates; "" if it is none."""
    try:
        return hashlib.sha256(x509.load_pem_x509_certificate(pem.encode("ascii")).public_bytes(
            serialization.Encoding.DER)).hexdigest()
    except (UnicodeEncodeError, *_UNREADABLE):
        return ""


def issuer_label(label: str, bundle: Bundle) -> str:
    """A spiffe_x509 issuer's url, the name identities are told apart by (diff, history): its kind's
    label and its CAs, so that a bundle trusting other CAs is another issuer, not the same access."""
    cas = hashlib.sha256("\0".join(sorted(c.sha256 for c in bundle.certificates)).encode()).hexdigest()
    return f"{label}:ca-{cas[:16]}"


def digest_entry(relative: str, data: bytes) -> bytes:
    """A bundle's part of a spec's digest: its name in the folder and its content's hash."""
    return f"{relative}\0bundle\0".encode() + hashlib.sha256(data).digest()


def parse(data: bytes, file: str) -> Bundle:
    """The bundle in `data`, or BundleError at the first problem."""
    if len(data) > MAX_BYTES:
        raise BundleError(1, f"the bundle is larger than {MAX_BYTES // 1024} KiB",
                          f"a trust bundle holds a few CA certificates; {_ONLY}")
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise BundleError(1, "the bundle is not PEM text (binary content, perhaps DER or a key store)",
                          f"convert it to PEM (openssl x509 -inform der) and {_ONLY}") from None
    text = text.replace("\r\n", "\n")
    if text.count(_BEGIN) > MAX_CERTIFICATES:
        raise BundleError(1, f"the bundle holds more than {MAX_CERTIFICATES} PEM blocks",
                          f"a trust bundle takes at most {MAX_CERTIFICATES} CA certificates")
    certificates: list[Certificate] = []
    seen: dict[str, int] = {}
    at = 0
    for block in _BLOCK.finditer(text):
        _check_between(text, at, block.start())
        at = block.end()
        line = text.count("\n", 0, block.start()) + 1
        certificate = _certificate(block, line)
        if certificate.sha256 in seen:
            raise BundleError(line, f"the same certificate as at line {seen[certificate.sha256]}",
                              "keep one copy of each certificate")
        seen[certificate.sha256] = line
        certificates.append(certificate)
    _check_between(text, at, len(text))
    if not certificates:
        raise BundleError(1, "the bundle holds no certificate", f"add the CA certificates as PEM: {_ONLY}")
    return Bundle(file, tuple(certificates))


def _check_between(text: str, start: int, end: int) -> None:
    """Only blank lines may stand between blocks: a BEGIN there has no matching END, and any other
    text could be a key written without its markers."""
    stray = text[start:end]
    if not stray.strip():
        return
    line = text.count("\n", 0, start + len(stray) - len(stray.lstrip())) + 1
    label = re.match(r"\s*-----BEGIN ([A-Z0-9 ]{1,40})-----", stray)
    if label and "PRIVATE KEY" in label[1]:
        raise _private(line, label[1])
    if label:
        raise BundleError(line, f"a {label[1]} block without its END line", _ONLY)
    raise BundleError(line, "text outside a certificate block (not shown)", _ONLY)


def _private(line: int, label: str) -> BundleError:
    return BundleError(line, f"a private key ({label} block, not shown): a trust bundle holds public certificates only",
                       "remove the key from the file, and replace it: it is in the repository's history now")


def _certificate(block: re.Match, line: int) -> Certificate:
    label = block[1]
    if "PRIVATE KEY" in label:
        raise _private(line, label)
    if label != "CERTIFICATE":
        raise BundleError(line, f"a {label} block, not a certificate", _ONLY)
    try:
        der = base64.b64decode("".join(block[2].split()), validate=True)
        certificate = x509.load_der_x509_certificate(der)
        subject = certificate.subject.rfc4514_string()
        constraints = certificate.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value
    except x509.ExtensionNotFound:
        constraints = None
    except (binascii.Error, *_UNREADABLE):
        raise BundleError(line, "a CERTIFICATE block that is not a readable X.509 certificate",
                          "export the certificate again as PEM") from None
    if constraints is None or not constraints.ca:
        raise BundleError(line, f"the certificate {subject!r} is not a CA (basicConstraints CA:TRUE)",
                          "a bundle holds the CA certificates that issue the SVIDs, not the SVIDs themselves")
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
    return Certificate(pem, subject, hashlib.sha256(der).hexdigest(),
                       certificate.not_valid_after_utc.astimezone(timezone.utc), line)



# X.509-SVIDs presented to `wiam simulate`: a chain, leaf first, as a claims file's "x5c" (PEM strings).
# the claims' iss: the label of the kind whose issuers name a trust bundle (issuers.py)
SVID_ISSUER = next(k.default_url for k in KINDS.values() if FIELD in k.issuer_fields)
MAX_CHAIN = 10


def svid_claims(chain: list) -> dict:
    """The claims the clouds judge an X.509-SVID chain by: iss SVID_ISSUER, sub and san.uri the leaf's
    first URI SAN (what Roles Anywhere's x509SAN/URI tag and GCP's assertion.san.uri read), x5c the
    chain; ValueError saying what is wrong with it."""
    if not isinstance(chain, list) or not 0 < len(chain) <= MAX_CHAIN or not all(isinstance(c, str) for c in chain):
        raise ValueError(f"x5c is a list of 1 to {MAX_CHAIN} PEM certificates, the SVID first")
    try:
        leaf = x509.load_pem_x509_certificate(chain[0].encode("ascii"))
        for other in chain[1:]:
            x509.load_pem_x509_certificate(other.encode("ascii"))
        uris = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.UniformResourceIdentifier)
    except x509.ExtensionNotFound:
        uris = []
    except (UnicodeEncodeError, *_UNREADABLE):
        raise ValueError("x5c holds something that is not a PEM certificate") from None
    if not uris:
        raise ValueError("the SVID (the first certificate of x5c) has no URI SAN, so no SPIFFE ID")
    return {"iss": SVID_ISSUER, "sub": uris[0], "san": {"uri": uris[0]}, "x5c": list(chain)}


def chain_verifies(anchors: list[str], chain: list[str], at: datetime) -> bool:
    """Whether the chain (leaf first, then intermediates) builds to one of the anchors at `at`, as a
    TLS client certificate: signatures, validity, CA and path constraints (cryptography's verifier)."""
    from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

    load = lambda pems: [x509.load_pem_x509_certificate(p.encode("ascii")) for p in pems]  # noqa: E731
    if not anchors:
        return False
    verifier = PolicyBuilder().store(Store(load(anchors))).time(at).build_client_verifier()
    leaf, *intermediates = load(chain)
    try:
        verifier.verify(leaf, intermediates)
    except VerificationError:
        return False
    return True
