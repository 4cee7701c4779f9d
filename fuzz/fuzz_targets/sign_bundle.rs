//! Feeds arbitrary bytes to the signature readers: the Sigstore bundle parser, the
//! in-toto statement parser and the shard name splitter. They must never panic, and a
//! statement that parses must survive a write and re-read unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_sign::bundle::{parse_bundle, parse_statement, statement_json};
use ward_sign::manifest::parse_shard_name;

fuzz_target!(|data: &[u8]| {
    if let Ok(bundle) = parse_bundle(data) {
        let _ = parse_statement(&bundle.payload);
    }
    if let Ok(manifest) = parse_statement(data) {
        let again = parse_statement(statement_json(&manifest).as_bytes());
        assert_eq!(again.as_ref().ok(), Some(&manifest));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_shard_name(text);
    }
});
