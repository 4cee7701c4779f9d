//! `ward sign`, `ward verify` and `ward digest` through the real binary, checked against
//! the reference implementation (the `model-signing` package from PyPI) in both
//! directions. Keys and certificates are generated fresh by `tests/gen/sign_pki.py`.
//!
//! Needs `WARD_TEST_PYTHON` and `WARD_TEST_VENV_BIN` (set by `./scripts/test`); fails
//! loudly without them.

// This whole crate is a test: a failed setup step must stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;

const WARD: &str = env!("CARGO_BIN_EXE_ward");

struct Env {
    dir: tempfile::TempDir,
    pki: PathBuf,
    python: PathBuf,
    venv_bin: PathBuf,
}

#[path = "../support/mod.rs"]
mod support;
use support::{make_pki, repo_root};

fn env() -> Env {
    let python = support::python();
    let venv_bin = PathBuf::from(
        std::env::var_os("WARD_TEST_VENV_BIN")
            .expect("WARD_TEST_VENV_BIN is not set: run the tests with ./scripts/test"),
    );
    assert!(
        venv_bin.join("model_signing").is_file(),
        "model_signing is missing from {}: add model-signing to tests/requirements.txt and rerun ./scripts/test",
        venv_bin.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    make_pki(&pki);
    Env {
        dir,
        pki,
        python,
        venv_bin,
    }
}

impl Env {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn pki(&self, name: &str) -> PathBuf {
        self.pki.join(name)
    }

    /// Runs a reference tool without network: in an empty network namespace when the
    /// system allows it (`unshare -n`), and always with every proxy pointed at a closed
    /// loopback port, so that an attempt to reach Sigstore fails the test.
    fn reference(&self, program: &Path, args: &[&dyn AsRef<std::ffi::OsStr>]) -> (bool, String) {
        static UNSHARE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        let isolate = *UNSHARE.get_or_init(|| {
            Command::new("unshare")
                .args(["-n", "true"])
                .output()
                .is_ok_and(|o| o.status.success())
        });
        let mut cmd = if isolate {
            let mut cmd = Command::new("unshare");
            cmd.arg("-n").arg(program);
            cmd
        } else {
            Command::new(program)
        };
        for arg in args {
            cmd.arg(arg);
        }
        for var in [
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "http_proxy",
            "https_proxy",
            "all_proxy",
        ] {
            cmd.env(var, "http://127.0.0.1:9");
        }
        cmd.env_remove("NO_PROXY").env_remove("no_proxy");
        let out = cmd.output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // The reference command line prints "Verification failed" and still exits 0, so
        // success is judged on its message too.
        let ok = out.status.success()
            && (text.contains("succeeded") || text.trim_end().ends_with("ok"))
            && !text.contains("failed");
        (ok, text)
    }

    fn ms(&self, args: &[&dyn AsRef<std::ffi::OsStr>]) -> (bool, String) {
        self.reference(&self.venv_bin.join("model_signing"), args)
    }

    fn ms_api(&self, args: &[&dyn AsRef<std::ffi::OsStr>]) -> (bool, String) {
        let script = repo_root().join("tests/gen/ms_api.py");
        let mut all: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&script];
        all.extend_from_slice(args);
        self.reference(&self.python, &all)
    }
}

fn ward(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut cmd = Command::new(WARD);
    for arg in args {
        cmd.arg(arg);
    }
    cmd.output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[track_caller]
fn assert_code(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        stderr(out)
    );
}

/// A small model with nested directories, names whose component order differs from
/// their string order, a git file that is ignored, and files large enough for several
/// shards.
fn make_model(root: &Path) {
    fs::create_dir_all(root.join("weights")).unwrap();
    fs::create_dir_all(root.join("tokenizer")).unwrap();
    fs::write(root.join("config.json"), br#"{"layers": 2}"#).unwrap();
    let big: Vec<u8> = (0..250_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    fs::write(root.join("weights/part-1.bin"), &big).unwrap();
    fs::write(root.join("weights/part-2.bin"), &big[..123_457]).unwrap();
    fs::write(root.join("weights-index.json"), b"{}").unwrap();
    fs::write(root.join("tokenizer/vocab.txt"), b"a\nb\n").unwrap();
    fs::write(root.join(".gitignore"), b"*.tmp\n").unwrap();
}

#[test]
fn key_signatures_interoperate_both_ways_for_p256_and_p384() {
    let env = env();
    for (key, public) in [("p256.pem", "p256.pub"), ("p384.pem", "p384.pub")] {
        // ward signs (default signature location inside the model), reference verifies.
        let model = env.path(&format!("ward-{key}"));
        make_model(&model);
        let out = ward(&[&"sign", &"key", &"--private-key", &env.pki(key), &model]);
        assert_code(&out, 0);
        let sig = model.join("model.sig");
        assert!(sig.is_file());
        let (ok, text) = env.ms(&[
            &"verify",
            &"key",
            &"--public_key",
            &env.pki(public),
            &"--signature",
            &sig,
            &model,
        ]);
        assert!(
            ok,
            "model_signing rejected a ward signature ({key}): {text}"
        );

        // The reference signs, ward verifies.
        let model = env.path(&format!("ms-{key}"));
        make_model(&model);
        let sig = env.path(&format!("ms-{key}.sig"));
        let (ok, text) = env.ms(&[
            &"sign",
            &"key",
            &"--private_key",
            &env.pki(key),
            &"--signature",
            &sig,
            &model,
        ]);
        assert!(ok, "model_signing failed to sign: {text}");
        let out = ward(&[
            &"verify",
            &"key",
            &"--public-key",
            &env.pki(public),
            &"--signature",
            &sig,
            &model,
        ]);
        assert_code(&out, 0);
        assert!(stderr(&out).contains("verified"), "{}", stderr(&out));
    }
}

#[test]
fn certificate_chain_signatures_interoperate_both_ways() {
    let env = env();
    let model = env.path("model");
    make_model(&model);
    let ward_sig = env.path("ward.sig");
    let out = ward(&[
        &"sign",
        &"certificate",
        &"--private-key",
        &env.pki("leaf.pem"),
        &"--certificate",
        &env.pki("leaf.crt"),
        &"--chain",
        &env.pki("int.crt"),
        &"--signature",
        &ward_sig,
        &model,
    ]);
    assert_code(&out, 0);
    let (ok, text) = env.ms(&[
        &"verify",
        &"certificate",
        &"--signature",
        &ward_sig,
        &"--certificate_chain",
        &env.pki("root.crt"),
        &model,
    ]);
    assert!(
        ok,
        "model_signing rejected a ward certificate signature: {text}"
    );
    let out = ward(&[
        &"verify",
        &"certificate",
        &"--ca",
        &env.pki("root.crt"),
        &"--signature",
        &ward_sig,
        &model,
    ]);
    assert_code(&out, 0);

    let ms_sig = env.path("ms.sig");
    let (ok, text) = env.ms(&[
        &"sign",
        &"certificate",
        &"--private_key",
        &env.pki("leaf.pem"),
        &"--signing_certificate",
        &env.pki("leaf.crt"),
        &"--certificate_chain",
        &env.pki("int.crt"),
        &"--signature",
        &ms_sig,
        &model,
    ]);
    assert!(ok, "model_signing failed to sign: {text}");
    let out = ward(&[
        &"verify",
        &"certificate",
        &"--ca",
        &env.pki("root.crt"),
        &"--signature",
        &ms_sig,
        &model,
    ]);
    assert_code(&out, 0);
    // Several roots may be given; only one needs to lead to the chain.
    let out = ward(&[
        &"verify",
        &"certificate",
        &"--ca",
        &env.pki("other-root.crt"),
        &"--ca",
        &env.pki("root.crt"),
        &"--signature",
        &ms_sig,
        &model,
    ]);
    assert_code(&out, 0);
}

#[test]
fn shards_mode_and_other_hashes_interoperate_through_the_library() {
    let env = env();
    for (hash, shard) in [
        ("sha256", "100000"),
        ("blake2b", "65536"),
        ("blake2b", "0"),
        ("blake3", "0"),
    ] {
        let model = env.path(&format!("ward-{hash}-{shard}"));
        make_model(&model);
        let sig = env.path(&format!("ward-{hash}-{shard}.sig"));
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
            &"sign",
            &"key",
            &"--private-key",
            &"KEY",
            &"--hash",
            &hash,
            &"--signature",
            &sig,
        ];
        let key = env.pki("p256.pem");
        args[3] = &key;
        if shard != "0" {
            args.push(&"--shard-size");
            args.push(&shard);
        }
        args.push(&model);
        assert_code(&ward(&args), 0);
        let body = signed_statement(&sig);
        if shard != "0" {
            assert!(
                body.contains(&format!("\"algorithm\": \"{hash}-sharded-{shard}\"")),
                "{body}"
            );
            let last = format!(
                "weights/part-1.bin:{}:250000",
                250_000 / shard.parse::<u64>().unwrap() * shard.parse::<u64>().unwrap()
            );
            assert!(body.contains(&last), "{last} not in {body}");
        }
        // model-signing 1.1.1 cannot guess its configuration back from a `blake2b`
        // signature (it knows the hash as `blake2` only), so it is passed explicitly.
        let (ok, text) = if hash == "blake2b" {
            env.ms_api(&[
                &"verify-key",
                &env.pki("p256.pub"),
                &model,
                &sig,
                &hash,
                &shard,
            ])
        } else {
            env.ms_api(&[&"verify-key", &env.pki("p256.pub"), &model, &sig])
        };
        assert!(
            ok,
            "model_signing API rejected a ward {hash}/{shard} signature: {text}"
        );

        let model = env.path(&format!("ms-{hash}-{shard}"));
        make_model(&model);
        let sig = env.path(&format!("ms-{hash}-{shard}.sig"));
        let (ok, text) = env.ms_api(&[
            &"sign-key",
            &env.pki("p256.pem"),
            &model,
            &sig,
            &hash,
            &shard,
        ]);
        assert!(ok, "model_signing API failed to sign: {text}");
        let out = ward(&[
            &"verify",
            &"key",
            &"--public-key",
            &env.pki("p256.pub"),
            &"--signature",
            &sig,
            &model,
        ]);
        assert_code(&out, 0);
    }
}

#[test]
fn digest_matches_the_reference_root_digest() {
    let env = env();
    let model = env.path("model");
    make_model(&model);
    let out = ward(&[&"digest", &model]);
    assert_code(&out, 0);
    let ours = String::from_utf8(out.stdout).unwrap();
    let (ok, theirs) = env.ms_api(&[&"digest", &model]);
    assert!(ok, "{theirs}");
    let theirs = theirs.lines().next().unwrap();
    assert_eq!(ours.trim(), format!("sha256:{theirs}"));
    let out = ward(&[&"digest", &"--json", &"--shard-size", &"100000", &model]);
    assert_code(&out, 0);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = json["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "config.json:0:13",
            "tokenizer/vocab.txt:0:4",
            "weights/part-1.bin:0:100000",
            "weights/part-1.bin:100000:200000",
            "weights/part-1.bin:200000:250000",
            "weights/part-2.bin:0:100000",
            "weights/part-2.bin:100000:123457",
            "weights-index.json:0:2",
        ]
    );
}

/// The decoded statement inside a bundle.
fn signed_statement(sig: &Path) -> String {
    let bundle: serde_json::Value = serde_json::from_slice(&fs::read(sig).unwrap()).unwrap();
    let payload = bundle["dsseEnvelope"]["payload"].as_str().unwrap();
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// Replaces the statement inside a bundle, keeping the old signature.
fn edit_payload(sig: &Path, edit: impl Fn(String) -> String) {
    let mut bundle: serde_json::Value = serde_json::from_slice(&fs::read(sig).unwrap()).unwrap();
    let body = edit(signed_statement(sig));
    bundle["dsseEnvelope"]["payload"] = serde_json::Value::String(
        base64::engine::general_purpose::STANDARD.encode(body.as_bytes()),
    );
    fs::write(sig, serde_json::to_vec(&bundle).unwrap()).unwrap();
}

#[test]
fn every_kind_of_tampering_fails_in_both_tools() {
    let env = env();
    type Tamper = fn(&Path, &Path, &Env);
    let cases: [(&str, Tamper, &str, &str); 8] = [
        (
            "changed byte",
            |m, _, _| {
                let path = m.join("weights/part-1.bin");
                let mut data = fs::read(&path).unwrap();
                data[1234] ^= 1;
                fs::write(path, data).unwrap();
            },
            "key",
            "changed: `weights/part-1.bin`: signed `sha256:",
        ),
        (
            "added file",
            |m, _, _| fs::write(m.join("weights/extra.bin"), b"x").unwrap(),
            "key",
            "added (not signed): `weights/extra.bin`",
        ),
        (
            "removed file",
            |m, _, _| fs::remove_file(m.join("tokenizer/vocab.txt")).unwrap(),
            "key",
            "missing (signed, not found): `tokenizer/vocab.txt`",
        ),
        (
            "renamed file",
            |m, _, _| fs::rename(m.join("config.json"), m.join("config2.json")).unwrap(),
            "key",
            "added (not signed): `config2.json`",
        ),
        (
            "swapped signature",
            |_, sig, env| {
                let other = env.path("other-model");
                make_model(&other);
                fs::write(other.join("config.json"), b"{}").unwrap();
                let out = ward(&[
                    &"sign",
                    &"key",
                    &"--private-key",
                    &env.pki("p256.pem"),
                    &"--signature",
                    &sig,
                    &other,
                ]);
                assert_code(&out, 0);
            },
            "key",
            "changed: `config.json`",
        ),
        ("other key", |_, _, _| {}, "other", "wrong key"),
        (
            "edited payload",
            |_, sig, _| {
                edit_payload(sig, |body| {
                    body.replacen("\"name\": \"config.json\"", "\"name\": \"config.jsom\"", 1)
                });
            },
            "key",
            "bad signature",
        ),
        (
            "edited payload and hint",
            |_, sig, _| {
                let mut bundle: serde_json::Value =
                    serde_json::from_slice(&fs::read(sig).unwrap()).unwrap();
                bundle["verificationMaterial"]["publicKey"]
                    .as_object_mut()
                    .unwrap()
                    .remove("hint");
                fs::write(sig, serde_json::to_vec(&bundle).unwrap()).unwrap();
                edit_payload(sig, |body| {
                    body.replace("\"allow_symlinks\": false", "\"allow_symlinks\": true")
                });
            },
            "key",
            "bad signature",
        ),
    ];
    for (what, tamper, key, expected) in cases {
        let model = env.path(&format!("m-{}", what.replace(' ', "-")));
        make_model(&model);
        let sig = env.path(&format!("{}.sig", what.replace(' ', "-")));
        let out = ward(&[
            &"sign",
            &"key",
            &"--private-key",
            &env.pki("p256.pem"),
            &"--signature",
            &sig,
            &model,
        ]);
        assert_code(&out, 0);
        tamper(&model, &sig, &env);
        let public = env.pki(if key == "other" {
            "other.pub"
        } else {
            "p256.pub"
        });
        let out = ward(&[
            &"verify",
            &"key",
            &"--public-key",
            &public,
            &"--signature",
            &sig,
            &model,
        ]);
        assert_code(&out, 1);
        assert!(
            stderr(&out).contains(expected),
            "{what}: expected `{expected}` in:\n{}",
            stderr(&out)
        );
        let (ok, text) = env.ms(&[
            &"verify",
            &"key",
            &"--public_key",
            &public,
            &"--signature",
            &sig,
            &model,
        ]);
        assert!(
            !ok,
            "{what}: model_signing accepted a tampered model: {text}"
        );
    }
}

#[test]
fn bad_certificates_fail_in_both_tools() {
    let env = env();
    let model = env.path("model");
    make_model(&model);
    // Untrusted: a valid chain, checked against a root that did not issue it.
    let sig = env.path("good.sig");
    let out = ward(&[
        &"sign",
        &"certificate",
        &"--private-key",
        &env.pki("leaf.pem"),
        &"--certificate",
        &env.pki("leaf.crt"),
        &"--chain",
        &env.pki("int.crt"),
        &"--signature",
        &sig,
        &model,
    ]);
    assert_code(&out, 0);
    let out = ward(&[
        &"verify",
        &"certificate",
        &"--ca",
        &env.pki("other-root.crt"),
        &"--signature",
        &sig,
        &model,
    ]);
    assert_code(&out, 1);
    assert!(
        stderr(&out).contains("untrusted certificate"),
        "{}",
        stderr(&out)
    );
    let (ok, text) = env.ms(&[
        &"verify",
        &"certificate",
        &"--signature",
        &sig,
        &"--certificate_chain",
        &env.pki("other-root.crt"),
        &model,
    ]);
    assert!(!ok, "model_signing trusted an unrelated root: {text}");
    // A certificate signature checked as a key signature is refused.
    let out = ward(&[
        &"verify",
        &"key",
        &"--public-key",
        &env.pki("leaf.pub"),
        &"--signature",
        &sig,
        &model,
    ]);
    assert_code(&out, 1);

    // Expired: ward refuses to sign with it; a signature made by the reference fails in
    // both verifiers.
    let out = ward(&[
        &"sign",
        &"certificate",
        &"--private-key",
        &env.pki("leaf.pem"),
        &"--certificate",
        &env.pki("expired.crt"),
        &"--signature",
        &env.path("x.sig"),
        &model,
    ]);
    assert_code(&out, 2);
    assert!(stderr(&out).contains("expired"), "{}", stderr(&out));
    let sig = env.path("expired.sig");
    let (ok, text) = env.ms(&[
        &"sign",
        &"certificate",
        &"--private_key",
        &env.pki("leaf.pem"),
        &"--signing_certificate",
        &env.pki("expired.crt"),
        &"--certificate_chain",
        &env.pki("int.crt"),
        &"--signature",
        &sig,
        &model,
    ]);
    assert!(ok, "{text}");
    let out = ward(&[
        &"verify",
        &"certificate",
        &"--ca",
        &env.pki("root.crt"),
        &"--signature",
        &sig,
        &model,
    ]);
    assert_code(&out, 1);
    assert!(
        stderr(&out).contains("expired: valid until 2021-01-01"),
        "{}",
        stderr(&out)
    );
    let (ok, text) = env.ms(&[
        &"verify",
        &"certificate",
        &"--signature",
        &sig,
        &"--certificate_chain",
        &env.pki("root.crt"),
        &model,
    ]);
    assert!(!ok, "model_signing accepted an expired chain: {text}");

    // Wrong key usage (a TLS server certificate): ward refuses to sign and to verify.
    let out = ward(&[
        &"sign",
        &"certificate",
        &"--private-key",
        &env.pki("leaf.pem"),
        &"--certificate",
        &env.pki("tls.crt"),
        &"--signature",
        &env.path("x.sig"),
        &model,
    ]);
    assert_code(&out, 2);
    assert!(stderr(&out).contains("wrong key usage"), "{}", stderr(&out));
    let sig = env.path("tls.sig");
    let (ok, text) = env.ms(&[
        &"sign",
        &"certificate",
        &"--private_key",
        &env.pki("leaf.pem"),
        &"--signing_certificate",
        &env.pki("tls.crt"),
        &"--certificate_chain",
        &env.pki("int.crt"),
        &"--signature",
        &sig,
        &model,
    ]);
    assert!(ok, "{text}");
    let out = ward(&[
        &"verify",
        &"certificate",
        &"--ca",
        &env.pki("root.crt"),
        &"--signature",
        &sig,
        &model,
    ]);
    assert_code(&out, 1);
    assert!(
        stderr(&out).contains("does not allow code signing"),
        "{}",
        stderr(&out)
    );
    // A certificate that does not match the private key is refused at signing.
    let out = ward(&[
        &"sign",
        &"certificate",
        &"--private-key",
        &env.pki("p256.pem"),
        &"--certificate",
        &env.pki("leaf.crt"),
        &"--signature",
        &env.path("x.sig"),
        &model,
    ]);
    assert_code(&out, 2);
    assert!(
        stderr(&out).contains("does not match the private key"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn keys_single_files_and_usage_errors() {
    let env = env();
    let model = env.path("model");
    make_model(&model);
    // Encrypted PKCS#8 needs its password file.
    let sig = env.path("enc.sig");
    let out = ward(&[
        &"sign",
        &"key",
        &"--private-key",
        &env.pki("encrypted.pem"),
        &"--signature",
        &sig,
        &model,
    ]);
    assert_code(&out, 2);
    assert!(stderr(&out).contains("--password-file"), "{}", stderr(&out));
    let out = ward(&[
        &"sign",
        &"key",
        &"--private-key",
        &env.pki("encrypted.pem"),
        &"--password-file",
        &env.pki("password.txt"),
        &"--signature",
        &sig,
        &model,
    ]);
    assert_code(&out, 0);
    let (ok, text) = env.ms(&[
        &"verify",
        &"key",
        &"--public_key",
        &env.pki("encrypted.pub"),
        &"--signature",
        &sig,
        &model,
    ]);
    assert!(ok, "{text}");
    let wrong = env.path("wrong.txt");
    fs::write(&wrong, b"nope\n").unwrap();
    let out = ward(&[
        &"sign",
        &"key",
        &"--private-key",
        &env.pki("encrypted.pem"),
        &"--password-file",
        &wrong,
        &"--signature",
        &sig,
        &model,
    ]);
    assert_code(&out, 2);
    assert!(stderr(&out).contains("cannot decrypt"), "{}", stderr(&out));

    // P-521 signs with SHA-512 and the reference agrees.
    let sig = env.path("p521.sig");
    assert_code(
        &ward(&[
            &"sign",
            &"key",
            &"--private-key",
            &env.pki("p521.pem"),
            &"--signature",
            &sig,
            &model,
        ]),
        0,
    );
    let (ok, text) = env.ms(&[
        &"verify",
        &"key",
        &"--public_key",
        &env.pki("p521.pub"),
        &"--signature",
        &sig,
        &model,
    ]);
    assert!(ok, "{text}");

    // A single-file model: resource `.`, signature next to it by default.
    let file = model.join("weights/part-1.bin");
    assert_code(
        &ward(&[
            &"sign",
            &"key",
            &"--private-key",
            &env.pki("p256.pem"),
            &file,
        ]),
        0,
    );
    let sig = model.join("weights/part-1.bin.sig");
    assert!(signed_statement(&sig).contains("\"name\": \".\""));
    let (ok, text) = env.ms(&[
        &"verify",
        &"key",
        &"--public_key",
        &env.pki("p256.pub"),
        &"--signature",
        &sig,
        &file,
    ]);
    assert!(ok, "{text}");
    let ms_sig = env.path("single-ms.sig");
    let (ok, text) = env.ms(&[
        &"sign",
        &"key",
        &"--private_key",
        &env.pki("p256.pem"),
        &"--signature",
        &ms_sig,
        &file,
    ]);
    assert!(ok, "{text}");
    assert_code(
        &ward(&[
            &"verify",
            &"key",
            &"--public-key",
            &env.pki("p256.pub"),
            &"--signature",
            &ms_sig,
            &file,
        ]),
        0,
    );

    // Unsigned files can be tolerated explicitly; changed ones never.
    fs::write(model.join("notes.txt"), b"later").unwrap();
    let sig = env.path("p521.sig");
    let base: [&dyn AsRef<std::ffi::OsStr>; 6] = [
        &"verify",
        &"key",
        &"--public-key",
        &env.pki("p521.pub"),
        &"--signature",
        &sig,
    ];
    let mut args = base.to_vec();
    args.push(&model);
    assert_code(&ward(&args), 1);
    let mut args = base.to_vec();
    args.push(&"--ignore-unsigned-files");
    args.push(&model);
    assert_code(&ward(&args), 0);

    // A signature without `ignore_paths` (as model signing 1.0 wrote them) tolerates
    // unsigned git files, as 1.0 did, but still compares the ones it signed.
    let legacy = env.path("legacy");
    make_model(&legacy);
    let sig = env.path("legacy.sig");
    let out = ward(&[
        &"sign",
        &"key",
        &"--private-key",
        &env.pki("p256.pem"),
        &"--no-ignore-git-paths",
        &"--signature",
        &sig,
        &legacy,
    ]);
    assert_code(&out, 0);
    assert!(!signed_statement(&sig).contains("ignore_paths"));
    fs::create_dir_all(legacy.join(".git")).unwrap();
    fs::write(legacy.join(".git/HEAD"), b"ref").unwrap();
    let verify: [&dyn AsRef<std::ffi::OsStr>; 7] = [
        &"verify",
        &"key",
        &"--public-key",
        &env.pki("p256.pub"),
        &"--signature",
        &sig,
        &legacy,
    ];
    assert_code(&ward(&verify), 0);
    fs::write(legacy.join(".gitignore"), b"changed").unwrap();
    let out = ward(&verify);
    assert_code(&out, 1);
    assert!(
        stderr(&out).contains("changed: `.gitignore`"),
        "{}",
        stderr(&out)
    );

    // An empty model is refused, and so is a symbolic link unless allowed.
    let empty = env.path("empty");
    fs::create_dir_all(empty.join(".git")).unwrap();
    let out = ward(&[
        &"sign",
        &"key",
        &"--private-key",
        &env.pki("p256.pem"),
        &empty,
    ]);
    assert_code(&out, 2);
    assert!(stderr(&out).contains("no file to sign"), "{}", stderr(&out));
    std::os::unix::fs::symlink(model.join("config.json"), model.join("link.json")).unwrap();
    let out = ward(&[
        &"sign",
        &"key",
        &"--private-key",
        &env.pki("p256.pem"),
        &"--signature",
        &env.path("l.sig"),
        &model,
    ]);
    assert_code(&out, 2);
    assert!(stderr(&out).contains("symbolic link"), "{}", stderr(&out));
    let out = ward(&[
        &"sign",
        &"key",
        &"--private-key",
        &env.pki("p256.pem"),
        &"--allow-symlinks",
        &"--signature",
        &env.path("l.sig"),
        &model,
    ]);
    assert_code(&out, 0);

    // I/O and usage problems exit 2.
    let out = ward(&[
        &"verify",
        &"key",
        &"--public-key",
        &env.pki("p256.pub"),
        &"--signature",
        &env.path("missing.sig"),
        &model,
    ]);
    assert_code(&out, 2);
    let out = ward(&[
        &"verify",
        &"key",
        &"--public-key",
        &env.pki("root.crt"),
        &"--signature",
        &sig,
        &model,
    ]);
    assert_code(&out, 2);
    assert!(
        stderr(&out).contains("no `PUBLIC KEY` PEM block"),
        "{}",
        stderr(&out)
    );
    let out = ward(&[&"sign", &"key", &model]);
    assert_code(&out, 2);
}
