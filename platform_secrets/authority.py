"""The site's Consul CA: an EC P-256 key and a self-signed certificate, valid ten years.

The key is written to a file of its own and never into pillar: every pillar value reaches the
hosts it is given to, and the CA key must stay on the machine that renders (the salt-ssh
operator's machine or the salt-master), which signs the agents' certificates there.
"""

import datetime

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from . import Refusal

VALIDITY = datetime.timedelta(days=3650)
# A clock a little behind this machine's still accepts the certificate from the start.
BACKDATE = datetime.timedelta(minutes=5)


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    """PEM ``EC PRIVATE KEY`` (SEC 1), unencrypted: the form OpenSSL, Go (``consul tls``) and
    Salt's x509_v2 all read."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def load_key(path) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as err:
        # The library's message says nothing of the content; it is not repeated anyway.
        raise Refusal(
            f"{path} is not an unencrypted PEM private key: restore the CA key from a backup"
        ) from err
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise Refusal(f"{path} is not an EC private key: restore the CA key from a backup")
    return key


def _subject(key: ec.EllipticCurvePrivateKey) -> x509.Name:
    """Named after its key: two sites' CAs never share a name, and a certificate made again
    from the same key has the same subject, so the certificates it signed still chain to it."""
    key_id = x509.SubjectKeyIdentifier.from_public_key(key.public_key()).digest.hex()
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Consul CA {key_id[:16]}")])


def certificate_pem(key: ec.EllipticCurvePrivateKey) -> str:
    """A self-signed CA certificate of ``key``, which may sign agents' certificates only
    (path length 0)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    public_key = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_subject(key))
        .issuer_name(_subject(key))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now - BACKDATE + VALIDITY)
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def check_pair(certificate: str, key: ec.EllipticCurvePrivateKey, key_file) -> None:
    """Refuse a certificate that is not of this key: the pillar and the key file disagree."""
    name = "secrets:consul:ca:cert"
    try:
        parsed = x509.load_pem_x509_certificate(str(certificate).encode())
    except ValueError as err:
        raise Refusal(
            f"{name} is not a PEM certificate: delete it to make it again from {key_file}"
        ) from err
    der = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if parsed.public_key().public_bytes(*der) != key.public_key().public_bytes(*der):
        raise Refusal(
            f"{name} is not the certificate of the key in {key_file}: restore the key that "
            f"goes with it, or delete {name} to make it again from this key"
        )
