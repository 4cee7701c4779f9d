//! Rules for Jinja chat templates, wherever a model ships them (GGUF metadata,
//! `tokenizer_config.json`, `chat_template.jinja`).
//!
//! The analysis lives in [`ward_formats::jinja`]; this module turns its flags into findings
//! under the codes of the format that carried the template, so a waiver can name
//! `gguf-chat-template-escape` or `hf-chat-template-escape` separately.

use ward_formats::jinja::{self, Risk};

use crate::{Code, Context, Finding, Location};

/// The three codes a carrier format uses for template findings.
#[derive(Debug, Clone, Copy)]
pub struct TemplateCodes {
    /// The template reaches Python internals (CVE-2024-34359 and its successors).
    pub escape: Code,
    /// The template uses a construct that only serves to build an escape.
    pub suspicious: Code,
    /// The template is not valid Jinja, or exceeds the nesting limit.
    pub invalid: Code,
}

/// Checks one template. `name` says which template it is (a metadata key or a file name).
pub fn check(
    text: &str,
    name: &str,
    loc: &Location,
    ctx: &Context,
    codes: &TemplateCodes,
) -> Vec<Finding> {
    let analysis = jinja::analyze(text, ctx.limits.max_nesting);
    // One finding per tag and risk, naming everything the tag does.
    let mut grouped: Vec<(usize, Risk, Vec<&str>)> = Vec::new();
    for flag in &analysis.flags {
        match grouped
            .iter_mut()
            .find(|g| g.0 == flag.offset && g.1 == flag.risk)
        {
            Some(group) => group.2.push(&flag.what),
            None => grouped.push((flag.offset, flag.risk, vec![&flag.what])),
        }
    }
    let mut findings: Vec<Finding> = grouped
        .into_iter()
        .map(|(offset, risk, whats)| {
            let code = match risk {
                Risk::Escape => codes.escape,
                Risk::Suspicious => codes.suspicious,
            };
            Finding::new(
                code,
                loc.clone(),
                format!(
                    "chat template `{name}` at byte `{offset}`: {}",
                    whats.join("; ")
                ),
            )
        })
        .collect();
    if let Some(error) = analysis.error {
        findings.push(Finding::new(
            codes.invalid,
            loc.clone(),
            format!(
                "chat template `{name}` could not be parsed at byte `{}`: {}",
                error.offset, error.reason
            ),
        ));
    }
    findings
}
