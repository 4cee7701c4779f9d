//! The human summary `ward bom` prints to stderr: one line per model, dataset and prompt
//! with its digest and security state, counts for libraries, then what needs attention.

use std::fmt::Write as _;

use crate::model::{Bom, Component, Details, Kind, Signature, Verdict};

fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    match UNITS.get(unit) {
        Some(&"B") | None => format!("{bytes} B"),
        Some(u) => format!("{value:.1} {u}"),
    }
}

fn count(n: u128) -> String {
    let n = n as f64;
    if n >= 1e9 {
        format!("{:.2}B", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.1}M", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.1}K", n / 1e3)
    } else {
        format!("{n}")
    }
}

fn short(sha: Option<&String>) -> String {
    sha.map_or_else(
        || "-".to_owned(),
        |s| format!("sha256:{}", s.get(..12).unwrap_or(s)),
    )
}

fn line(c: &Component) -> String {
    let mut parts: Vec<String> = Vec::new();
    match &c.details {
        Details::Model(m) => {
            parts.push(m.formats.join("+"));
            if let Some(p) = m.parameter_count {
                parts.push(format!("{} params", count(p)));
            }
            if let Some(q) = &m.quantization {
                parts.push(q.clone());
            }
        }
        Details::Dataset(d) => {
            parts.push(d.formats.join("+"));
            if let Some(rows) = d.rows {
                parts.push(format!("{rows} rows"));
            }
        }
        Details::Prompt(kind) => parts.push(kind.as_str().to_owned()),
        Details::Library(_) => {}
    }
    if !c.files.is_empty() {
        parts.push(format!(
            "{} file{}, {}",
            c.files.len(),
            if c.files.len() == 1 { "" } else { "s" },
            size(c.size())
        ));
    }
    let mut out = format!(
        "  {}  {}  [{}]  {}",
        c.name,
        short(c.sha256.as_ref()),
        parts.join(", "),
        c.path
    );
    let s = &c.security;
    let scan = match s.verdict {
        Verdict::Findings => format!(
            "findings ({}): {}",
            s.max_severity.as_deref().unwrap_or("?"),
            s.codes.join(", ")
        ),
        _ => s.verdict.as_str().to_owned(),
    };
    let _ = write!(out, "\n      scan: {scan}");
    if c.kind == Kind::Model {
        let _ = write!(out, "; signature: {}", s.signature.status());
        if let Signature::Failed { reason, .. } = &s.signature {
            let _ = write!(out, " ({reason})");
        }
    }
    if let Some(comp) = &c.completeness {
        let missing: Vec<&str> = comp.missing().collect();
        let _ = write!(out, "; completeness: {}%", comp.percent());
        if !missing.is_empty() {
            let _ = write!(out, " (missing: {})", missing.join(", "));
        }
    }
    out
}

/// The summary text.
pub fn summary(bom: &Bom) -> String {
    let of = |kind: Kind| bom.components.iter().filter(move |c| c.kind == kind);
    let mut out = format!(
        "ward bom: {} models, {} datasets, {} prompts, {} libraries ({} other files)\n",
        of(Kind::Model).count(),
        of(Kind::Dataset).count(),
        of(Kind::Prompt).count(),
        of(Kind::Library).count(),
        bom.other_files
    );
    for (kind, title) in [
        (Kind::Model, "models"),
        (Kind::Dataset, "datasets"),
        (Kind::Prompt, "prompts"),
    ] {
        if of(kind).next().is_none() {
            continue;
        }
        let _ = writeln!(out, "{title}:");
        for c in of(kind) {
            let _ = writeln!(out, "{}", line(c));
        }
    }
    let mut ecosystems: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for c in of(Kind::Library) {
        if let Details::Library(l) = &c.details {
            *ecosystems.entry(l.ecosystem.as_str()).or_insert(0) += 1;
        }
    }
    if !ecosystems.is_empty() {
        let list: Vec<String> = ecosystems.iter().map(|(e, n)| format!("{n} {e}")).collect();
        let _ = writeln!(out, "libraries: {}", list.join(", "));
    }
    let flagged = bom
        .components
        .iter()
        .filter(|c| c.security.verdict == Verdict::Findings)
        .count();
    let failed = bom
        .components
        .iter()
        .filter(|c| matches!(c.security.signature, Signature::Failed { .. }))
        .count();
    if flagged > 0 {
        let _ = writeln!(
            out,
            "attention: {flagged} component(s) with scan findings; run `ward scan` on them for details"
        );
    }
    if failed > 0 {
        let _ = writeln!(
            out,
            "attention: {failed} model signature(s) failed to verify"
        );
    }
    for (path, message) in &bom.errors {
        let _ = writeln!(out, "error: {path}: {message}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_counts() {
        assert_eq!(size(999), "999 B");
        assert_eq!(size(1_500_000), "1.5 MB");
        assert_eq!(count(1_235_814_400), "1.24B");
        assert_eq!(count(12), "12");
    }
}
