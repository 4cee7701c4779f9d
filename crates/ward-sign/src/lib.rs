//! Model signing and verification, compatible with OpenSSF Model Signing v1.0 as written
//! by the `model-signing` package 1.1.x.
//!
//! Data flow when signing: [`model::hash_model`] lists the model's files (in path
//! component order, ignored paths left out) and hashes them in parallel into a
//! [`Manifest`]; [`bundle::statement_json`] turns it into an in-toto statement;
//! [`sign`] signs the statement's DSSE pre-authentication encoding with an ECDSA key
//! and wraps everything in a Sigstore bundle.
//!
//! When verifying, [`authenticate`] parses the bundle, checks the signature against a
//! public key or a certificate chain and returns the signed manifest. The caller hashes
//! the model again with the serialization the signature records and compares the two
//! manifests with [`verify::compare`].

pub mod bundle;
pub mod cert;
pub mod error;
pub mod hash;
pub mod keys;
pub mod manifest;
pub mod model;
pub mod verify;

pub use error::{Error, Result};
pub use hash::{Digest, HashAlgorithm, digest_each, digest_files};
pub use manifest::{Manifest, Method};
pub use verify::{Identity, Trust, authenticate, sign};
