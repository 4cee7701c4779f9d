//! Fuzzes the dataset sniffers and the Parquet footer reader: no panic and bounded time
//! and memory on any input; a footer length that the reader accepts always lies inside
//! the input; a recognised Parquet or Arrow file keeps its magic at both ends; and raising
//! a limit never changes a footer reading that succeeded under the smaller one.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_formats::Limits;
use ward_formats::dataset::{DataFormat, SNIFF_BYTES, parquet_facts, parquet_footer_len, sniff};

const MAX_HEADER: u64 = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let len = data.len() as u64;
    let prefix = data.get(..data.len().min(SNIFF_BYTES)).unwrap_or_default();
    let tail = data
        .get(data.len().saturating_sub(SNIFF_BYTES)..)
        .unwrap_or_default();
    match sniff(prefix, tail, len) {
        Some(DataFormat::Parquet) => {
            assert!(data.starts_with(b"PAR1") && data.ends_with(b"PAR1"));
        }
        Some(DataFormat::ArrowFile) => {
            assert!(data.starts_with(b"ARROW1\0\0") && data.ends_with(b"ARROW1"));
        }
        _ => {}
    }
    // The same bytes as a cut prefix of a longer file must not panic either.
    let _ = sniff(prefix, tail, len.saturating_mul(2));

    let small = Limits {
        max_header_bytes: MAX_HEADER,
        max_nesting: 16,
        ..Limits::default()
    };
    let large = Limits {
        max_header_bytes: MAX_HEADER,
        max_nesting: 64,
        ..Limits::default()
    };
    // Read the footer the way a caller does, from the file's last bytes.
    if let Some(footer_len) = parquet_footer_len(tail, len) {
        let start = len
            .checked_sub(8 + footer_len)
            .expect("the footer fits in the input");
        assert!(start >= 4);
        let footer = &data[start as usize..data.len() - 8];
        let _ = parquet_facts(footer, &large);
    }
    // The whole input as a footer.
    if let Ok(facts) = parquet_facts(data, &small) {
        // Every leaf column is one schema element of at least two bytes.
        assert!(facts.columns <= len / 2);
        assert_eq!(parquet_facts(data, &large), Ok(facts));
    }
});
