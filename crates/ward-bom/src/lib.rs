//! `ward bom`: an AI bill of materials with a hash for every model, dataset, prompt and
//! library, written as CycloneDX 1.6/1.7 or SPDX 3.0.1 JSON.

pub mod model;
pub mod spdx;

pub use model::*;
