//! ECDSA keys on the curves model signing accepts (P-256, P-384, P-521), read from PEM
//! files, and the signatures they make: DER-encoded, over the message hashed with the
//! digest that matches the curve (SHA-256, SHA-384, SHA-512).

use std::path::Path;

use der::Decode;
use der::pem::LineEnding;
use ecdsa::signature::{Signer as _, Verifier as _};
use pkcs8::DecodePrivateKey;
use spki::{DecodePublicKey, EncodePublicKey};

use crate::error::{Error, Result};
use crate::hash::sha256;

/// Largest key or certificate file we read. Real ones are a few kilobytes; the bound
/// stops a wrong path (a model file, `/dev/zero`) from being read into memory.
pub const MAX_PEM_FILE_LEN: u64 = 1 << 20;

/// A supported curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    /// NIST P-256 with SHA-256.
    P256,
    /// NIST P-384 with SHA-384.
    P384,
    /// NIST P-521 with SHA-512.
    P521,
}

impl std::fmt::Display for Curve {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
        })
    }
}

/// A private signing key.
#[derive(Clone)]
pub enum SigningKey {
    /// P-256.
    P256(p256::ecdsa::SigningKey),
    /// P-384.
    P384(p384::ecdsa::SigningKey),
    /// P-521.
    P521(p521::ecdsa::SigningKey),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        write!(f, "SigningKey({})", self.curve())
    }
}

/// A public verifying key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyingKey {
    /// P-256.
    P256(p256::ecdsa::VerifyingKey),
    /// P-384.
    P384(p384::ecdsa::VerifyingKey),
    /// P-521.
    P521(p521::ecdsa::VerifyingKey),
}

impl SigningKey {
    /// The curve of the key.
    pub fn curve(&self) -> Curve {
        match self {
            SigningKey::P256(_) => Curve::P256,
            SigningKey::P384(_) => Curve::P384,
            SigningKey::P521(_) => Curve::P521,
        }
    }

    /// The matching public key.
    pub fn verifying_key(&self) -> VerifyingKey {
        match self {
            SigningKey::P256(k) => VerifyingKey::P256(*k.verifying_key()),
            SigningKey::P384(k) => VerifyingKey::P384(*k.verifying_key()),
            SigningKey::P521(k) => VerifyingKey::P521(*k.verifying_key()),
        }
    }

    /// Signs `message` (hashed with the curve's digest) and returns the DER signature.
    pub fn sign_der(&self, message: &[u8]) -> Result<Vec<u8>> {
        let failed = |e: ecdsa::signature::Error| Error::InvalidArgument {
            what: "signing key",
            detail: format!("signing failed: {e}"),
        };
        Ok(match self {
            SigningKey::P256(k) => {
                let s: p256::ecdsa::DerSignature = k.try_sign(message).map_err(failed)?;
                s.as_bytes().to_vec()
            }
            SigningKey::P384(k) => {
                let s: p384::ecdsa::DerSignature = k.try_sign(message).map_err(failed)?;
                s.as_bytes().to_vec()
            }
            SigningKey::P521(k) => {
                let s: p521::ecdsa::DerSignature = k.try_sign(message).map_err(failed)?;
                s.as_bytes().to_vec()
            }
        })
    }

    /// Reads a PEM private key: SEC1 (`EC PRIVATE KEY`), PKCS#8 (`PRIVATE KEY`) or
    /// password-encrypted PKCS#8 (`ENCRYPTED PRIVATE KEY`, which needs `password`).
    pub fn from_pem_file(path: &Path, password: Option<&[u8]>) -> Result<Self> {
        let text = read_bounded(path)?;
        let key_error = |detail: String| Error::Key {
            path: path.to_path_buf(),
            detail,
        };
        for (label, der) in pem_blocks(&text) {
            match label.as_str() {
                "EC PRIVATE KEY" => {
                    return from_sec1(&der).ok_or_else(|| {
                        key_error("not an EC private key on P-256, P-384 or P-521".to_owned())
                    });
                }
                "PRIVATE KEY" => return from_pkcs8(&der).map_err(key_error),
                "ENCRYPTED PRIVATE KEY" => {
                    let Some(password) = password else {
                        return Err(key_error(
                            "the private key is encrypted\nhint: pass the file holding its password with `--password-file`".to_owned(),
                        ));
                    };
                    let info = pkcs8::EncryptedPrivateKeyInfoRef::from_der(&der)
                        .map_err(|e| key_error(format!("malformed encrypted private key: {e}")))?;
                    let plain = info.decrypt(password).map_err(|e| {
                        key_error(format!(
                            "cannot decrypt the private key: {e}\nhint: check the password file (one trailing newline is removed)"
                        ))
                    })?;
                    return from_pkcs8(plain.as_bytes()).map_err(key_error);
                }
                _ => {}
            }
        }
        Err(key_error(
            "no `EC PRIVATE KEY`, `PRIVATE KEY` or `ENCRYPTED PRIVATE KEY` PEM block found"
                .to_owned(),
        ))
    }
}

fn from_sec1(der: &[u8]) -> Option<SigningKey> {
    // The secret's length tells the curves apart when the optional parameters are absent;
    // when they are present each constructor checks that they name its own curve.
    if let Ok(k) = p256::SecretKey::from_sec1_der(der) {
        return Some(SigningKey::P256(k.into()));
    }
    if let Ok(k) = p384::SecretKey::from_sec1_der(der) {
        return Some(SigningKey::P384(k.into()));
    }
    if let Ok(k) = p521::SecretKey::from_sec1_der(der) {
        return Some(SigningKey::P521(k.into()));
    }
    None
}

fn from_pkcs8(der: &[u8]) -> std::result::Result<SigningKey, String> {
    if let Ok(k) = p256::SecretKey::from_pkcs8_der(der) {
        return Ok(SigningKey::P256(k.into()));
    }
    if let Ok(k) = p384::SecretKey::from_pkcs8_der(der) {
        return Ok(SigningKey::P384(k.into()));
    }
    if let Ok(k) = p521::SecretKey::from_pkcs8_der(der) {
        return Ok(SigningKey::P521(k.into()));
    }
    let algorithm = pkcs8::PrivateKeyInfoRef::from_der(der)
        .map(|info| describe_algorithm(&info.algorithm))
        .unwrap_or_else(|e| format!("an unreadable key ({e})"));
    Err(format!(
        "unsupported private key: {algorithm}\nhint: model signing uses ECDSA keys on P-256, P-384 or P-521"
    ))
}

fn describe_algorithm(algorithm: &spki::AlgorithmIdentifierRef<'_>) -> String {
    const EC_PUBLIC_KEY: der::oid::ObjectIdentifier =
        der::oid::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
    if algorithm.oid == EC_PUBLIC_KEY {
        let curve = algorithm
            .parameters
            .and_then(|p| p.decode_as::<der::oid::ObjectIdentifier>().ok())
            .map(|oid| oid.to_string())
            .unwrap_or_else(|| "unnamed".to_owned());
        format!("an EC key on curve `{curve}`")
    } else {
        format!("algorithm `{}`", algorithm.oid)
    }
}

impl VerifyingKey {
    /// The curve of the key.
    pub fn curve(&self) -> Curve {
        match self {
            VerifyingKey::P256(_) => Curve::P256,
            VerifyingKey::P384(_) => Curve::P384,
            VerifyingKey::P521(_) => Curve::P521,
        }
    }

    /// Reads a `PUBLIC KEY` (SubjectPublicKeyInfo) PEM file.
    pub fn from_pem_file(path: &Path) -> Result<Self> {
        let text = read_bounded(path)?;
        for (label, der) in pem_blocks(&text) {
            if label == "PUBLIC KEY" {
                return Self::from_spki_der(&der).map_err(|detail| Error::Key {
                    path: path.to_path_buf(),
                    detail,
                });
            }
        }
        Err(Error::Key {
            path: path.to_path_buf(),
            detail: "no `PUBLIC KEY` PEM block found".to_owned(),
        })
    }

    /// Decodes a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> std::result::Result<Self, String> {
        if let Ok(k) = p256::ecdsa::VerifyingKey::from_public_key_der(der) {
            return Ok(VerifyingKey::P256(k));
        }
        if let Ok(k) = p384::ecdsa::VerifyingKey::from_public_key_der(der) {
            return Ok(VerifyingKey::P384(k));
        }
        if let Ok(k) = p521::ecdsa::VerifyingKey::from_public_key_der(der) {
            return Ok(VerifyingKey::P521(k));
        }
        let algorithm = spki::SubjectPublicKeyInfoRef::from_der(der)
            .map(|info| describe_algorithm(&info.algorithm))
            .unwrap_or_else(|e| format!("an unreadable key ({e})"));
        Err(format!(
            "unsupported public key: {algorithm}\nhint: model signing uses ECDSA keys on P-256, P-384 or P-521"
        ))
    }

    /// The key as DER SubjectPublicKeyInfo.
    pub fn to_spki_der(&self) -> Result<Vec<u8>> {
        let doc = match self {
            VerifyingKey::P256(k) => k.to_public_key_der(),
            VerifyingKey::P384(k) => k.to_public_key_der(),
            VerifyingKey::P521(k) => k.to_public_key_der(),
        };
        doc.map(|d| d.as_bytes().to_vec())
            .map_err(|e| Error::InvalidArgument {
                what: "public key",
                detail: format!("cannot encode: {e}"),
            })
    }

    /// The key as PEM text, exactly as Python's `cryptography` writes it (64-column
    /// base64, `\n` line endings), which is what the key hint is computed over.
    pub fn to_pem(&self) -> Result<String> {
        let pem = match self {
            VerifyingKey::P256(k) => k.to_public_key_pem(LineEnding::LF),
            VerifyingKey::P384(k) => k.to_public_key_pem(LineEnding::LF),
            VerifyingKey::P521(k) => k.to_public_key_pem(LineEnding::LF),
        };
        pem.map_err(|e| Error::InvalidArgument {
            what: "public key",
            detail: format!("cannot encode: {e}"),
        })
    }

    /// The key hint model signing records in key bundles: hex SHA-256 of the PEM text.
    pub fn hint(&self) -> Result<String> {
        Ok(hex::encode(sha256(self.to_pem()?.as_bytes())))
    }

    /// Checks a DER signature over an already computed digest (X.509 certificates say
    /// which digest they use, independently of the curve).
    pub fn verify_prehash_der(&self, prehash: &[u8], signature: &[u8]) -> bool {
        use ecdsa::signature::hazmat::PrehashVerifier as _;
        match self {
            VerifyingKey::P256(k) => p256::ecdsa::DerSignature::from_bytes(signature)
                .is_ok_and(|s| k.verify_prehash(prehash, &s).is_ok()),
            VerifyingKey::P384(k) => p384::ecdsa::DerSignature::from_bytes(signature)
                .is_ok_and(|s| k.verify_prehash(prehash, &s).is_ok()),
            VerifyingKey::P521(k) => p521::ecdsa::DerSignature::from_bytes(signature)
                .is_ok_and(|s| k.verify_prehash(prehash, &s).is_ok()),
        }
    }

    /// Checks a DER signature over `message` hashed with the curve's digest.
    pub fn verify_der(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            VerifyingKey::P256(k) => p256::ecdsa::DerSignature::from_bytes(signature)
                .is_ok_and(|s| k.verify(message, &s).is_ok()),
            VerifyingKey::P384(k) => p384::ecdsa::DerSignature::from_bytes(signature)
                .is_ok_and(|s| k.verify(message, &s).is_ok()),
            VerifyingKey::P521(k) => p521::ecdsa::DerSignature::from_bytes(signature)
                .is_ok_and(|s| k.verify(message, &s).is_ok()),
        }
    }
}

/// Reads a small text file (keys, certificates, passwords), refusing anything larger
/// than [`MAX_PEM_FILE_LEN`].
pub fn read_bounded(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| Error::io("open", path, e))?;
    let mut data = Vec::new();
    file.take(MAX_PEM_FILE_LEN.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(|e| Error::io("read", path, e))?;
    if data.len() as u64 > MAX_PEM_FILE_LEN {
        return Err(Error::Key {
            path: path.to_path_buf(),
            detail: format!("file is larger than {MAX_PEM_FILE_LEN} bytes; expected a PEM file"),
        });
    }
    Ok(data)
}

/// Splits PEM text into its (label, DER) blocks, skipping text between blocks and
/// blocks that do not decode.
pub fn pem_blocks(text: &[u8]) -> Vec<(String, Vec<u8>)> {
    const BEGIN: &str = "-----BEGIN ";
    const END: &str = "-----END ";
    let Ok(text) = std::str::from_utf8(text) else {
        return Vec::new();
    };
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let Some(from_begin) = rest.get(start..) else {
            break;
        };
        let Some(end_marker) = from_begin.find(END) else {
            break;
        };
        let Some(after_end) = from_begin.get(end_marker..) else {
            break;
        };
        // The END line runs to the next `-----` after its label.
        let Some(close) = after_end.get(END.len()..).and_then(|s| s.find("-----")) else {
            break;
        };
        let block_len = end_marker
            .saturating_add(END.len())
            .saturating_add(close)
            .saturating_add(5);
        let Some(block) = from_begin.get(..block_len) else {
            break;
        };
        if let Ok((label, der)) = der::pem::decode_vec(block.as_bytes()) {
            blocks.push((label.to_owned(), der));
        }
        rest = from_begin.get(block_len..).unwrap_or("");
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_each_curve_and_reject_other_keys() {
        let keys = [
            SigningKey::P256(p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap()),
            SigningKey::P384(p384::ecdsa::SigningKey::from_slice(&[7u8; 48]).unwrap()),
            SigningKey::P521(
                p521::ecdsa::SigningKey::from_slice(&{
                    let mut b = [7u8; 66];
                    b[0] = 1;
                    b
                })
                .unwrap(),
            ),
        ];
        for key in &keys {
            let public = key.verifying_key();
            let sig = key.sign_der(b"message").unwrap();
            assert!(public.verify_der(b"message", &sig));
            assert!(!public.verify_der(b"messagf", &sig));
            let der = public.to_spki_der().unwrap();
            assert_eq!(VerifyingKey::from_spki_der(&der).unwrap(), public);
            let pem = public.to_pem().unwrap();
            assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
            assert!(pem.ends_with("\n-----END PUBLIC KEY-----\n"));
            assert_eq!(pem_blocks(pem.as_bytes())[0].1, der);
        }
        assert!(
            !keys[0]
                .verifying_key()
                .verify_der(b"message", &keys[1].sign_der(b"message").unwrap())
        );
    }
}
