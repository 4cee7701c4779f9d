//! Tests of the pickle rules over streams built from bytes.

use std::io::Cursor;

use ward_formats::Limits;

use super::*;

/// `os.system('echo ward-fixture')` at protocol 2, as CPython writes it.
const SYSTEM: &[u8] =
    b"\x80\x02cposix\nsystem\nq\x00X\x11\x00\x00\x00echo ward-fixtureq\x01\x85q\x02Rq\x03.";
/// `pickle.dumps(collections.OrderedDict(a=[1, 2.5]), protocol=2)`.
const ORDERED: &[u8] = b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01X\x01\x00\x00\x00aq\x02]q\x03(K\x01G@\x04\x00\x00\x00\x00\x00\x00es.";

fn codes(bytes: &[u8]) -> Vec<&'static str> {
    codes_with(bytes, &Context::new(Limits::default()))
}

fn codes_with(bytes: &[u8], ctx: &Context) -> Vec<&'static str> {
    let mut src = Cursor::new(bytes.to_vec());
    scan(&mut src, bytes.len() as u64, &Location::file("t"), ctx)
        .into_iter()
        .map(|f| f.code.id)
        .collect()
}

#[test]
fn benign_and_malicious_single_pickles() {
    assert!(codes(ORDERED).is_empty());
    assert_eq!(codes(SYSTEM), ["pickle-dangerous-global"]);
    assert_eq!(
        codes(b"\x80\x02cmylib\nModel\n)R."),
        ["pickle-unknown-global"]
    );
    let mut ctx = Context::new(Limits::default());
    ctx.allowed_globals.insert("mylib.Model".to_owned());
    assert!(codes_with(b"\x80\x02cmylib\nModel\n)R.", &ctx).is_empty());
}

#[test]
fn every_pickle_of_a_stacked_stream_is_scanned() {
    for position in 1..5 {
        let mut bytes = Vec::new();
        for i in 0..5 {
            bytes.extend_from_slice(if i == position { SYSTEM } else { ORDERED });
        }
        assert_eq!(
            codes(&bytes),
            ["pickle-dangerous-global"],
            "payload in pickle {}",
            position + 1
        );
    }
}

#[test]
fn garbage_after_a_payload_is_reported_with_it() {
    let mut bytes = SYSTEM.to_vec();
    bytes.extend_from_slice(b"\x00\x01garbage");
    assert_eq!(
        codes(&bytes),
        ["pickle-dangerous-global", "pickle-trailing-data"]
    );
    let mut broken = SYSTEM[..SYSTEM.len() - 1].to_vec();
    broken.push(0xff);
    assert_eq!(
        codes(&broken),
        ["pickle-dangerous-global", "pickle-parse-error"]
    );
}

#[test]
fn computed_names_indirect_calls_builds_extensions_and_buffers() {
    // STACK_GLOBAL whose module is the result of a call.
    assert_eq!(
        codes(b"\x80\x04cbuiltins\nstr\n)R\x8c\x06system\x93."),
        ["pickle-unresolved-global"]
    );
    // The result of an allowed call is called again.
    assert_eq!(
        codes(b"\x80\x02cbuiltins\nstr\n)R)R."),
        ["pickle-indirect-call"]
    );
    assert_eq!(
        codes(b"\x80\x02cnumpy\ntesting\n}X\x0c\x00\x00\x00__builtins__Nsb."),
        [
            "pickle-dangerous-global",
            "pickle-build-injection",
            "pickle-build-injection"
        ]
    );
    assert_eq!(codes(b"\x80\x02\x82\x01."), ["pickle-extension-code"]);
    assert_eq!(codes(b"\x80\x05\x97."), ["pickle-out-of-band-buffer"]);
    assert_eq!(
        codes(b"\x80\x02X\x01\x00\x00\x00xQ."),
        ["pickle-unknown-persistent-id"]
    );
}

#[test]
fn nested_pickles_are_scanned_and_limited() {
    let mut bytes = b"\x80\x03c_pickle\nloads\nC".to_vec();
    bytes.push(SYSTEM.len() as u8);
    bytes.extend_from_slice(SYSTEM);
    bytes.extend_from_slice(b"\x85R.");
    assert_eq!(
        codes(&bytes),
        ["pickle-dangerous-global", "pickle-dangerous-global"]
    );
    let ctx = Context::new(Limits {
        max_pickle_nesting: 0,
        ..Limits::default()
    });
    assert_eq!(
        codes_with(&bytes, &ctx),
        ["pickle-dangerous-global", "pickle-limit-exceeded"]
    );
}

#[test]
fn limits_are_findings() {
    let cases = [
        Limits {
            max_pickle_opcodes: 3,
            ..Limits::default()
        },
        Limits {
            max_pickle_memo: 1,
            ..Limits::default()
        },
        Limits {
            max_pickle_stack: 1,
            ..Limits::default()
        },
    ];
    for limits in cases {
        let found = codes_with(ORDERED, &Context::new(limits.clone()));
        assert_eq!(found, ["pickle-limit-exceeded"], "{limits:?}");
    }
    let mut bytes = Vec::new();
    for _ in 0..3 {
        bytes.extend_from_slice(ORDERED);
    }
    let ctx = Context::new(Limits {
        max_stacked_pickles: 2,
        ..Limits::default()
    });
    assert_eq!(codes_with(&bytes, &ctx), ["pickle-limit-exceeded"]);
    let ctx = Context::new(Limits {
        time_budget: std::time::Duration::ZERO,
        ..Limits::default()
    });
    assert_eq!(
        codes_with(&b"N0".repeat(5000), &ctx),
        ["pickle-limit-exceeded"]
    );
}

/// A legacy (non-zip) `torch.save` stream: magic, protocol, sys info, model, keys, data.
fn legacy(payload: bool, numel_in_data: u64) -> Vec<u8> {
    let mut b = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.".to_vec();
    b.extend_from_slice(b"\x80\x02M\xe9\x03.");
    b.extend_from_slice(b"\x80\x02}q\x00X\x0d\x00\x00\x00little_endianq\x01\x88s.");
    if payload {
        b.extend_from_slice(SYSTEM);
    } else {
        b.extend_from_slice(b"\x80\x02(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x02NtQ.");
    }
    b.extend_from_slice(b"\x80\x02]q\x00X\x01\x00\x00\x000a.");
    b.extend_from_slice(&numel_in_data.to_le_bytes());
    b.extend_from_slice(&[0u8; 8]);
    b
}

#[test]
fn legacy_torch_files_check_storage_sizes() {
    let mut src = Cursor::new(legacy(false, 2));
    let len = src.get_ref().len() as u64;
    let s = scan_stream(
        &mut src,
        len,
        &Location::file("t"),
        &Context::new(Limits::default()),
    );
    assert!(s.legacy_torch);
    assert!(s.findings.is_empty(), "{:?}", s.findings);
    assert_eq!(s.storages.len(), 1);
    assert_eq!(
        codes(&legacy(false, 3)),
        [
            "pickle-legacy-storage-mismatch",
            "pickle-legacy-storage-mismatch"
        ]
    );
    assert_eq!(
        codes(&legacy(true, 2)),
        ["pickle-dangerous-global", "pickle-legacy-storage-mismatch"]
    );
}

fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    let header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}\n");
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

fn npy_codes(bytes: &[u8]) -> Vec<&'static str> {
    let mut src = Cursor::new(bytes.to_vec());
    numpy::scan(
        &mut src,
        bytes.len() as u64,
        &Location::file("a.npy"),
        &Context::new(Limits::default()),
    )
    .into_iter()
    .map(|f| f.code.id)
    .collect()
}

#[test]
fn npy_rules() {
    assert!(npy_codes(&npy("<f8", "(2,)", &[0; 16])).is_empty());
    assert_eq!(
        npy_codes(&npy("<f8", "(2,)", &[0; 17])),
        ["npy-size-mismatch"]
    );
    assert_eq!(
        npy_codes(&npy("<f8", "(2,)", &[0; 15])),
        ["npy-size-mismatch"]
    );
    assert_eq!(
        npy_codes(&npy("<f8", "(2, 'x')", &[])),
        ["npy-header-invalid"]
    );
    assert_eq!(
        npy_codes(&npy("|O", "(1,)", SYSTEM)),
        ["npy-object-array", "pickle-dangerous-global"]
    );
    assert_eq!(npy_codes(&npy("|O", "(1,)", ORDERED)), ["npy-object-array"]);
}

/// Every single-file pickle and NumPy fixture (archives and compressed files go through
/// the engine, which the command-line corpus test covers) reports exactly its codes.
#[test]
fn pickle_fixtures_report_exactly_their_codes() {
    let mut checked = 0;
    for fixture in ward_fixtures::pickle::fixtures() {
        let [(rel, bytes)] = &fixture.files[..] else {
            continue;
        };
        if !rel.is_empty() || fixture.name.ends_with(".npz") || fixture.name.contains("zlib") {
            continue;
        }
        let mut got: Vec<&str> = if bytes.starts_with(b"\x93NUMPY") {
            npy_codes(bytes)
        } else {
            codes(bytes)
        };
        got.sort_unstable();
        got.dedup();
        let mut want = fixture.expect.clone();
        want.sort_unstable();
        assert_eq!(got, want, "fixture {}", fixture.name);
        assert!(
            bytes.starts_with(b"\x93NUMPY") || ward_formats::pickle::sniff(bytes),
            "fixture {} is sniffed as a pickle",
            fixture.name
        );
        checked += 1;
    }
    assert!(checked > 40, "only {checked} fixtures checked");
}

/// The benign files `tests/gen/benign_pickle.py` makes with the real libraries scan clean
/// through these rules. Zip archives (`.npz`, `torch.save`) and compressed joblib files go
/// through the engine first and are covered by the command-line corpus test.
#[test]
fn benign_library_pickles_scan_clean() {
    let python = std::env::var("WARD_TEST_PYTHON").expect(
        "WARD_TEST_PYTHON must name the test venv's python (run ./scripts/test, which sets it)",
    );
    let dir = tempfile::tempdir().unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/gen/benign_pickle.py"
    );
    let status = std::process::Command::new(python)
        .arg(script)
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success(), "benign_pickle.py failed");
    let mut checked = 0;
    let mut stack = vec![dir.path().to_path_buf()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let zip_or_compressed = bytes.starts_with(b"PK")
            || bytes.starts_with(b"\x1f\x8b")
            || bytes.starts_with(b"\x78")
            || bytes.starts_with(b"BZh")
            || bytes.starts_with(b"\xfd7zXZ")
            || bytes.starts_with(b"\x04\x22\x4d\x18")
            || bytes.starts_with(b"ZF");
        if zip_or_compressed {
            continue;
        }
        let found = if bytes.starts_with(b"\x93NUMPY") {
            npy_codes(&bytes)
        } else {
            assert!(
                ward_formats::pickle::sniff(&bytes),
                "{} is sniffed",
                path.display()
            );
            codes(&bytes)
        };
        assert!(found.is_empty(), "{}: {found:?}", path.display());
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} files checked");
}
