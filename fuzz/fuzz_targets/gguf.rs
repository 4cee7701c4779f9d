//! Fuzzes the GGUF header reader and rules: no panic and bounded memory on any input, and
//! the incremental reading contract: parsing a prefix either asks for more bytes or reaches
//! the same verdict as parsing the whole input.

#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use ward_formats::Limits;
use ward_formats::gguf::{Parsed, parse};
use ward_scan::{Context, Location};

const MAX_HEADER: u64 = 1 << 20;
const MAX_NESTING: usize = 32;

fuzz_target!(|data: &[u8]| {
    let len = data.len() as u64;
    let limits = Limits {
        max_header_bytes: MAX_HEADER,
        max_nesting: MAX_NESTING,
        ..Limits::default()
    };
    let ctx = Context::new(limits);
    let out = ward_scan::gguf::inspect(&mut Cursor::new(data), len, &Location::file("f"), &ctx);
    assert!(out.bytes_read <= len);

    let Parsed::Done(full) = parse(data, len, MAX_HEADER, MAX_NESTING) else {
        panic!("the whole input never needs more bytes");
    };
    let half = data.get(..data.len() / 2).unwrap_or_default();
    if let Parsed::Done(part) = parse(half, len, MAX_HEADER, MAX_NESTING) {
        assert_eq!(part.problems, full.problems);
    }
});
