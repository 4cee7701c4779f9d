//! Feeds arbitrary text to the audit log's checkpoint readers: the signed-note opener, the
//! verifier-key parser and the checkpoint body parser. They must never panic; a checkpoint
//! body that parses must survive a write and re-read unchanged, and a note this key signs
//! must open to exactly the text that was signed.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use ward_ledger::{Checkpoint, NoteSigner, NoteVerifier};

fn signer() -> &'static NoteSigner {
    static SIGNER: OnceLock<NoteSigner> = OnceLock::new();
    // The name is a constant valid key name, so generation cannot fail.
    SIGNER.get_or_init(|| NoteSigner::generate("fuzz.example/log").expect("valid key name"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let verifier = signer().verifier();
    let _ = verifier.open(text);
    let _ = NoteVerifier::parse(text);
    let _ = NoteSigner::parse(text);
    if let Ok(checkpoint) = Checkpoint::parse_text(text) {
        let body = checkpoint.to_text();
        assert_eq!(Checkpoint::parse_text(&body).ok(), Some(checkpoint));
        let note = signer().sign(&body);
        assert_eq!(verifier.open(&note).ok(), Some(body.as_str()));
    }
});
