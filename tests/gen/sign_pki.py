"""Generates the keys and X.509 certificates that the `ward sign` tests use.

Everything is made fresh in the output directory on every run and never committed:
ECDSA keys in each PEM form ward reads, a root -> intermediate -> leaf chain for code
signing, and certificates that must be refused (expired, untrusted root, TLS usage).

Usage: python sign_pki.py OUTDIR
"""

import datetime
import pathlib
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PASSWORD = b"ward-test-password"


def write_key(out, name, key, fmt, encryption=serialization.NoEncryption()):
    (out / f"{name}.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, fmt, encryption)
    )
    (out / f"{name}.pub").write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
    )


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def certificate(subject_key, subject, issuer_key, issuer, *, ca, path_len=None,
                not_before, not_after, eku=ExtendedKeyUsageOID.CODE_SIGNING,
                hash_alg=hashes.SHA256()):
    builder = (
        x509.CertificateBuilder()
        .subject_name(name(subject))
        .issuer_name(name(issuer))
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_len), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca, content_commitment=False,
                key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
    )
    if not ca:
        builder = builder.add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
    return builder.sign(issuer_key, hash_alg)


def write_cert(out, fname, cert):
    (out / fname).write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def main():
    out = pathlib.Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    sec1 = serialization.PrivateFormat.TraditionalOpenSSL
    pkcs8 = serialization.PrivateFormat.PKCS8

    write_key(out, "p256", ec.generate_private_key(ec.SECP256R1()), sec1)
    write_key(out, "p384", ec.generate_private_key(ec.SECP384R1()), pkcs8)
    write_key(out, "p521", ec.generate_private_key(ec.SECP521R1()), pkcs8)
    write_key(out, "other", ec.generate_private_key(ec.SECP256R1()), pkcs8)
    write_key(
        out, "encrypted", ec.generate_private_key(ec.SECP256R1()), pkcs8,
        serialization.BestAvailableEncryption(PASSWORD),
    )
    (out / "password.txt").write_bytes(PASSWORD + b"\n")

    now = datetime.datetime.now(datetime.timezone.utc)
    day = datetime.timedelta(days=1)
    root_key = ec.generate_private_key(ec.SECP384R1())
    root = certificate(root_key, "ward test root", root_key, "ward test root", ca=True,
                       not_before=now - day, not_after=now + 3650 * day,
                       hash_alg=hashes.SHA384())
    int_key = ec.generate_private_key(ec.SECP256R1())
    inter = certificate(int_key, "ward test intermediate", root_key, "ward test root",
                        ca=True, path_len=0, not_before=now - day,
                        not_after=now + 3650 * day, hash_alg=hashes.SHA384())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    write_key(out, "leaf", leaf_key, pkcs8)
    leaf = certificate(leaf_key, "ward test signer", int_key, "ward test intermediate",
                       ca=False, not_before=now - day, not_after=now + 365 * day)
    # Valid in 2020 only, issued by an intermediate that did not exist yet: model
    # signing checks the chain at the leaf's notBefore and ward checks it now, so both
    # refuse it.
    expired = certificate(
        leaf_key, "ward expired signer", int_key, "ward test intermediate", ca=False,
        not_before=datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc),
        not_after=datetime.datetime(2021, 1, 1, tzinfo=datetime.timezone.utc),
    )
    tls = certificate(leaf_key, "ward tls server", int_key, "ward test intermediate",
                      ca=False, not_before=now - day, not_after=now + 365 * day,
                      eku=ExtendedKeyUsageOID.SERVER_AUTH)
    other_root_key = ec.generate_private_key(ec.SECP256R1())
    other_root = certificate(other_root_key, "ward other root", other_root_key,
                             "ward other root", ca=True, not_before=now - day,
                             not_after=now + 3650 * day)
    write_cert(out, "root.crt", root)
    write_cert(out, "int.crt", inter)
    write_cert(out, "leaf.crt", leaf)
    write_cert(out, "expired.crt", expired)
    write_cert(out, "tls.crt", tls)
    write_cert(out, "other-root.crt", other_root)


if __name__ == "__main__":
    main()
