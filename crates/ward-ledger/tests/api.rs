//! The public `Ledger` API end to end on a real SQLite file.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail the test on any error"
)]

use std::os::unix::fs::PermissionsExt as _;
use std::sync::Arc;

use serde_json::json;
use ward_ledger::{
    Checkpoint, Ledger, LedgerOptions, NoteVerifier, Outcome, VerifyOptions, key_path,
    public_key_path, verify,
};

fn verifier_for(db: &std::path::Path) -> NoteVerifier {
    NoteVerifier::parse(&std::fs::read_to_string(public_key_path(db)).unwrap()).unwrap()
}

#[test]
fn ledger_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Ledger>();
}

#[test]
fn create_append_checkpoint_reopen_verify() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let ledger = Ledger::create(&db, "example.com/audit").unwrap();
    assert_eq!(ledger.append(&json!({"event": "start"})).unwrap(), 0);
    assert_eq!(ledger.append(&json!({"event": "next", "n": 1})).unwrap(), 1);
    let note = ledger.checkpoint().unwrap();
    let verifier = verifier_for(&db);
    let cp = Checkpoint::parse_text(verifier.open(&note).unwrap()).unwrap();
    assert_eq!(cp.size, 2);
    assert_eq!(cp.root, ledger.root(2).unwrap());
    assert!(note.starts_with("example.com/audit\n2\n"));
    drop(ledger);

    let ledger = Ledger::open(&db).unwrap();
    assert_eq!(ledger.size().unwrap(), 2);
    assert_eq!(ledger.append(&json!("third")).unwrap(), 2);
    let leaf = String::from_utf8(ledger.leaf(2).unwrap()).unwrap();
    assert!(
        leaf.starts_with(r#"{"entry":"third","seq":2,"time":""#),
        "{leaf}"
    );
    drop(ledger);

    let report = verify(
        &db,
        &VerifyOptions {
            public_key: verifier,
            external_checkpoints: vec![note],
        },
    )
    .unwrap();
    assert_eq!(report.outcome, Outcome::Intact);
    assert_eq!(report.size, 3);
    // The stored checkpoint at 2, the one written on close at 3, and the external one.
    assert_eq!(report.checkpoints, 3);
    assert_eq!(report.covered, 3);
}

#[test]
fn concurrent_appends_get_distinct_sequence_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let ledger = Arc::new(Ledger::create(&db, "example.com/audit").unwrap());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let ledger = Arc::clone(&ledger);
            std::thread::spawn(move || {
                (0..50)
                    .map(|i| ledger.append(&json!({"t": t, "i": i})).unwrap())
                    .collect::<Vec<u64>>()
            })
        })
        .collect();
    let mut all: Vec<u64> = threads
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..400).collect::<Vec<u64>>());
    assert_eq!(
        ledger.append_batch(&[json!(1), json!(2)]).unwrap(),
        400..402
    );
    drop(ledger);
    let report = verify(
        &db,
        &VerifyOptions {
            public_key: verifier_for(&db),
            external_checkpoints: vec![],
        },
    )
    .unwrap();
    assert_eq!(report.outcome, Outcome::Intact);
    assert_eq!(report.size, 402);
}

#[test]
fn create_refuses_to_overwrite_and_keys_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    drop(Ledger::create(&db, "example.com/audit").unwrap());
    let mode = std::fs::metadata(key_path(&db))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let mode = std::fs::metadata(&db).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the log itself is private");
    assert!(matches!(
        Ledger::create(&db, "example.com/audit"),
        Err(ward_ledger::Error::AlreadyExists { .. })
    ));

    // A key only beside a fresh path also blocks creation.
    let other = dir.path().join("other.db");
    std::fs::write(key_path(&other), "x").unwrap();
    assert!(matches!(
        Ledger::create(&other, "example.com/audit"),
        Err(ward_ledger::Error::AlreadyExists { .. })
    ));
    assert!(!other.exists());

    // A key readable by others is refused on open.
    std::fs::set_permissions(key_path(&db), std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(matches!(
        Ledger::open(&db),
        Err(ward_ledger::Error::KeyPermissions { .. })
    ));
}

#[test]
fn origins_that_are_not_key_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for origin in ["", "has space", "a+b"] {
        let db = dir.path().join("audit.db");
        assert!(matches!(
            Ledger::create(&db, origin),
            Err(ward_ledger::Error::InvalidOrigin { .. })
        ));
        assert!(!db.exists());
    }
}

#[test]
fn checkpoints_are_written_every_n_entries() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let options = LedgerOptions {
        checkpoint_every_entries: Some(10),
        checkpoint_every: None,
        checkpoint_on_close: false,
        ..LedgerOptions::default()
    };
    let ledger = Ledger::create_with(&db, "example.com/audit", options).unwrap();
    for i in 0..25 {
        ledger.append(&json!(i)).unwrap();
    }
    let sizes: Vec<u64> = ledger
        .checkpoints()
        .unwrap()
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(sizes, vec![10, 20]);
}

#[test]
fn checkpoints_are_written_every_t_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let options = LedgerOptions {
        checkpoint_every_entries: None,
        checkpoint_every: Some(std::time::Duration::from_millis(50)),
        checkpoint_on_close: false,
        ..LedgerOptions::default()
    };
    let ledger = Ledger::create_with(&db, "example.com/audit", options).unwrap();
    ledger.append(&json!(1)).unwrap();
    let mut sizes = Vec::new();
    for _ in 0..200 {
        std::thread::sleep(std::time::Duration::from_millis(20));
        sizes = ledger
            .checkpoints()
            .unwrap()
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        if !sizes.is_empty() {
            break;
        }
    }
    assert_eq!(sizes, vec![1]);
}

#[test]
fn checkpoints_verify_with_an_independent_signed_note_implementation() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let ledger = Ledger::create(&db, "example.com/audit").unwrap();
    ledger.append(&json!({"a": 1})).unwrap();
    let note = ledger.checkpoint().unwrap();

    let vkey = std::fs::read_to_string(public_key_path(&db)).unwrap();
    let verifier = signed_note::StandardVerifier::new(vkey.trim_end()).unwrap();
    let list = signed_note::VerifierList::new(vec![Box::new(verifier)]);
    let parsed = signed_note::Note::from_bytes(note.as_bytes()).unwrap();
    let (verified, unverified) = parsed.verify(&list).unwrap();
    assert_eq!(verified.len(), 1);
    assert!(unverified.is_empty());
    assert_eq!(
        parsed.text(),
        note.split("\n\n")
            .next()
            .map(|t| format!("{t}\n"))
            .unwrap()
            .as_bytes()
    );

    // The private key file is in the same interoperable encoding.
    let skey = std::fs::read_to_string(key_path(&db)).unwrap();
    assert!(signed_note::StandardSigner::new(skey.trim_end()).is_ok());

    // An edited note fails the independent verifier too.
    let edited = note.replacen("\n1\n", "\n2\n", 1);
    let parsed = signed_note::Note::from_bytes(edited.as_bytes()).unwrap();
    assert!(parsed.verify(&list).is_err());
}

#[test]
fn two_handles_on_one_log_fail_cleanly_and_recover() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let a = Ledger::create(&db, "example.com/audit").unwrap();
    let b = Ledger::open(&db).unwrap();
    assert_eq!(a.append(&json!("a0")).unwrap(), 0);
    // `b` still believes the log is empty: its insert of entry 0 fails, nothing is stored,
    // and it picks up the stored state for the next append.
    assert!(matches!(
        b.append(&json!("b0")),
        Err(ward_ledger::Error::CommitFailed { .. })
    ));
    assert_eq!(b.append(&json!("b1")).unwrap(), 1);
    drop((a, b));
    let report = verify(
        &db,
        &VerifyOptions {
            public_key: verifier_for(&db),
            external_checkpoints: vec![],
        },
    )
    .unwrap();
    assert_eq!(report.outcome, Outcome::Intact);
    assert_eq!(report.size, 2);
}
