//! X.509 certificate chains for certificate bundles: path building from the leaf to a
//! trusted root, signature, validity, CA and key-usage checks. Each failure says which
//! certificate and which check.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use der::oid::ObjectIdentifier;
use der::{Decode, Encode};
use sha2::Digest as _;
use x509_cert::Certificate;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage};

use crate::keys::VerifyingKey;

/// Longest chain (leaf, intermediates, root) we follow.
pub const MAX_CHAIN_LEN: usize = 10;

const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
/// Extensions whose meaning we either check or that carry no constraint for us, so that
/// a critical one can be accepted. Any other critical extension is refused (RFC 5280
/// section 4.2: a verifier must reject a certificate with a critical extension it does
/// not process).
const UNDERSTOOD: [&str; 6] = [
    "2.5.29.15", // key usage
    "2.5.29.37", // extended key usage
    "2.5.29.19", // basic constraints
    "2.5.29.17", // subject alternative name
    "2.5.29.14", // subject key identifier
    "2.5.29.35", // authority key identifier
];

/// A parsed certificate together with its DER bytes.
#[derive(Debug, Clone)]
pub struct Cert {
    der: Vec<u8>,
    cert: Certificate,
}

impl Cert {
    /// Parses a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, String> {
        let cert = Certificate::from_der(der)
            .map_err(|e| format!("not a valid X.509 certificate: {e}"))?;
        Ok(Cert {
            der: der.to_vec(),
            cert,
        })
    }

    /// The DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The subject, RFC 4514 style.
    pub fn subject(&self) -> String {
        self.cert.tbs_certificate().subject().to_string()
    }

    /// The certificate's public key.
    pub fn public_key(&self) -> Result<VerifyingKey, String> {
        let spki = self
            .cert
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(|e| format!("cannot encode the public key of `{}`: {e}", self.subject()))?;
        VerifyingKey::from_spki_der(&spki)
            .map_err(|e| format!("certificate `{}`: {e}", self.subject()))
    }

    fn label(&self) -> String {
        format!("`{}`", self.subject())
    }

    /// Checks that `time` lies within the validity period.
    pub fn check_validity(&self, time: SystemTime) -> Result<(), String> {
        let validity = self.cert.tbs_certificate().validity();
        let now = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        let not_before = validity.not_before.to_unix_duration();
        let not_after = validity.not_after.to_unix_duration();
        if now < not_before {
            return Err(format!(
                "certificate {} is not valid yet: valid from {}",
                self.label(),
                validity.not_before
            ));
        }
        if now > not_after {
            return Err(format!(
                "certificate {} expired: valid until {}",
                self.label(),
                validity.not_after
            ));
        }
        Ok(())
    }

    fn check_critical_extensions(&self) -> Result<(), String> {
        for ext in self
            .cert
            .tbs_certificate()
            .extensions()
            .into_iter()
            .flatten()
        {
            let oid = ext.extn_id.to_string();
            if ext.critical && !UNDERSTOOD.contains(&oid.as_str()) {
                return Err(format!(
                    "certificate {} has a critical extension `{oid}` that is not supported",
                    self.label()
                ));
            }
        }
        Ok(())
    }

    /// Checks that a leaf may sign models: key usage with `digitalSignature` and extended
    /// key usage with `codeSigning`, both present.
    ///
    /// Model signing 1.x accepts a certificate when either one allows signing; requiring
    /// both stops a TLS server certificate (digitalSignature, serverAuth) from being used
    /// to sign models.
    pub fn check_leaf_usage(&self) -> Result<(), String> {
        let tbs = self.cert.tbs_certificate();
        let ku = tbs
            .get_extension::<KeyUsage>()
            .map_err(|e| format!("certificate {}: malformed key usage: {e}", self.label()))?;
        match ku {
            Some((_, ku)) if ku.digital_signature() => {}
            Some(_) => {
                return Err(format!(
                    "wrong key usage: certificate {} does not allow `digitalSignature`",
                    self.label()
                ));
            }
            None => {
                return Err(format!(
                    "wrong key usage: certificate {} has no key usage extension (expected `digitalSignature`)",
                    self.label()
                ));
            }
        }
        let eku = tbs.get_extension::<ExtendedKeyUsage>().map_err(|e| {
            format!(
                "certificate {}: malformed extended key usage: {e}",
                self.label()
            )
        })?;
        match eku {
            Some((_, eku)) if eku.0.contains(&CODE_SIGNING) => {}
            Some(_) => {
                return Err(format!(
                    "wrong key usage: certificate {} does not allow code signing (extended key usage `1.3.6.1.5.5.7.3.3`)",
                    self.label()
                ));
            }
            None => {
                return Err(format!(
                    "wrong key usage: certificate {} has no extended key usage extension (expected code signing)",
                    self.label()
                ));
            }
        }
        self.check_critical_extensions()
    }

    /// Checks that this certificate may issue others: basic constraints `CA:TRUE`, key
    /// usage `keyCertSign` when key usage is present, and the path length constraint
    /// against the number of intermediates below it.
    fn check_ca(&self, intermediates_below: usize) -> Result<(), String> {
        let tbs = self.cert.tbs_certificate();
        let bc = tbs.get_extension::<BasicConstraints>().map_err(|e| {
            format!(
                "certificate {}: malformed basic constraints: {e}",
                self.label()
            )
        })?;
        let Some((_, bc)) = bc.filter(|(_, bc)| bc.ca) else {
            return Err(format!(
                "certificate {} issued another certificate but is not a CA (basic constraints `CA:TRUE` missing)",
                self.label()
            ));
        };
        if let Some(max) = bc.path_len_constraint
            && intermediates_below > usize::from(max)
        {
            return Err(format!(
                "certificate {} allows {max} intermediate certificates below it, the chain has {intermediates_below}",
                self.label()
            ));
        }
        let ku = tbs
            .get_extension::<KeyUsage>()
            .map_err(|e| format!("certificate {}: malformed key usage: {e}", self.label()))?;
        if let Some((_, ku)) = ku
            && !ku.key_cert_sign()
        {
            return Err(format!(
                "certificate {} is a CA without the `keyCertSign` key usage",
                self.label()
            ));
        }
        self.check_critical_extensions()
    }

    /// Whether `issuer` signed this certificate (names match and the signature verifies).
    fn issued_by(&self, issuer: &Cert) -> Result<bool, String> {
        if self.cert.tbs_certificate().issuer() != issuer.cert.tbs_certificate().subject() {
            return Ok(false);
        }
        let tbs = self
            .cert
            .tbs_certificate()
            .to_der()
            .map_err(|e| format!("cannot encode certificate {}: {e}", self.label()))?;
        let oid = self.cert.signature_algorithm().oid;
        let prehash = if oid == ECDSA_SHA256 {
            sha2::Sha256::digest(&tbs).to_vec()
        } else if oid == ECDSA_SHA384 {
            sha2::Sha384::digest(&tbs).to_vec()
        } else if oid == ECDSA_SHA512 {
            sha2::Sha512::digest(&tbs).to_vec()
        } else {
            return Err(format!(
                "certificate {} is signed with algorithm `{oid}`; only ECDSA with SHA-256, SHA-384 or SHA-512 is supported",
                self.label()
            ));
        };
        let Some(signature) = self.cert.signature().as_bytes() else {
            return Ok(false);
        };
        let key = issuer.public_key()?;
        Ok(key.verify_prehash_der(&prehash, signature))
    }
}

/// Verifies `chain` (leaf first, then the intermediates the bundle carries) against the
/// trusted `roots` at `time`, and returns the leaf's public key.
///
/// Model signing 1.x checks the chain at the leaf's own `notBefore` time, which never
/// rejects an expired certificate; ward checks at `time` (normally now).
pub fn verify_chain(
    chain: &[Cert],
    roots: &[Cert],
    time: SystemTime,
) -> Result<VerifyingKey, String> {
    let [leaf, intermediates @ ..] = chain else {
        return Err("the certificate chain is empty".to_owned());
    };
    if chain.len() > MAX_CHAIN_LEN {
        return Err(format!(
            "the certificate chain has {} certificates, more than the {MAX_CHAIN_LEN} allowed",
            chain.len()
        ));
    }
    leaf.check_validity(time)?;
    leaf.check_leaf_usage()?;
    let mut current = leaf;
    let mut used = vec![false; intermediates.len()];
    let mut below = 0usize;
    for _ in 0..MAX_CHAIN_LEN {
        if roots.iter().any(|root| root.der == current.der) {
            return leaf.public_key();
        }
        for root in roots {
            if current.issued_by(root)? {
                root.check_validity(time)?;
                if !std::ptr::eq(current, leaf) || root.der != leaf.der {
                    root.check_ca(below)?;
                }
                return leaf.public_key();
            }
        }
        let mut next = None;
        for (i, candidate) in intermediates.iter().enumerate() {
            if used.get(i).copied().unwrap_or(true) {
                continue;
            }
            if current.issued_by(candidate)? {
                next = Some((i, candidate));
                break;
            }
        }
        let Some((i, issuer)) = next else {
            return Err(format!(
                "untrusted certificate: {} was issued by `{}`, which is neither a `--ca` root nor a certificate of the chain that verifies",
                current.label(),
                current.cert.tbs_certificate().issuer()
            ));
        };
        if let Some(flag) = used.get_mut(i) {
            *flag = true;
        }
        issuer.check_validity(time)?;
        issuer.check_ca(below)?;
        below = below.saturating_add(1);
        current = issuer;
    }
    Err(format!(
        "untrusted certificate: no path from {} to a `--ca` root within {MAX_CHAIN_LEN} certificates",
        leaf.label()
    ))
}

/// Reads every certificate from PEM text.
pub fn certs_from_pem(text: &[u8]) -> Result<Vec<Cert>, String> {
    let blocks = crate::keys::pem_blocks(text);
    let certs: Vec<Cert> = blocks
        .iter()
        .filter(|(label, _)| label == "CERTIFICATE")
        .map(|(_, der)| Cert::from_der(der))
        .collect::<Result<_, _>>()?;
    if certs.is_empty() {
        return Err("no `CERTIFICATE` PEM block found".to_owned());
    }
    Ok(certs)
}
