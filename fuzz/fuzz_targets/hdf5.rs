//! The HDF5 root-attribute reader never panics and stays bounded on any input.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use ward_formats::{Limits, hdf5};

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_header_bytes: 1 << 20, ..Limits::default() };
    let mut cur = Cursor::new(data);
    if let Ok(attrs) = hdf5::root_attributes(
        &mut cur,
        data.len() as u64,
        &limits,
        &["model_config", "training_config"],
    ) {
        for attr in attrs.found {
            if let Ok(value) = attr.value {
                assert!(value.len() <= data.len());
            }
        }
    }
});
