//! Checkpoints in the C2SP `tlog-checkpoint` format, signed as C2SP `signed-note`s with
//! Ed25519, and the key encodings of `golang.org/x/mod/sumdb/note`.
//!
//! A checkpoint note is:
//!
//! ```text
//! <origin>\n<decimal size>\n<base64 root hash>\n\n— <key name> <base64(key id || signature)>\n
//! ```
//!
//! where the signature is Ed25519 over the note text (the first three lines, final newline
//! included) and `key id = SHA-256(key name || 0x0A || 0x01 || public key)[:4]`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::Error;
use crate::merkle::Hash;

/// The signed-note signature type byte for Ed25519.
const ALG_ED25519: u8 = 0x01;

/// Prefix of a private key in the `golang.org/x/mod/sumdb/note` encoding.
const PRIVATE_PREFIX: &str = "PRIVATE+KEY+";

/// Largest checkpoint note accepted for verification. The spec asks verifiers to accept
/// at least 16 signatures; this leaves room for far more Ed25519 ones.
pub const MAX_NOTE_BYTES: usize = 64 * 1024;

/// Reports whether `name` is a valid signed-note key name: non-empty, no Unicode white
/// space, no `+`.
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(char::is_whitespace) && !name.contains('+')
}

/// The signed-note key id of an Ed25519 key.
pub fn key_id(name: &str, public: &VerifyingKey) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([b'\n', ALG_ED25519]);
    hasher.update(public.as_bytes());
    let digest = hasher.finalize();
    let mut id = [0u8; 4];
    id.copy_from_slice(digest.get(..4).unwrap_or(&[0; 4]));
    u32::from_be_bytes(id)
}

/// An Ed25519 signing key with its signed-note key name.
pub struct NoteSigner {
    name: String,
    key: SigningKey,
}

impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The private key never reaches logs or error messages.
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl NoteSigner {
    /// Generates a fresh key from operating-system randomness.
    pub fn generate(name: &str) -> Result<NoteSigner, Error> {
        check_key_name(name)?;
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| Error::Key {
            path: None,
            reason: format!("cannot read operating system randomness: {e}"),
        })?;
        Ok(NoteSigner {
            name: name.to_owned(),
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// Parses `PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || 32-byte seed)>`.
    pub fn parse(text: &str) -> Result<NoteSigner, Error> {
        let bad = |reason: &str| Error::Key {
            path: None,
            reason: reason.to_owned(),
        };
        let rest = text
            .trim_end_matches('\n')
            .strip_prefix(PRIVATE_PREFIX)
            .ok_or_else(|| bad("expected a private key starting with `PRIVATE+KEY+`"))?;
        let (name, id, key) =
            split_key(rest).ok_or_else(|| bad("expected `PRIVATE+KEY+<name>+<id>+<key>`"))?;
        let bytes = BASE64
            .decode(key)
            .map_err(|_| bad("key is not valid base64"))?;
        let (alg, seed) = bytes.split_first().ok_or_else(|| bad("key is empty"))?;
        if *alg != ALG_ED25519 {
            return Err(bad("key is not an Ed25519 key (type byte `0x01`)"));
        }
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| bad("Ed25519 seed is not 32 bytes"))?;
        let signer = NoteSigner {
            name: name.to_owned(),
            key: SigningKey::from_bytes(&seed),
        };
        check_key_name(name)?;
        if id != key_id(name, &signer.key.verifying_key()) {
            return Err(bad("key id does not match the key name and public key"));
        }
        Ok(signer)
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The private key in the `golang.org/x/mod/sumdb/note` encoding.
    pub fn to_private_string(&self) -> String {
        let mut bytes = vec![ALG_ED25519];
        bytes.extend_from_slice(&self.key.to_bytes());
        format!(
            "{PRIVATE_PREFIX}{}+{:08x}+{}",
            self.name,
            key_id(&self.name, &self.key.verifying_key()),
            BASE64.encode(bytes)
        )
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key: self.key.verifying_key(),
        }
    }

    /// Signs `text` (which must end in a newline) and returns the complete signed note.
    pub fn sign(&self, text: &str) -> String {
        let signature = self.key.sign(text.as_bytes());
        let mut blob = key_id(&self.name, &self.key.verifying_key())
            .to_be_bytes()
            .to_vec();
        blob.extend_from_slice(&signature.to_bytes());
        format!("{text}\n\u{2014} {} {}\n", self.name, BASE64.encode(blob))
    }
}

/// An Ed25519 public key with its signed-note key name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// Parses a verifier key `<name>+<hex key id>+<base64(0x01 || 32-byte public key)>`.
    pub fn parse(text: &str) -> Result<NoteVerifier, Error> {
        let bad = |reason: &str| Error::Key {
            path: None,
            reason: reason.to_owned(),
        };
        let (name, id, key) = split_key(text.trim_end_matches('\n'))
            .ok_or_else(|| bad("expected a verifier key `<name>+<hex id>+<base64 key>`"))?;
        check_key_name(name)?;
        let bytes = BASE64
            .decode(key)
            .map_err(|_| bad("key is not valid base64"))?;
        let (alg, public) = bytes.split_first().ok_or_else(|| bad("key is empty"))?;
        if *alg != ALG_ED25519 {
            return Err(bad("key is not an Ed25519 key (type byte `0x01`)"));
        }
        let public: [u8; 32] = public
            .try_into()
            .map_err(|_| bad("Ed25519 public key is not 32 bytes"))?;
        let key =
            VerifyingKey::from_bytes(&public).map_err(|_| bad("not a valid Ed25519 public key"))?;
        if id != key_id(name, &key) {
            return Err(bad("key id does not match the key name and public key"));
        }
        Ok(NoteVerifier {
            name: name.to_owned(),
            key,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The signed-note key id.
    pub fn id(&self) -> u32 {
        key_id(&self.name, &self.key)
    }

    /// Verifies a signed note and returns its text. The note must carry a valid signature
    /// from this key; signatures from other keys are ignored, as the spec requires, but a
    /// signature that claims this key's name and id and fails to verify rejects the note.
    pub fn open<'a>(&self, note: &'a str) -> Result<&'a str, Error> {
        let bad = |reason: String| Error::Note { reason };
        if note.len() > MAX_NOTE_BYTES {
            return Err(bad(format!("note is larger than `{MAX_NOTE_BYTES}` bytes")));
        }
        if note.chars().any(|c| c.is_ascii_control() && c != '\n') {
            return Err(bad("note contains control characters".to_owned()));
        }
        let split = note
            .rfind("\n\n")
            .ok_or_else(|| bad("no blank line between the text and the signatures".to_owned()))?;
        let (text, sigs) = note.split_at(split + 1);
        let sigs = sigs.strip_prefix('\n').unwrap_or(sigs);
        if !sigs.ends_with('\n') {
            return Err(bad("signature block does not end in a newline".to_owned()));
        }
        let want_id = self.id();
        let mut verified = false;
        for line in sigs.lines() {
            let rest = line
                .strip_prefix("\u{2014} ")
                .ok_or_else(|| bad(format!("malformed signature line `{line}`")))?;
            let (name, blob) = rest
                .split_once(' ')
                .ok_or_else(|| bad(format!("malformed signature line `{line}`")))?;
            let blob = BASE64
                .decode(blob)
                .map_err(|_| bad(format!("signature for `{name}` is not valid base64")))?;
            if name != self.name {
                continue;
            }
            let Some((id, sig)) = blob.split_first_chunk::<4>() else {
                return Err(bad(format!("signature for `{name}` is too short")));
            };
            if u32::from_be_bytes(*id) != want_id {
                continue;
            }
            let sig: [u8; 64] = sig
                .try_into()
                .map_err(|_| bad(format!("signature for `{name}` is not 64 bytes")))?;
            self.key
                .verify_strict(text.as_bytes(), &Signature::from_bytes(&sig))
                .map_err(|_| bad(format!("signature by `{name}` does not verify")))?;
            verified = true;
        }
        if verified {
            Ok(text)
        } else {
            Err(bad(format!(
                "no signature by key `{}+{want_id:08x}`",
                self.name
            )))
        }
    }
}

impl std::fmt::Display for NoteVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut bytes = vec![ALG_ED25519];
        bytes.extend_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.id(),
            BASE64.encode(bytes)
        )
    }
}

/// Splits `<name>+<8 hex digits>+<key>`.
fn split_key(text: &str) -> Option<(&str, u32, &str)> {
    let (name, rest) = text.split_once('+')?;
    let (id, key) = rest.split_once('+')?;
    if id.len() != 8 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some((name, u32::from_str_radix(id, 16).ok()?, key))
}

fn check_key_name(name: &str) -> Result<(), Error> {
    if is_valid_key_name(name) {
        Ok(())
    } else {
        Err(Error::InvalidOrigin {
            origin: name.to_owned(),
            reason: "a key name must be non-empty, without spaces or `+`".to_owned(),
        })
    }
}

/// The body of a `tlog-checkpoint`: origin, tree size and root hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line, which is also its key name.
    pub origin: String,
    /// Number of entries.
    pub size: u64,
    /// `MTH` of the first `size` entries.
    pub root: Hash,
}

impl Checkpoint {
    /// The note text: three lines, each ending in a newline.
    pub fn to_text(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root)
        )
    }

    /// Parses a checkpoint note text; extension lines after the root hash are allowed and
    /// ignored (they are covered by the signature all the same).
    pub fn parse_text(text: &str) -> Result<Checkpoint, Error> {
        let bad = |reason: String| Error::Note { reason };
        // The signed-note format allows no control character but newline in a note's text;
        // a body with one could never be signed and opened again.
        if text.chars().any(|c| c.is_ascii_control() && c != '\n') {
            return Err(bad("checkpoint contains control characters".to_owned()));
        }
        let mut lines = text.split('\n');
        let origin = lines
            .next()
            .filter(|l| !l.is_empty())
            .ok_or_else(|| bad("missing origin line".to_owned()))?;
        let size_line = lines
            .next()
            .ok_or_else(|| bad("missing tree size line".to_owned()))?;
        let canonical = size_line == "0" || (!size_line.starts_with('0') && !size_line.is_empty());
        let size = size_line
            .parse::<u64>()
            .ok()
            .filter(|_| canonical && size_line.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| bad(format!("tree size `{size_line}` is not a decimal number")))?;
        let root_line = lines
            .next()
            .ok_or_else(|| bad("missing root hash line".to_owned()))?;
        let root: Hash = BASE64
            .decode(root_line)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| bad(format!("root hash `{root_line}` is not 32 bytes of base64")))?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_bodies_with_control_characters_are_refused() {
        let root = BASE64.encode([0u8; 32]);
        assert!(Checkpoint::parse_text(&format!("ex.com/log\n2\n{root}\n")).is_ok());
        assert!(Checkpoint::parse_text(&format!("\0ex.com/log\n2\n{root}\n")).is_err());
        assert!(Checkpoint::parse_text(&format!("ex.com/log\r\n2\n{root}\n")).is_err());
    }

    // Test vectors from the `golang.org/x/mod/sumdb/note` package documentation.
    const GO_SIGNER: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const GO_VERIFIER: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                           then you don't know what your problem is.\n";
    const GO_NOTE: &str = "If you think cryptography is the answer to your problem,\n\
        then you don't know what your problem is.\n\
        \n\
        \u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    #[test]
    fn go_test_vectors_sign_and_verify_byte_for_byte() {
        let signer = NoteSigner::parse(GO_SIGNER).unwrap();
        assert_eq!(signer.to_private_string(), GO_SIGNER);
        assert_eq!(signer.verifier().to_string(), GO_VERIFIER);
        assert_eq!(signer.sign(GO_TEXT), GO_NOTE);
        let verifier = NoteVerifier::parse(GO_VERIFIER).unwrap();
        assert_eq!(verifier.open(GO_NOTE).unwrap(), GO_TEXT);
    }

    #[test]
    fn tampered_notes_are_rejected() {
        let verifier = NoteVerifier::parse(GO_VERIFIER).unwrap();
        let edited = GO_NOTE.replace("cryptography", "Cryptography");
        assert!(verifier.open(&edited).is_err());
        let unsigned = GO_NOTE.replace("PeterNeumann x0", "Someone x0");
        assert!(verifier.open(&unsigned).is_err());
        assert!(verifier.open(GO_TEXT).is_err());
    }

    #[test]
    fn verifier_keys_with_wrong_ids_are_rejected() {
        let wrong = GO_VERIFIER.replace("c74f20a3", "c74f20a4");
        assert!(NoteVerifier::parse(&wrong).is_err());
    }

    #[test]
    fn checkpoint_text_round_trips_and_rejects_noncanonical_sizes() {
        let cp = Checkpoint {
            origin: "example.com/log".to_owned(),
            size: 12,
            root: [7; 32],
        };
        let text = cp.to_text();
        assert_eq!(
            text,
            "example.com/log\n12\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n"
        );
        assert_eq!(Checkpoint::parse_text(&text).unwrap(), cp);
        assert!(Checkpoint::parse_text(&text.replace("\n12\n", "\n012\n")).is_err());
        assert!(Checkpoint::parse_text(&text.replace("\n12\n", "\n+12\n")).is_err());
    }

    #[test]
    fn mutated_notes_never_verify_and_never_panic() {
        let verifier = NoteVerifier::parse(GO_VERIFIER).unwrap();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let original = GO_NOTE.as_bytes();
        for _ in 0..20_000 {
            let mut bytes = original.to_vec();
            for _ in 0..1 + next() % 4 {
                let at = (next() % bytes.len() as u64) as usize;
                match next() % 3 {
                    0 => bytes[at] = next() as u8,
                    1 => {
                        bytes.remove(at);
                    }
                    _ => bytes.insert(at, next() as u8),
                }
            }
            let Ok(text) = std::str::from_utf8(&bytes) else {
                continue;
            };
            let _ = Checkpoint::parse_text(text);
            let _ = NoteVerifier::parse(text);
            let _ = NoteSigner::parse(text);
            if let Ok(opened) = verifier.open(text) {
                // Only edits outside the signed text and the signature may still verify.
                assert_eq!(opened, GO_TEXT);
            }
        }
    }
}
