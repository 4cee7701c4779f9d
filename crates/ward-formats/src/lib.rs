//! Pure parsers for the untrusted bytes that ward inspects.
//!
//! Data flow: a caller (normally `ward-scan`) opens a file, hands this crate a byte slice or
//! a reader, and gets back typed facts about the content: which callables a pickle imports,
//! which members a zip holds and where its two directories disagree, what a header claims.
//! This crate never decides whether those facts are dangerous; that is policy, and policy
//! lives in `ward-scan`.
//!
//! Rules every module here follows:
//! - never open files or sockets, never execute or deserialize what is read;
//! - never panic on input: no slice indexing on input, checked arithmetic on every number
//!   read from the input, every loop bounded by a named field of [`Limits`];
//! - fail closed: a parse that stops early says where and why, and keeps what it learned
//!   before stopping.
#![deny(clippy::indexing_slicing)]

pub mod budget;
pub mod compress;
pub mod dataset;
pub mod detect;
pub mod frontmatter;
pub mod gguf;
pub mod hdf5;
pub mod jinja;
pub mod limits;
pub mod npy;
pub mod onnx;
pub mod pickle;
pub mod protobuf;
pub mod reader;
pub mod safetensors;
pub mod tar;
pub mod tf;
pub mod zip;

pub use budget::{Budget, BudgetExhausted};
pub use limits::Limits;
pub use reader::Reader;
