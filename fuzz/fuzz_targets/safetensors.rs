//! Fuzzes the safetensors header reader and rules: no panic and bounded memory on any input
//! (the header limit is lowered so that a fuzzed length cannot ask for much), every finding
//! located inside the input, and the sniffer never rejecting a header the rules read clean.

#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use ward_formats::Limits;
use ward_scan::{Context, Location};

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_header_bytes: 1 << 20,
        max_nesting: 64,
        ..Limits::default()
    };
    let ctx = Context::new(limits);
    let len = data.len() as u64;
    let out =
        ward_scan::safetensors::inspect(&mut Cursor::new(data), len, &Location::file("f"), &ctx);
    for finding in &out.findings {
        assert!(finding.location.offset.is_none_or(|o| o <= len));
    }
    if out.findings.is_empty() {
        let facts = out.facts.expect("a clean scan read the header");
        assert!(facts.tensor_count as u128 <= len as u128);
        // A header the rules accept is a JSON object after the length, so sniffing it as
        // safetensors must agree unless it is an empty object or starts with whitespace.
        let body = data.get(8..).unwrap_or_default();
        if body.len() > 2 && body.starts_with(b"{\"") {
            assert!(ward_formats::safetensors::sniff(data, len));
        }
    }
});
