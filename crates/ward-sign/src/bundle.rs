//! The signature format: an in-toto statement, wrapped in a DSSE envelope, inside a
//! Sigstore bundle (v0.3 JSON), all as model signing 1.x writes and reads them.
//!
//! Writing reproduces the reference layout byte for byte (compact bundle JSON, statement
//! pretty-printed with two spaces). Reading accepts any valid JSON layout and checks
//! every field it relies on, failing closed on anything else.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value};

use crate::hash::HashAlgorithm;
use crate::manifest::{Manifest, Method, Resource, Serialization, parse_shard_name};

/// The bundle media type model signing writes and accepts.
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// The DSSE payload type of an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The in-toto statement type.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The model signing predicate type.
pub const PREDICATE_TYPE: &str = "https://model_signing/signature/v1.0";

/// Largest shard size we accept from a signature; larger values cannot describe a
/// real file and only serve to overflow arithmetic.
const MAX_SHARD_SIZE: u64 = 1 << 62;

/// Base64 as protobuf JSON uses it: standard alphabet, padding optional on input.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The DSSE pre-authentication encoding that the signature covers:
/// `DSSEv1 <len(type)> <type> <len(body)> <body>`.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

fn js(s: &str) -> String {
    // Serialising a `&str` cannot fail; the fallback keeps this panic-free anyway.
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

/// The in-toto statement for `manifest`, laid out as model signing writes it.
pub fn statement_json(manifest: &Manifest) -> String {
    let s = &manifest.serialization;
    let mut out = String::new();
    out.push_str("{\n");
    out.push_str(&format!("  \"_type\": {},\n", js(STATEMENT_TYPE)));
    out.push_str("  \"subject\": [\n    {\n");
    out.push_str(&format!("      \"name\": {},\n", js(&manifest.model_name)));
    out.push_str("      \"digest\": {\n");
    out.push_str(&format!(
        "        \"sha256\": \"{}\"\n",
        hex::encode(manifest.root_digest())
    ));
    out.push_str("      }\n    }\n  ],\n");
    out.push_str(&format!("  \"predicateType\": {},\n", js(PREDICATE_TYPE)));
    out.push_str("  \"predicate\": {\n    \"serialization\": {\n");
    out.push_str(&format!(
        "      \"allow_symlinks\": {},\n",
        s.allow_symlinks
    ));
    out.push_str(&format!("      \"hash_type\": {},\n", js(s.hash.name())));
    let (method, shard) = match s.method {
        Method::Files => ("files", None),
        Method::Shards { shard_size } => ("shards", Some(shard_size)),
    };
    let mut tail = Vec::new();
    tail.push(format!("      \"method\": {}", js(method)));
    if let Some(size) = shard {
        tail.push(format!("      \"shard_size\": {size}"));
    }
    if !s.ignore_paths.is_empty() {
        let items: Vec<String> = s
            .ignore_paths
            .iter()
            .map(|p| format!("        {}", js(p)))
            .collect();
        tail.push(format!(
            "      \"ignore_paths\": [\n{}\n      ]",
            items.join(",\n")
        ));
    }
    out.push_str(&tail.join(",\n"));
    out.push_str("\n    },\n    \"resources\": [");
    let resources: Vec<String> = manifest
        .resources
        .iter()
        .map(|r| {
            format!(
                "\n      {{\n        \"algorithm\": {},\n        \"digest\": \"{}\",\n        \"name\": {}\n      }}",
                js(&r.algorithm),
                hex::encode(&r.digest),
                js(&r.name)
            )
        })
        .collect();
    out.push_str(&resources.join(","));
    out.push_str("\n    ]\n  }\n}");
    out
}

/// What the bundle carries to identify the signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Material {
    /// A key bundle; the hint is the hex SHA-256 of the signer's PEM public key (absent
    /// in bundles written before model signing 1.0.1).
    PublicKey {
        /// The key hint, if any.
        hint: Option<String>,
    },
    /// A certificate bundle: DER certificates, leaf first.
    Certificates(Vec<Vec<u8>>),
}

/// A parsed bundle. Nothing in it is trusted until the signature is checked.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// Signer identification.
    pub material: Material,
    /// The DSSE payload type.
    pub payload_type: String,
    /// The raw DSSE payload (the statement JSON).
    pub payload: Vec<u8>,
    /// The DER ECDSA signature over the PAE.
    pub signature: Vec<u8>,
}

/// Writes a bundle as compact JSON in the field order model signing uses.
pub fn bundle_json(material: &Material, payload: &[u8], signature: &[u8]) -> String {
    let material = match material {
        Material::PublicKey { hint } => match hint {
            Some(hint) => format!(
                "{{\"publicKey\":{{\"hint\":{}}},\"tlogEntries\":[]}}",
                js(hint)
            ),
            None => "{\"publicKey\":{},\"tlogEntries\":[]}".to_owned(),
        },
        Material::Certificates(certs) => {
            let certs: Vec<String> = certs
                .iter()
                .map(|c| format!("{{\"rawBytes\":\"{}\"}}", BASE64.encode(c)))
                .collect();
            format!(
                "{{\"x509CertificateChain\":{{\"certificates\":[{}]}},\"tlogEntries\":[]}}",
                certs.join(",")
            )
        }
    };
    format!(
        "{{\"mediaType\":{},\"verificationMaterial\":{},\"dsseEnvelope\":{{\"payload\":\"{}\",\"payloadType\":{},\"signatures\":[{{\"sig\":\"{}\",\"keyid\":\"\"}}]}}}}",
        js(BUNDLE_MEDIA_TYPE),
        material,
        BASE64.encode(payload),
        js(PAYLOAD_TYPE),
        BASE64.encode(signature)
    )
}

fn field<'a>(object: &'a Map<String, Value>, name: &str, at: &str) -> Result<&'a Value, String> {
    object
        .get(name)
        .ok_or_else(|| format!("`{at}` has no `{name}` field"))
}

fn object<'a>(value: &'a Value, at: &str) -> Result<&'a Map<String, Value>, String> {
    value
        .as_object()
        .ok_or_else(|| format!("`{at}` is not a JSON object"))
}

fn string<'a>(value: &'a Value, at: &str) -> Result<&'a str, String> {
    value
        .as_str()
        .ok_or_else(|| format!("`{at}` is not a string"))
}

fn array<'a>(value: &'a Value, at: &str) -> Result<&'a Vec<Value>, String> {
    value
        .as_array()
        .ok_or_else(|| format!("`{at}` is not an array"))
}

fn base64_field(value: &Value, at: &str) -> Result<Vec<u8>, String> {
    BASE64
        .decode(string(value, at)?)
        .map_err(|e| format!("`{at}` is not valid base64: {e}"))
}

/// Parses a bundle file. Checks its structure, not its signature.
pub fn parse_bundle(bytes: &[u8]) -> Result<Bundle, String> {
    let root: Value = serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON: {e}"))?;
    let root = object(&root, "bundle")?;
    let media = string(field(root, "mediaType", "bundle")?, "mediaType")?;
    if media != BUNDLE_MEDIA_TYPE {
        return Err(format!(
            "media type is `{media}`, expected `{BUNDLE_MEDIA_TYPE}`"
        ));
    }
    let vm = object(
        field(root, "verificationMaterial", "bundle")?,
        "verificationMaterial",
    )?;
    let material = match (vm.get("publicKey"), vm.get("x509CertificateChain")) {
        (Some(pk), None) => {
            let pk = object(pk, "verificationMaterial.publicKey")?;
            let hint = match pk.get("hint") {
                None | Some(Value::Null) => None,
                Some(h) => Some(string(h, "verificationMaterial.publicKey.hint")?.to_owned()),
            };
            Material::PublicKey { hint }
        }
        (None, Some(chain)) => {
            let chain = object(chain, "verificationMaterial.x509CertificateChain")?;
            let certs = array(
                field(chain, "certificates", "x509CertificateChain")?,
                "x509CertificateChain.certificates",
            )?;
            if certs.is_empty() {
                return Err("the certificate chain is empty".to_owned());
            }
            let mut ders = Vec::with_capacity(certs.len());
            for (i, cert) in certs.iter().enumerate() {
                let at = format!("x509CertificateChain.certificates[{i}]");
                let cert = object(cert, &at)?;
                ders.push(base64_field(
                    field(cert, "rawBytes", &at)?,
                    &format!("{at}.rawBytes"),
                )?);
            }
            Material::Certificates(ders)
        }
        (Some(_), Some(_)) => {
            return Err(
                "`verificationMaterial` has both `publicKey` and `x509CertificateChain`".to_owned(),
            );
        }
        (None, None) => {
            return Err(
                "`verificationMaterial` has neither `publicKey` nor `x509CertificateChain` (Sigstore keyless bundles are not supported)"
                    .to_owned(),
            );
        }
    };
    let envelope = object(field(root, "dsseEnvelope", "bundle")?, "dsseEnvelope")?;
    let payload = base64_field(
        field(envelope, "payload", "dsseEnvelope")?,
        "dsseEnvelope.payload",
    )?;
    let payload_type = string(
        field(envelope, "payloadType", "dsseEnvelope")?,
        "dsseEnvelope.payloadType",
    )?
    .to_owned();
    let signatures = array(
        field(envelope, "signatures", "dsseEnvelope")?,
        "dsseEnvelope.signatures",
    )?;
    // Model signing writes exactly one signature and checks only the first; a second
    // one would be silently ignored, so we refuse it instead.
    let [signature] = signatures.as_slice() else {
        return Err(format!(
            "expected exactly one signature in `dsseEnvelope.signatures`, found {}",
            signatures.len()
        ));
    };
    let signature = object(signature, "dsseEnvelope.signatures[0]")?;
    let signature = base64_field(
        field(signature, "sig", "dsseEnvelope.signatures[0]")?,
        "dsseEnvelope.signatures[0].sig",
    )?;
    Ok(Bundle {
        material,
        payload_type,
        payload,
        signature,
    })
}

fn shard_size(value: &Value) -> Result<u64, String> {
    // Protobuf's JSON for a `Struct` carries numbers as doubles, so a shard size may be
    // written `1000000` or `1000000.0`; both mean the same integer.
    let size = if let Some(n) = value.as_u64() {
        n
    } else if let Some(f) = value.as_f64() {
        if f.fract() != 0.0 || f < 1.0 || f > MAX_SHARD_SIZE as f64 {
            return Err(format!(
                "`shard_size` is `{f}`, expected a positive integer"
            ));
        }
        // The range check above makes this conversion exact.
        f as u64
    } else {
        return Err("`shard_size` is not a number".to_owned());
    };
    if size == 0 || size > MAX_SHARD_SIZE {
        return Err(format!(
            "`shard_size` is `{size}`, expected 1 to {MAX_SHARD_SIZE}"
        ));
    }
    Ok(size)
}

/// Parses an in-toto statement with the model signing v1.0 predicate into a manifest,
/// checking that the subject digest matches the resources.
pub fn parse_statement(payload: &[u8]) -> Result<Manifest, String> {
    let root: Value =
        serde_json::from_slice(payload).map_err(|e| format!("statement is not valid JSON: {e}"))?;
    let root = object(&root, "statement")?;
    let kind = string(field(root, "_type", "statement")?, "_type")?;
    if kind != STATEMENT_TYPE {
        return Err(format!(
            "statement `_type` is `{kind}`, expected `{STATEMENT_TYPE}`"
        ));
    }
    let predicate_type = string(field(root, "predicateType", "statement")?, "predicateType")?;
    if predicate_type != PREDICATE_TYPE {
        return Err(format!(
            "`predicateType` is `{predicate_type}`, expected `{PREDICATE_TYPE}`"
        ));
    }
    let subjects = array(field(root, "subject", "statement")?, "subject")?;
    let [subject] = subjects.as_slice() else {
        return Err(format!(
            "expected exactly one subject, found {}",
            subjects.len()
        ));
    };
    let subject = object(subject, "subject[0]")?;
    let model_name = match subject.get("name") {
        None => String::new(),
        Some(name) => string(name, "subject[0].name")?.to_owned(),
    };
    let digest = object(field(subject, "digest", "subject[0]")?, "subject[0].digest")?;
    let root_hex = string(
        field(digest, "sha256", "subject[0].digest")?,
        "subject[0].digest.sha256",
    )?;
    let predicate = object(field(root, "predicate", "statement")?, "predicate")?;
    let ser = object(
        field(predicate, "serialization", "predicate")?,
        "predicate.serialization",
    )?;
    let hash_name = string(
        field(ser, "hash_type", "serialization")?,
        "serialization.hash_type",
    )?;
    let hash = HashAlgorithm::from_name(hash_name).ok_or_else(|| {
        format!("`hash_type` is `{hash_name}`, expected `sha256`, `blake2b` or `blake3`")
    })?;
    let allow_symlinks = field(ser, "allow_symlinks", "serialization")?
        .as_bool()
        .ok_or("`serialization.allow_symlinks` is not a boolean")?;
    let method = match string(
        field(ser, "method", "serialization")?,
        "serialization.method",
    )? {
        "files" => Method::Files,
        "shards" => Method::Shards {
            shard_size: shard_size(field(ser, "shard_size", "serialization")?)?,
        },
        other => {
            return Err(format!(
                "`serialization.method` is `{other}`, expected `files` or `shards`"
            ));
        }
    };
    let ignore_paths = match ser.get("ignore_paths") {
        None | Some(Value::Null) => Vec::new(),
        Some(list) => array(list, "serialization.ignore_paths")?
            .iter()
            .map(|p| string(p, "serialization.ignore_paths[]").map(str::to_owned))
            .collect::<Result<Vec<_>, _>>()?,
    };
    let serialization = Serialization {
        method,
        hash,
        allow_symlinks,
        ignore_paths,
    };
    let algorithm = serialization.resource_algorithm();
    let list = array(
        field(predicate, "resources", "predicate")?,
        "predicate.resources",
    )?;
    let mut resources = Vec::with_capacity(list.len());
    let mut seen = std::collections::HashSet::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let at = format!("resources[{i}]");
        let item = object(item, &at)?;
        let name = string(field(item, "name", &at)?, &format!("{at}.name"))?.to_owned();
        let alg = string(field(item, "algorithm", &at)?, &format!("{at}.algorithm"))?;
        if alg != algorithm {
            return Err(format!(
                "`{at}.algorithm` is `{alg}`, expected `{algorithm}`"
            ));
        }
        let digest_hex = string(field(item, "digest", &at)?, &format!("{at}.digest"))?;
        let digest =
            hex::decode(digest_hex).map_err(|e| format!("`{at}.digest` is not hex: {e}"))?;
        if digest.len() != hash.digest_len() {
            return Err(format!(
                "`{at}.digest` has {} bytes, expected {} for `{hash}`",
                digest.len(),
                hash.digest_len()
            ));
        }
        if matches!(method, Method::Shards { .. }) && parse_shard_name(&name).is_none() {
            return Err(format!(
                "`{at}.name` is `{name}`, expected `path:start:end`"
            ));
        }
        // Model signing keeps the last of two equal names; a duplicate can only come
        // from a crafted statement, so it is refused.
        if !seen.insert(name.clone()) {
            return Err(format!("`{at}.name` `{name}` appears twice"));
        }
        resources.push(Resource {
            name,
            algorithm: alg.to_owned(),
            digest,
        });
    }
    let manifest = Manifest {
        model_name,
        serialization,
        resources,
    };
    let computed = hex::encode(manifest.root_digest());
    if !computed.eq_ignore_ascii_case(root_hex) {
        return Err(format!(
            "subject digest is `{root_hex}` but the resources hash to `{computed}`"
        ));
    }
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(method: Method) -> Manifest {
        let serialization = Serialization {
            method,
            hash: HashAlgorithm::Sha256,
            allow_symlinks: false,
            ignore_paths: vec![".git".to_owned(), "model.sig".to_owned()],
        };
        let algorithm = serialization.resource_algorithm();
        let names: &[&str] = match method {
            Method::Files => &["a.txt", "sub/b.txt"],
            Method::Shards { .. } => &["a.txt:0:6", "sub/b:c.txt:0:6"],
        };
        Manifest {
            model_name: "m".to_owned(),
            serialization,
            resources: names
                .iter()
                .enumerate()
                .map(|(i, n)| Resource {
                    name: (*n).to_owned(),
                    algorithm: algorithm.clone(),
                    digest: vec![i as u8; 32],
                })
                .collect(),
        }
    }

    #[test]
    fn statement_round_trips_in_both_methods() {
        for method in [Method::Files, Method::Shards { shard_size: 6 }] {
            let m = sample(method);
            let json = statement_json(&m);
            let parsed = parse_statement(json.as_bytes()).unwrap();
            assert_eq!(parsed, m);
            // The layout is the one Python's json module produces with indent=2.
            let value: Value = serde_json::from_str(&json).unwrap();
            assert_eq!(
                serde_json::to_string_pretty(&value).unwrap().len(),
                json.len()
            );
        }
    }

    #[test]
    fn float_shard_size_and_tampered_statements() {
        let m = sample(Method::Shards { shard_size: 6 });
        let json = statement_json(&m).replace("\"shard_size\": 6", "\"shard_size\": 6.0");
        assert_eq!(parse_statement(json.as_bytes()).unwrap(), m);
        let json = statement_json(&m).replace("\"shard_size\": 6", "\"shard_size\": 6.5");
        assert!(
            parse_statement(json.as_bytes())
                .unwrap_err()
                .contains("shard_size")
        );
        let bad =
            statement_json(&sample(Method::Files)).replace(&"00".repeat(32), &"02".repeat(32));
        assert!(
            parse_statement(bad.as_bytes())
                .unwrap_err()
                .contains("resources hash to")
        );
        let dup = statement_json(&sample(Method::Files)).replace("sub/b.txt", "a.txt");
        assert!(
            parse_statement(dup.as_bytes())
                .unwrap_err()
                .contains("appears twice")
        );
        let other =
            statement_json(&sample(Method::Files)).replace("signature/v1.0", "Digests/v0.1");
        assert!(
            parse_statement(other.as_bytes())
                .unwrap_err()
                .contains("predicateType")
        );
    }

    #[test]
    fn bundle_round_trip_and_pae() {
        assert_eq!(
            pae(PAYLOAD_TYPE, b"{}"),
            b"DSSEv1 28 application/vnd.in-toto+json 2 {}".to_vec()
        );
        for material in [
            Material::PublicKey {
                hint: Some("ab".into()),
            },
            Material::Certificates(vec![vec![1, 2, 3], vec![4]]),
        ] {
            let json = bundle_json(&material, b"payload", b"sig");
            let b = parse_bundle(json.as_bytes()).unwrap();
            assert_eq!(b.material, material);
            assert_eq!(b.payload, b"payload");
            assert_eq!(b.signature, b"sig");
            assert_eq!(b.payload_type, PAYLOAD_TYPE);
        }
        let two = bundle_json(&Material::PublicKey { hint: None }, b"p", b"s")
            .replace("\"keyid\":\"\"}]", "\"keyid\":\"\"},{\"sig\":\"AA==\"}]");
        assert!(
            parse_bundle(two.as_bytes())
                .unwrap_err()
                .contains("exactly one signature")
        );
    }
}
