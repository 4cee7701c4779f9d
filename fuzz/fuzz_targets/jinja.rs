//! Fuzzes the Jinja lexer and checks: no panic and bounded time on any template, and every
//! reported offset inside the template.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_formats::jinja::analyze;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let analysis = analyze(&text, 32);
    for flag in &analysis.flags {
        assert!(flag.offset <= text.len());
    }
    if let Some(error) = &analysis.error {
        assert!(error.offset <= text.len());
    }
});
