//! `ward sign`, `ward verify` and `ward digest`: OpenSSF Model Signing compatible
//! signatures. The work is done by `ward-sign`; this module parses arguments, resolves
//! paths, prints results and maps outcomes to exit codes (0 verified, 1 verification
//! failed, 2 usage or I/O error).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use ward_sign::cert::{Cert, certs_from_pem};
use ward_sign::keys::{SigningKey, VerifyingKey, read_bounded};
use ward_sign::model::{GIT_PATHS, HashOptions, Progress, hash_model};
use ward_sign::verify::{Identity, Trust, VerifyOptions, relative_to_model, sign, verify_model};
use ward_sign::{HashAlgorithm, Method};

/// Exit code when verification fails.
const EXIT_FAILED: u8 = 1;
/// Exit code for usage and I/O errors.
const EXIT_ERROR: u8 = 2;

/// Sign a model (a directory or a single file).
#[derive(Debug, Subcommand)]
pub enum SignCommand {
    /// Sign with an ECDSA private key (P-256, P-384 or P-521).
    Key(SignKeyArgs),
    /// Sign with a private key and its X.509 certificate (and intermediates).
    Certificate(SignCertificateArgs),
}

/// Verify a model against its signature.
#[derive(Debug, Subcommand)]
pub enum VerifyCommand {
    /// Verify a signature made with a bare key.
    Key(VerifyKeyArgs),
    /// Verify a signature made with a certificate, up to trusted roots.
    Certificate(VerifyCertificateArgs),
}

/// The hash used for each resource.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum HashArg {
    /// SHA-256 (the default and the most widely supported).
    Sha256,
    /// BLAKE2b-512.
    Blake2b,
    /// BLAKE3 (files mode only).
    Blake3,
}

impl From<HashArg> for HashAlgorithm {
    fn from(h: HashArg) -> Self {
        match h {
            HashArg::Sha256 => HashAlgorithm::Sha256,
            HashArg::Blake2b => HashAlgorithm::Blake2b,
            HashArg::Blake3 => HashAlgorithm::Blake3,
        }
    }
}

/// Options that decide how a model is hashed.
#[derive(Debug, Args)]
pub struct HashingArgs {
    /// Hash algorithm for each file or shard.
    #[arg(long = "hash", value_enum, default_value = "sha256")]
    hash: HashArg,
    /// Split files into shards of this many bytes, hashed in parallel (shards mode).
    /// Without it every file is one resource (files mode).
    #[arg(long, value_name = "BYTES")]
    shard_size: Option<u64>,
    /// Leave these paths (and everything below them) out; relative to the current
    /// directory or absolute, and inside the model.
    #[arg(long = "ignore-paths", value_name = "PATH", num_args = 1..)]
    ignore_paths: Vec<PathBuf>,
    /// Include `.git`, `.github`, `.gitattributes` and `.gitignore`, which are left out
    /// by default.
    #[arg(long)]
    no_ignore_git_paths: bool,
    /// Follow symbolic links instead of refusing them (they may point outside the
    /// model).
    #[arg(long)]
    allow_symlinks: bool,
}

/// Arguments of `ward sign key`.
#[derive(Debug, Args)]
pub struct SignKeyArgs {
    /// PEM private key: SEC1, PKCS#8, or encrypted PKCS#8.
    #[arg(long, value_name = "KEY.pem")]
    private_key: PathBuf,
    /// File holding the private key's password (one trailing newline is removed).
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// Where to write the signature [default: MODEL/model.sig for a directory,
    /// MODEL.sig for a file].
    #[arg(long, value_name = "PATH")]
    signature: Option<PathBuf>,
    #[command(flatten)]
    hashing: HashingArgs,
    /// The model directory or file.
    model: PathBuf,
}

/// Arguments of `ward sign certificate`.
#[derive(Debug, Args)]
pub struct SignCertificateArgs {
    /// PEM private key: SEC1, PKCS#8, or encrypted PKCS#8.
    #[arg(long, value_name = "KEY.pem")]
    private_key: PathBuf,
    /// File holding the private key's password (one trailing newline is removed).
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// The signing (leaf) certificate, PEM; must allow digitalSignature and code signing.
    #[arg(long, value_name = "LEAF.pem")]
    certificate: PathBuf,
    /// Intermediate certificates to include, PEM, leaf's issuer first.
    #[arg(long = "chain", value_name = "INT.pem")]
    chain: Vec<PathBuf>,
    /// Where to write the signature [default: MODEL/model.sig for a directory,
    /// MODEL.sig for a file].
    #[arg(long, value_name = "PATH")]
    signature: Option<PathBuf>,
    #[command(flatten)]
    hashing: HashingArgs,
    /// The model directory or file.
    model: PathBuf,
}

/// Options shared by both verification modes.
#[derive(Debug, Args)]
pub struct VerifyCommon {
    /// The signature file.
    #[arg(long, value_name = "PATH")]
    signature: PathBuf,
    /// Do not report files that the signature does not mention.
    #[arg(long)]
    ignore_unsigned_files: bool,
    /// Also leave these paths out (the paths the signature lists are always left out).
    #[arg(long = "ignore-paths", value_name = "PATH", num_args = 1..)]
    ignore_paths: Vec<PathBuf>,
    /// Follow symbolic links instead of refusing them.
    #[arg(long)]
    allow_symlinks: bool,
    /// The model directory or file.
    model: PathBuf,
}

/// Arguments of `ward verify key`.
#[derive(Debug, Args)]
pub struct VerifyKeyArgs {
    /// The signer's PEM public key.
    #[arg(long, value_name = "PUB.pem")]
    public_key: PathBuf,
    #[command(flatten)]
    common: VerifyCommon,
}

/// Arguments of `ward verify certificate`.
#[derive(Debug, Args)]
pub struct VerifyCertificateArgs {
    /// Trusted root certificates, PEM (repeat for several; a file may hold several).
    #[arg(long = "ca", value_name = "ROOT.pem", required = true, num_args = 1..)]
    ca: Vec<PathBuf>,
    #[command(flatten)]
    common: VerifyCommon,
}

/// Arguments of `ward digest`.
#[derive(Debug, Args)]
pub struct DigestArgs {
    /// Print the manifest (serialization and every resource) as JSON instead of the root
    /// digest alone.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    hashing: HashingArgs,
    /// The model directory or file.
    model: PathBuf,
}

/// Runs `ward sign ...`.
pub fn run_sign(command: SignCommand) -> ExitCode {
    finish(sign_model(command).map(|()| ExitCode::SUCCESS))
}

/// Runs `ward verify ...`.
pub fn run_verify(command: VerifyCommand) -> ExitCode {
    finish(verify(command))
}

/// Runs `ward digest`.
pub fn run_digest(args: DigestArgs) -> ExitCode {
    finish(digest(args).map(|()| ExitCode::SUCCESS))
}

fn finish(result: Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(err) => {
            let failed = err
                .downcast_ref::<ward_sign::Error>()
                .is_some_and(ward_sign::Error::is_verification_failure);
            eprintln!("error: {err:#}");
            ExitCode::from(if failed { EXIT_FAILED } else { EXIT_ERROR })
        }
    }
}

fn default_signature(model: &Path) -> Result<PathBuf> {
    let meta =
        std::fs::metadata(model).with_context(|| format!("cannot read `{}`", model.display()))?;
    if meta.is_dir() {
        Ok(model.join("model.sig"))
    } else {
        let mut name = model.as_os_str().to_owned();
        name.push(".sig");
        Ok(PathBuf::from(name))
    }
}

fn ignore_list(
    model: &Path,
    user: &[PathBuf],
    signature: Option<&Path>,
    git: bool,
) -> Result<Vec<String>> {
    let root = std::fs::canonicalize(model)
        .with_context(|| format!("cannot read `{}`", model.display()))?;
    let mut list = Vec::new();
    if git {
        list.extend(GIT_PATHS.iter().map(|p| (*p).to_owned()));
    }
    for path in user {
        match relative_to_model(&root, path) {
            Some(rel) => list.push(rel),
            None => bail!(
                "`--ignore-paths {}` is not inside the model `{}`\nhint: give paths relative to the current directory or absolute",
                path.display(),
                model.display()
            ),
        }
    }
    if let Some(rel) = signature.and_then(|s| relative_to_model(&root, s)) {
        list.push(rel);
    }
    list.sort();
    list.dedup();
    Ok(list)
}

fn hash_options(hashing: &HashingArgs, ignore_paths: Vec<String>) -> HashOptions {
    HashOptions {
        method: match hashing.shard_size {
            Some(shard_size) => Method::Shards { shard_size },
            None => Method::Files,
        },
        hash: hashing.hash.into(),
        allow_symlinks: hashing.allow_symlinks,
        ignore_paths,
    }
}

fn read_password(path: Option<&Path>) -> Result<Option<Vec<u8>>> {
    let Some(path) = path else { return Ok(None) };
    let mut password = read_bounded(path)?;
    if password.last() == Some(&b'\n') {
        password.pop();
        if password.last() == Some(&b'\r') {
            password.pop();
        }
    }
    Ok(Some(password))
}

fn sign_model(command: SignCommand) -> Result<()> {
    let (key_path, password_file, signature, hashing, model, certs) = match command {
        SignCommand::Key(a) => (
            a.private_key,
            a.password_file,
            a.signature,
            a.hashing,
            a.model,
            None,
        ),
        SignCommand::Certificate(a) => {
            let mut chain = Vec::new();
            for path in std::iter::once(&a.certificate).chain(a.chain.iter()) {
                let text = read_bounded(path)?;
                let certs =
                    certs_from_pem(&text).map_err(|detail| ward_sign::Error::Certificate {
                        which: format!("`{}`", path.display()),
                        detail,
                    })?;
                // The leaf file contributes only its first certificate.
                if chain.is_empty() {
                    chain.extend(certs.into_iter().take(1));
                } else {
                    chain.extend(certs);
                }
            }
            (
                a.private_key,
                a.password_file,
                a.signature,
                a.hashing,
                a.model,
                Some(chain),
            )
        }
    };
    let password = read_password(password_file.as_deref())?;
    let key = SigningKey::from_pem_file(&key_path, password.as_deref())?;
    let signature = match signature {
        Some(path) => path,
        None => default_signature(&model)?,
    };
    let ignore = ignore_list(
        &model,
        &hashing.ignore_paths,
        Some(&signature),
        !hashing.no_ignore_git_paths,
    )?;
    let options = hash_options(&hashing, ignore);
    let identity = match certs {
        Some(chain) => Identity::Certificates(chain),
        None => Identity::PublicKey,
    };
    let manifest = hash_model(&model, &options, Progress::Auto)?;
    let bundle = sign(&manifest, &key, &identity, SystemTime::now())?;
    write_atomic(&signature, bundle.as_bytes())?;
    eprintln!(
        "signed `{}` ({} resources, root sha256:{}) -> `{}`",
        model.display(),
        manifest.resources.len(),
        hex::encode(manifest.root_digest()),
        signature.display()
    );
    Ok(())
}

/// Writes `data` to `path` atomically: a temporary file in the same directory, fsync,
/// rename, fsync of the directory.
fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(&dir)
        .with_context(|| format!("cannot create a temporary file in `{}`", dir.display()))?;
    tmp.write_all(data)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write `{}`", tmp.path().display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    if let Ok(d) = std::fs::File::open(&dir) {
        // Persisting the rename itself; a failure here leaves a complete file behind.
        let _ = d.sync_all();
    }
    Ok(())
}

fn verify(command: VerifyCommand) -> Result<ExitCode> {
    let (trust, common) = match command {
        VerifyCommand::Key(a) => (
            Trust::Key(VerifyingKey::from_pem_file(&a.public_key)?),
            a.common,
        ),
        VerifyCommand::Certificate(a) => {
            let mut roots: Vec<Cert> = Vec::new();
            for path in &a.ca {
                let text = read_bounded(path)?;
                roots.extend(certs_from_pem(&text).map_err(|detail| {
                    ward_sign::Error::Certificate {
                        which: format!("`{}`", path.display()),
                        detail,
                    }
                })?);
            }
            (Trust::Roots(roots), a.common)
        }
    };
    let ignore_paths = ignore_list(&common.model, &common.ignore_paths, None, false)?;
    let options = VerifyOptions {
        ignore_paths,
        allow_symlinks: common.allow_symlinks,
        ignore_unsigned_files: common.ignore_unsigned_files,
    };
    let signed = verify_model(
        &common.model,
        &common.signature,
        &trust,
        &options,
        Progress::Auto,
        SystemTime::now(),
    )?;
    eprintln!(
        "verified `{}` ({} resources, root sha256:{})",
        common.model.display(),
        signed.resources.len(),
        hex::encode(signed.root_digest())
    );
    Ok(ExitCode::SUCCESS)
}

fn digest(args: DigestArgs) -> Result<()> {
    let ignore = ignore_list(
        &args.model,
        &args.hashing.ignore_paths,
        None,
        !args.hashing.no_ignore_git_paths,
    )?;
    let options = hash_options(&args.hashing, ignore);
    let manifest = hash_model(&args.model, &options, Progress::Auto)?;
    let text = if args.json {
        let resources: Vec<serde_json::Value> = manifest
            .resources
            .iter()
            .map(|r| {
                serde_json::json!({
                    "name": r.name,
                    "algorithm": r.algorithm,
                    "digest": hex::encode(&r.digest),
                })
            })
            .collect();
        let (method, shard_size) = match manifest.serialization.method {
            Method::Files => ("files", None),
            Method::Shards { shard_size } => ("shards", Some(shard_size)),
        };
        let value = serde_json::json!({
            "model": manifest.model_name,
            "root": { "sha256": hex::encode(manifest.root_digest()) },
            "serialization": {
                "method": method,
                "hash_type": manifest.serialization.hash.name(),
                "shard_size": shard_size,
                "allow_symlinks": manifest.serialization.allow_symlinks,
                "ignore_paths": manifest.serialization.ignore_paths,
            },
            "resources": resources,
        });
        serde_json::to_string_pretty(&value)?
    } else {
        format!("sha256:{}", hex::encode(manifest.root_digest()))
    };
    match writeln!(std::io::stdout().lock(), "{text}") {
        // A closed pipe (`ward digest | head`) means the reader has what it wanted.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other.context("cannot write to stdout")?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_signature_paths() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("w.bin");
        std::fs::write(&file, b"x").unwrap();
        assert_eq!(
            default_signature(dir.path()).unwrap(),
            dir.path().join("model.sig")
        );
        assert_eq!(
            default_signature(&file).unwrap(),
            dir.path().join("w.bin.sig")
        );
    }
}
