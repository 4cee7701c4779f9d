//! Feeds arbitrary text to the gateway's input and output monitoring rules with the default
//! policy: pattern matching, decoding of encoded payloads, checksum tests and redaction all
//! run on untrusted prompts and responses and must never panic. The first line of the input
//! is used as the system prompt whose leakage the output rules look for.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use ward_gateway::config::PolicyConfig;
use ward_gateway::scan::{Direction, OutputContext, Report, Scanner};

fn scanner() -> &'static Scanner {
    static SCANNER: OnceLock<Scanner> = OnceLock::new();
    // The default policy's rules are fixed patterns that compile, so this cannot fail.
    SCANNER.get_or_init(|| Scanner::new(&PolicyConfig::default()).expect("default policy"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (system, body) = text.split_once('\n').unwrap_or(("", text));
    let ctx = OutputContext::new(system);
    for direction in [Direction::Input, Direction::Output] {
        let mut report = Report::default();
        if let Some(redacted) = scanner().scan(body, direction, &ctx, &mut report) {
            // A redacted text is scanned again as the next hop would see it.
            let mut again = Report::default();
            let _ = scanner().scan(&redacted, direction, &ctx, &mut again);
        }
    }
    let mut report = Report::default();
    let _ = scanner().scan_system(body, &mut report);
});
