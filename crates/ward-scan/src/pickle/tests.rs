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
    // An inner pickle longer than `max_inspected_bytes` is skipped, and that is reported.
    let mut inner = b"\x80\x02".to_vec();
    inner.extend_from_slice(&b"N0".repeat(100));
    inner.extend_from_slice(&SYSTEM[2..]);
    let mut bytes = b"\x80\x03c_pickle\nloads\nC".to_vec();
    bytes.push(inner.len() as u8);
    bytes.extend_from_slice(&inner);
    bytes.extend_from_slice(b"\x85R.");
    assert_eq!(
        codes(&bytes),
        ["pickle-dangerous-global", "pickle-dangerous-global"]
    );
    let ctx = Context::new(Limits {
        max_inspected_bytes: 200,
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

/// Every pickle, NumPy, joblib and legacy PyTorch fixture reports exactly its codes when
/// its files go through the engine (detection by content, archives and compression
/// unpacked, then these rules).
#[test]
fn pickle_fixtures_report_exactly_their_codes() {
    let fixtures = ward_fixtures::pickle::fixtures();
    assert!(fixtures.len() > 50);
    for fixture in fixtures {
        let mut got: Vec<&str> = Vec::new();
        for (rel, bytes) in &fixture.files {
            let ctx = Context::new(Limits::default());
            let mut src = Cursor::new(bytes.clone());
            let loc = Location::file(format!("{}/{rel}", fixture.name));
            let outcome = crate::engine::scan_source(&mut src, bytes.len() as u64, &loc, &ctx);
            got.extend(outcome.findings.iter().map(|f| f.code.id));
        }
        got.sort_unstable();
        got.dedup();
        // A lying extension is reported by the walk, which knows the file's name, not by
        // the engine; the corpus test through the binary checks it.
        let mut want = fixture.expect.clone();
        want.retain(|code| *code != crate::scan::EXTENSION_MISMATCH.id);
        want.sort_unstable();
        assert_eq!(got, want, "fixture {}", fixture.name);
    }
}

/// The benign files `tests/gen/benign_pickle.py` makes with the real libraries scan clean
/// through the engine (which unpacks `.npz`, `torch.save` zips and compressed joblib files
/// and hands their pickles and arrays to these rules).
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
        let ctx = Context::new(Limits::default());
        let mut src = Cursor::new(bytes.clone());
        let loc = Location::file(path.display().to_string());
        let len = bytes.len() as u64;
        let outcome = crate::engine::scan_source(&mut src, len, &loc, &ctx);
        let found: Vec<String> = outcome
            .findings
            .into_iter()
            .map(|f| format!("{} at {}: {}", f.code.id, f.location, f.message))
            .collect();
        assert!(found.is_empty(), "{}: {found:?}", path.display());
        checked += 1;
    }
    assert!(checked >= 37, "only {checked} files checked");
}
