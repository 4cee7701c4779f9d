//! Rules for NumPy `.npy` files (and the `.npy` members of `.npz` archives, which the
//! engine hands here one by one).
//!
//! A plain array is data: ward checks that the header parses strictly and that the data
//! length matches the shape and item size. An object array (`|O`) is a pickle after the
//! header, which `numpy.load(..., allow_pickle=True)` runs; it is scanned like any pickle.

use std::io::SeekFrom;

use ward_formats::npy::{self, Descr};

use crate::finding::{Code, Finding, Location, Severity};
use crate::{Context, Source};

/// An object-dtype array: its data is a pickle.
pub const OBJECT_ARRAY: Code = Code {
    id: "npy-object-array",
    severity: Severity::Low,
    title: "NumPy array stores Python objects as a pickle",
    remedy: "loading it needs `allow_pickle=True`, which runs the pickle; prefer a numeric dtype, and see the pickle findings reported with it",
};

/// The header is not a valid `.npy` header.
pub const HEADER_INVALID: Code = Code {
    id: "npy-header-invalid",
    severity: Severity::Medium,
    title: "NumPy header is malformed",
    remedy: "the array was not inspected; re-export it with `numpy.save`",
};

/// The data length disagrees with the header.
pub const SIZE_MISMATCH: Code = Code {
    id: "npy-size-mismatch",
    severity: Severity::Medium,
    title: "NumPy data length does not match the shape and dtype in the header",
    remedy: "the file is truncated or carries hidden extra bytes; re-export it with `numpy.save`",
};

/// The format rule for `.npy` content.
pub fn scan(src: &mut dyn Source, len: u64, loc: &Location, ctx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Err(e) = src.seek(SeekFrom::Start(0)) {
        out.push(Finding::new(
            HEADER_INVALID,
            loc.at(0),
            format!("cannot seek: {e}"),
        ));
        return out;
    }
    let header = match npy::read_header(src, ctx.limits.max_header_bytes, ctx.limits.max_nesting) {
        Ok(h) => h,
        Err(e) => {
            out.push(Finding::new(
                HEADER_INVALID,
                loc.at(0),
                format!("{e}\nhint: `numpy.load` rejects this file or reads it differently"),
            ));
            return out;
        }
    };
    let data = len.saturating_sub(header.data_offset);
    match &header.descr {
        Descr::Object => {
            out.push(Finding::new(
                OBJECT_ARRAY,
                loc.at(header.data_offset),
                format!(
                    "array of shape `{:?}` has dtype `object`; its {data} data bytes are a pickle, scanned below",
                    header.shape
                ),
            ));
            let inner = super::scan_from(src, header.data_offset, len, loc, ctx);
            out.extend(inner.findings);
        }
        Descr::Structured => {
            // Field layouts are not sized here; their data is raw bytes that NumPy reads
            // without running code, so only the header needed checking.
        }
        Descr::Plain { text, .. } => match header.data_len() {
            Some(expected) if expected == data => {}
            expected => out.push(Finding::new(
                SIZE_MISMATCH,
                loc.at(header.data_offset),
                format!(
                    "header declares shape `{:?}` of `{text}` ({} bytes) but {data} bytes follow",
                    header.shape,
                    expected
                        .map_or_else(|| "an overflowing number of".to_owned(), |n| n.to_string()),
                ),
            )),
        },
    }
    out
}
