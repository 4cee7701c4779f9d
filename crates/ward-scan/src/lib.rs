//! Detection, policy, findings and reports for `ward scan`.
//!
//! Data flow: the engine walks the paths it is given, detects each file's format by its
//! content (never by its name), hands the bytes to the matching parser in `ward-formats`,
//! and turns the facts that come back into [`Finding`]s through the rules of each format.
//! Policy (allowlists, waivers) then decides what is reported, and a report writer renders
//! the result as text, JSON or SARIF.

pub mod archive;
pub mod codes;
pub mod context;
pub mod engine;
pub mod finding;
pub mod folder;
pub mod gguf;
pub mod keras;
pub mod onnx;
pub mod pickle;
pub mod policy;
pub mod report;
pub mod safetensors;
pub mod scan;
pub mod template;
pub mod tf;

pub use context::{Context, Source};
pub use finding::{Code, Finding, Location, Severity};
