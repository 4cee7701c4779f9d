//! `ward gateway`: an OpenAI-compatible guard proxy.
//!
//! Data flow: [`config::Config`] is read from `ward.toml`; [`keys::KeyStore`] holds the
//! salted hashes of gateway keys and the admin secret; [`server::Gateway`] authorises each
//! request against an in-memory [`keys::KeyTable`], monitors prompts and responses with
//! [`scan::Scanner`] (block, redact or flag per rule), forwards to the model's upstream,
//! and hands one record per request to an [`audit::AuditSink`] through
//! [`audit::Auditor`]. [`metrics::Metrics`] feeds `/metrics`.

pub mod audit;
pub mod config;
pub mod error;
pub mod keys;
pub mod limits;
pub mod metrics;
pub mod openai;
pub mod scan;
pub mod server;

pub use error::{Error, Result};
