//! Fuzzes the symbolic pickle machine, the stacked-stream rules and the `.npy` rules: no
//! panic, bounded time and memory on any input, and `sniff` agreeing with a full parse on
//! inputs that are a complete, valid pickle.

#![no_main]

use std::io::Cursor;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use ward_formats::pickle::{self, Options};
use ward_formats::{Budget, Limits};
use ward_scan::{Context, Location};

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_pickle_opcodes: 100_000,
        max_pickle_memory: 8 << 20,
        max_inspected_bytes: 1 << 16,
        time_budget: Duration::from_secs(2),
        ..Limits::default()
    };
    let budget = Budget::new(limits.time_budget);
    let opts = Options {
        limits: &limits,
        budget: &budget,
        nesting: 0,
    };
    let parsed = pickle::parse_slice(data, &opts);
    assert!(parsed.end <= data.len() as u64);
    // A pickle that ran to STOP with PROTO first and used the whole input is a pickle, so
    // the sniffer must say so.
    if parsed.error.is_none()
        && parsed.end == data.len() as u64
        && data.first() == Some(&0x80)
        && data.len() >= 3
    {
        assert!(pickle::sniff(data), "sniff rejects a valid pickle");
    }
    let _ = pickle::sniff(data);

    let ctx = Context::new(limits.clone());
    let loc = Location::file("fuzz");
    let mut src = Cursor::new(data.to_vec());
    let _ = ward_scan::pickle::scan_stream(&mut src, data.len() as u64, &loc, &ctx);
    let mut src = Cursor::new(data.to_vec());
    let _ = ward_scan::pickle::numpy::scan(&mut src, data.len() as u64, &loc, &ctx);
});
