//! Signing a manifest, authenticating a signature, and comparing a signed manifest with
//! the model on disk.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::bundle::{self, Material, PAYLOAD_TYPE};
use crate::cert::{Cert, verify_chain};
use crate::error::{Error, Result};
use crate::keys::{SigningKey, VerifyingKey};
use crate::manifest::{Manifest, Method, parse_shard_name};
use crate::model::{
    GIT_PATHS, HashOptions, Progress, hash_model, is_ignored, normalize_ignore_path,
};

/// How the signer identifies itself in the bundle.
#[derive(Debug, Clone)]
pub enum Identity {
    /// A bare public key (the bundle carries its hint).
    PublicKey,
    /// A certificate chain, leaf first; the leaf must hold the signing key.
    Certificates(Vec<Cert>),
}

/// Signs `manifest` and returns the bundle JSON.
///
/// With certificates, the leaf must match the key, be valid at `now` and allow code
/// signing: model signing 1.x signs with any certificate and lets verification fail
/// later; ward refuses up front.
pub fn sign(
    manifest: &Manifest,
    key: &SigningKey,
    identity: &Identity,
    now: SystemTime,
) -> Result<String> {
    let public = key.verifying_key();
    let material = match identity {
        Identity::PublicKey => Material::PublicKey {
            hint: Some(public.hint()?),
        },
        Identity::Certificates(chain) => {
            let Some(leaf) = chain.first() else {
                return Err(Error::Certificate {
                    which: "chain".to_owned(),
                    detail: "no certificate given".to_owned(),
                });
            };
            let cert_error = |detail: String| Error::Certificate {
                which: format!("`{}`", leaf.subject()),
                detail,
            };
            if leaf.public_key().map_err(cert_error)? != public {
                return Err(cert_error(
                    "its public key does not match the private key\nhint: pass the certificate issued for this key".to_owned(),
                ));
            }
            leaf.check_validity(now).map_err(cert_error)?;
            leaf.check_leaf_usage().map_err(cert_error)?;
            Material::Certificates(chain.iter().map(|c| c.der().to_vec()).collect())
        }
    };
    let payload = bundle::statement_json(manifest);
    let signature = key.sign_der(&bundle::pae(PAYLOAD_TYPE, payload.as_bytes()))?;
    Ok(bundle::bundle_json(
        &material,
        payload.as_bytes(),
        &signature,
    ))
}

/// What a signature is checked against.
#[derive(Debug, Clone)]
pub enum Trust {
    /// The signer's public key.
    Key(VerifyingKey),
    /// Trusted root certificates; the bundle's chain must lead to one of them.
    Roots(Vec<Cert>),
}

/// Parses and authenticates the bundle `bytes` read from `path`, and returns the signed
/// manifest. Nothing in the bundle is used before its signature is verified, except
/// what is needed to verify it.
pub fn authenticate(path: &Path, bytes: &[u8], trust: &Trust, now: SystemTime) -> Result<Manifest> {
    let malformed = |detail: String| Error::Malformed {
        path: path.to_path_buf(),
        detail,
    };
    let bad = |detail: String| Error::BadSignature {
        path: path.to_path_buf(),
        detail,
    };
    let bundle = bundle::parse_bundle(bytes).map_err(malformed)?;
    if bundle.payload_type != PAYLOAD_TYPE {
        return Err(malformed(format!(
            "DSSE payload type is `{}`, expected `{PAYLOAD_TYPE}`",
            bundle.payload_type
        )));
    }
    let key = match (trust, &bundle.material) {
        (Trust::Key(key), Material::PublicKey { hint }) => {
            let ours = key.hint()?;
            if let Some(hint) = hint
                && !hint.eq_ignore_ascii_case(&ours)
            {
                return Err(bad(format!(
                    "wrong key: the signature names a key with hint `{hint}`, the given public key has hint `{ours}`"
                )));
            }
            key.clone()
        }
        (Trust::Key(_), Material::Certificates(_)) => {
            return Err(bad(
                "the signature carries a certificate chain, not a bare key\nhint: use `ward verify certificate --ca ROOT.pem`".to_owned(),
            ));
        }
        (Trust::Roots(_), Material::PublicKey { .. }) => {
            return Err(Error::Untrusted {
                path: path.to_path_buf(),
                detail: "the signature was made with a bare key, not a certificate\nhint: use `ward verify key --public-key KEY.pem`".to_owned(),
            });
        }
        (Trust::Roots(roots), Material::Certificates(ders)) => {
            let chain = ders
                .iter()
                .enumerate()
                .map(|(i, der)| {
                    Cert::from_der(der).map_err(|e| format!("certificate {i} of the chain: {e}"))
                })
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(malformed)?;
            verify_chain(&chain, roots, now).map_err(|detail| Error::Untrusted {
                path: path.to_path_buf(),
                detail,
            })?
        }
    };
    let message = bundle::pae(PAYLOAD_TYPE, &bundle.payload);
    if !key.verify_der(&message, &bundle.signature) {
        return Err(bad(format!(
            "bad signature: the {} signature does not verify over the payload (the payload was edited, or it was signed by another key)",
            key.curve()
        )));
    }
    bundle::parse_statement(&bundle.payload).map_err(malformed)
}

/// A resource whose digest differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    /// Resource name.
    pub name: String,
    /// `algorithm:hex` as signed.
    pub signed: String,
    /// `algorithm:hex` as found on disk.
    pub found: String,
}

/// How a model differs from its signed manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManifestDiff {
    /// On disk, not in the signature.
    pub added: Vec<String>,
    /// In the signature, not on disk.
    pub missing: Vec<String>,
    /// On both, with different digests.
    pub changed: Vec<Changed>,
}

impl ManifestDiff {
    /// True when nothing differs.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.missing.is_empty() && self.changed.is_empty()
    }
}

impl fmt::Display for ManifestDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut lines = Vec::new();
        for name in &self.added {
            lines.push(format!("  added (not signed): `{name}`"));
        }
        for name in &self.missing {
            lines.push(format!("  missing (signed, not found): `{name}`"));
        }
        for c in &self.changed {
            lines.push(format!(
                "  changed: `{}`: signed `{}`, found `{}`",
                c.name, c.signed, c.found
            ));
        }
        f.write_str(&lines.join("\n"))
    }
}

/// The file a resource name refers to (the name itself, or the path part of a shard
/// name).
pub fn resource_file(name: &str, method: Method) -> &str {
    match method {
        Method::Files => name,
        Method::Shards { .. } => parse_shard_name(name).map_or(name, |(path, _, _)| path),
    }
}

/// Compares the signed manifest with the one computed from disk.
///
/// With `ignore_unsigned`, files on disk that the signature does not mention are left
/// out. The model is always listed from disk rather than by opening the names the
/// signature lists, so a crafted name such as `../../etc/passwd` is never opened.
pub fn compare(signed: &Manifest, actual: &Manifest, ignore_unsigned: bool) -> ManifestDiff {
    let method = signed.serialization.method;
    let signed_files: BTreeSet<&str> = signed
        .resources
        .iter()
        .map(|r| resource_file(&r.name, method))
        .collect();
    let expected: BTreeMap<&str, (&str, &[u8])> = signed
        .resources
        .iter()
        .map(|r| (r.name.as_str(), (r.algorithm.as_str(), r.digest.as_slice())))
        .collect();
    let mut found: BTreeMap<&str, (&str, &[u8])> = BTreeMap::new();
    for r in &actual.resources {
        if ignore_unsigned && !signed_files.contains(resource_file(&r.name, method)) {
            continue;
        }
        found.insert(r.name.as_str(), (r.algorithm.as_str(), r.digest.as_slice()));
    }
    let mut diff = ManifestDiff::default();
    for (name, (alg, digest)) in &found {
        match expected.get(name) {
            None => diff.added.push((*name).to_owned()),
            Some((signed_alg, signed_digest)) => {
                if signed_alg != alg || signed_digest != digest {
                    diff.changed.push(Changed {
                        name: (*name).to_owned(),
                        signed: format!("{signed_alg}:{}", hex::encode(signed_digest)),
                        found: format!("{alg}:{}", hex::encode(digest)),
                    });
                }
            }
        }
    }
    for name in expected.keys() {
        if !found.contains_key(name) {
            diff.missing.push((*name).to_owned());
        }
    }
    diff
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::HashAlgorithm;
    use crate::manifest::{Resource, Serialization};

    fn manifest(items: &[(&str, u8)]) -> Manifest {
        Manifest {
            model_name: "m".into(),
            serialization: Serialization {
                method: Method::Files,
                hash: HashAlgorithm::Sha256,
                allow_symlinks: false,
                ignore_paths: vec![],
            },
            resources: items
                .iter()
                .map(|(n, d)| Resource {
                    name: (*n).into(),
                    algorithm: "sha256".into(),
                    digest: vec![*d; 32],
                })
                .collect(),
        }
    }

    #[test]
    fn diff_names_added_missing_and_changed() {
        let signed = manifest(&[("a", 1), ("b", 2), ("c", 3)]);
        let actual = manifest(&[("a", 1), ("b", 9), ("d", 4)]);
        let diff = compare(&signed, &actual, false);
        assert_eq!(diff.added, vec!["d"]);
        assert_eq!(diff.missing, vec!["c"]);
        assert_eq!(diff.changed.len(), 1);
        assert_eq!(diff.changed[0].name, "b");
        assert!(diff.changed[0].signed.starts_with("sha256:0202"));
        assert!(diff.changed[0].found.starts_with("sha256:0909"));
        let diff = compare(&signed, &actual, true);
        assert!(diff.added.is_empty());
        assert!(compare(&signed, &signed, false).is_empty());
    }

    #[test]
    fn sign_then_authenticate_with_key() {
        let key = SigningKey::P256(p256::ecdsa::SigningKey::from_slice(&[3u8; 32]).unwrap());
        let other = SigningKey::P256(p256::ecdsa::SigningKey::from_slice(&[4u8; 32]).unwrap());
        let m = manifest(&[("a", 1)]);
        let now = SystemTime::now();
        let json = sign(&m, &key, &Identity::PublicKey, now).unwrap();
        let path = Path::new("model.sig");
        let got =
            authenticate(path, json.as_bytes(), &Trust::Key(key.verifying_key()), now).unwrap();
        assert_eq!(got, m);
        let err = authenticate(
            path,
            json.as_bytes(),
            &Trust::Key(other.verifying_key()),
            now,
        )
        .unwrap_err();
        assert!(err.to_string().contains("wrong key"), "{err}");
        assert!(err.is_verification_failure());
        let err = authenticate(path, json.as_bytes(), &Trust::Roots(vec![]), now).unwrap_err();
        assert!(matches!(err, Error::Untrusted { .. }), "{err}");
    }
}

/// Largest signature file read; a manifest of a million files is about 200 MB.
pub const MAX_SIGNATURE_LEN: u64 = 512 << 20;

/// Reads a signature file, refusing one larger than [`MAX_SIGNATURE_LEN`].
pub fn read_signature(path: &Path) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io("open signature", path, e))?;
    let mut bytes = Vec::new();
    file.take(MAX_SIGNATURE_LEN.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("read signature", path, e))?;
    if bytes.len() as u64 > MAX_SIGNATURE_LEN {
        return Err(Error::Malformed {
            path: path.to_path_buf(),
            detail: format!(
                "larger than {MAX_SIGNATURE_LEN} bytes; check that it names the signature file, not a model file"
            ),
        });
    }
    Ok(bytes)
}

/// Resolves `path` (relative to the current directory) to a path relative to the model
/// root `model_root` (canonical), or `None` if it lies outside the model. Resolution
/// follows links in the existing part of the path, as model signing does.
pub fn relative_to_model(model_root: &Path, path: &Path) -> Option<String> {
    let absolute = std::path::absolute(path).ok()?;
    let resolved = match (absolute.parent(), absolute.file_name()) {
        (Some(parent), Some(name)) => std::fs::canonicalize(parent).ok()?.join(name),
        _ => absolute,
    };
    let resolved = std::fs::canonicalize(&resolved).unwrap_or(resolved);
    normalize_ignore_path(resolved.strip_prefix(model_root).ok()?)
}

/// How [`verify_model`] treats files beyond the signature.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Paths to leave out, relative to the model root (see [`relative_to_model`]).
    pub ignore_paths: Vec<String>,
    /// Follow symbolic links inside the model.
    pub allow_symlinks: bool,
    /// Tolerate files on disk that the signature does not list.
    pub ignore_unsigned_files: bool,
}

/// Authenticates the signature at `signature` against `trust`, hashes the model at
/// `model` the way the signature records, and compares the two. Returns the signed
/// manifest when every file matches; a mismatch is [`Error::Mismatch`].
///
/// The signature file itself (when it lies inside the model) and the paths the signature
/// lists as ignored are left out of the hash.
pub fn verify_model(
    model: &Path,
    signature: &Path,
    trust: &Trust,
    options: &VerifyOptions,
    progress: Progress,
    now: SystemTime,
) -> Result<Manifest> {
    let bytes = read_signature(signature)?;
    let signed = authenticate(signature, &bytes, trust, now)?;
    // The model is hashed with the serialization the (now authenticated) signature
    // records, leaving out the paths it lists plus the signature file itself.
    let root = std::fs::canonicalize(model).map_err(|e| Error::io("read", model, e))?;
    let mut ignore = options.ignore_paths.clone();
    ignore.extend(relative_to_model(&root, signature));
    ignore.extend(signed.serialization.ignore_paths.iter().cloned());
    ignore.sort();
    ignore.dedup();
    let hash_options = HashOptions {
        method: signed.serialization.method,
        hash: signed.serialization.hash,
        allow_symlinks: options.allow_symlinks,
        ignore_paths: ignore,
    };
    let mut actual = hash_model(model, &hash_options, progress)?;
    if signed.serialization.ignore_paths.is_empty() {
        // Model signing 1.0 left git files out without recording it in the signature.
        // Unsigned git files are tolerated for such signatures; signed ones are still
        // compared.
        let git: Vec<String> = GIT_PATHS.iter().map(|p| (*p).to_owned()).collect();
        let names: BTreeSet<&str> = signed.resources.iter().map(|r| r.name.as_str()).collect();
        actual.resources.retain(|r| {
            names.contains(r.name.as_str())
                || !is_ignored(resource_file(&r.name, signed.serialization.method), &git)
        });
    }
    let diff = compare(&signed, &actual, options.ignore_unsigned_files);
    if !diff.is_empty() {
        return Err(Error::Mismatch {
            path: PathBuf::from(model),
            diff,
        });
    }
    Ok(signed)
}
