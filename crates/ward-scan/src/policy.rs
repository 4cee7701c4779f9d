//! Scan policies: the TOML file a team keeps next to its models to allow extra callables
//! and to accept known risks for a limited time.
//!
//! A policy is versioned and strict: an unknown key, a missing field or a malformed value
//! is an error that names the file, the line and what was expected, because a typo in a
//! security policy must never silently widen or narrow what is allowed.
//!
//! ```toml
//! version = 1
//!
//! [pickle]
//! allow = ["mypkg.layers.CustomLayer"]
//!
//! [limits]
//! max_pickle_opcodes = 200_000_000
//!
//! [[waiver]]
//! code = "pickle-unknown-global"
//! path = "models/legacy/**"
//! reason = "legacy checkpoint, reviewed in SEC-123"
//! owner = "ml-platform@example.com"
//! expires = "2026-12-31"
//! ```
//!
//! A waiver suppresses matching findings until the end of its `expires` day (UTC). After
//! that it stops suppressing and is itself reported, so that accepting a risk is a tracked,
//! renewable decision and never a silent ignore.

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};
use jiff::civil::Date;
use serde::Deserialize;
use toml::Spanned;

use ward_formats::Limits;

use crate::finding::{Finding, Location};

/// The only policy format version this build understands.
pub const POLICY_VERSION: i64 = 1;

/// Why a policy file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file could not be read.
    #[error("cannot read policy `{path}`: {source}")]
    Read {
        /// The policy file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not have the expected shape.
    #[error("{path}:{line}: {message}\nhint: see the policy format in docs/scan.md")]
    Invalid {
        /// The policy file.
        path: PathBuf,
        /// The 1-based line of the offending key or value (1 when unknown).
        line: usize,
        /// What was wrong and what was expected.
        message: String,
    },
}

/// A parsed, validated policy.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// The file it came from, as named by the user (used in findings about the policy).
    pub path: String,
    /// Callables (`module.qualname`) allowed in addition to the built-in allowlist.
    pub allowed_globals: BTreeSet<String>,
    /// Risk acceptances, in file order.
    pub waivers: Vec<Waiver>,
    /// The limits to scan with: the defaults, with the policy's `[limits]` table applied
    /// (raising a limit is an explicit, reviewed act, so it lives in the policy file).
    pub limits: Limits,
}

/// One accepted risk: a finding code, on files chosen by digest and/or path, until a date.
#[derive(Debug, Clone)]
pub struct Waiver {
    /// The finding code it suppresses.
    pub code: String,
    /// Lowercase hex SHA-256 of the file the finding must be in, when given.
    pub sha256: Option<String>,
    /// The path pattern as written, when given.
    pub path: Option<String>,
    matcher: Option<GlobMatcher>,
    /// Why the risk is accepted.
    pub reason: String,
    /// Who accepted it and answers for it.
    pub owner: String,
    /// The last day (UTC) on which it suppresses findings.
    pub expires: Date,
    /// The 1-based line of its `[[waiver]]` entry in the policy file.
    pub line: usize,
}

impl Waiver {
    /// Whether the waiver still suppresses findings on `today`.
    pub fn is_active(&self, today: Date) -> bool {
        today <= self.expires
    }

    /// Whether a finding matches this waiver's code and path pattern. The digest, when the
    /// waiver has one, is checked separately by [`Waiver::matches_digest`] because hashing
    /// a file is only worth doing once everything else matches.
    pub fn matches_without_digest(&self, finding: &Finding) -> bool {
        if finding.code.id != self.code {
            return false;
        }
        match &self.matcher {
            Some(matcher) => matcher.is_match(normalize_path(&finding.location.path)),
            None => true,
        }
    }

    /// Whether the file's digest satisfies this waiver (always true without a `sha256`).
    pub fn matches_digest(&self, digest: Option<&str>) -> bool {
        match &self.sha256 {
            Some(want) => digest.is_some_and(|have| have.eq_ignore_ascii_case(want)),
            None => true,
        }
    }

    /// Where the waiver is written, for findings about it: the policy file (the line is
    /// given in the finding's message).
    pub fn location(&self, policy_path: &str) -> Location {
        Location::file(policy_path)
    }
}

/// A path as waiver patterns see it: forward slashes, no leading `./`.
pub fn normalize_path(path: &str) -> String {
    let slashed = path.replace('\\', "/");
    let mut rest = slashed.as_str();
    while let Some(stripped) = rest.strip_prefix("./") {
        rest = stripped;
    }
    rest.to_owned()
}

impl Policy {
    /// Reads and validates a policy file. `known_codes` are the finding codes a waiver may
    /// name; a waiver for an unknown code is an error, since it could never match.
    pub fn load(path: &Path, known_codes: &[&str]) -> Result<Self, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path, known_codes)
    }

    /// Parses and validates policy text; `path` is used in error messages and findings.
    pub fn parse(text: &str, path: &Path, known_codes: &[&str]) -> Result<Self, PolicyError> {
        let invalid = |span: Option<Range<usize>>, message: String| PolicyError::Invalid {
            path: path.to_owned(),
            line: span.map_or(1, |span| line_of(text, span.start)),
            message,
        };
        let raw: RawPolicy = toml::from_str(text).map_err(|err| {
            invalid(
                err.span(),
                err.message().replace('\n', " ").trim().to_owned(),
            )
        })?;
        let version_span = raw.version.span();
        if *raw.version.get_ref() != POLICY_VERSION {
            return Err(invalid(
                Some(version_span),
                format!(
                    "unsupported policy version `{}`; expected `version = {POLICY_VERSION}`",
                    raw.version.get_ref()
                ),
            ));
        }

        let mut allowed_globals = BTreeSet::new();
        for name in raw.pickle.map(|p| p.allow).unwrap_or_default() {
            let span = name.span();
            let name = name.into_inner();
            if !is_dotted_name(&name) {
                return Err(invalid(
                    Some(span),
                    format!(
                        "`{name}` is not a fully qualified callable; expected `module.name` \
                         such as `mypkg.layers.CustomLayer`"
                    ),
                ));
            }
            allowed_globals.insert(name);
        }

        let mut waivers = Vec::new();
        for raw_waiver in raw.waiver {
            let whole = raw_waiver.span();
            let w = raw_waiver.into_inner();
            let line = line_of(text, whole.start);
            let code_span = w.code.span();
            let code = w.code.into_inner();
            if !known_codes.contains(&code.as_str()) {
                return Err(invalid(
                    Some(code_span),
                    format!(
                        "unknown finding code `{code}` in waiver; expected a code listed in \
                         docs/findings.md"
                    ),
                ));
            }
            if w.sha256.is_none() && w.path.is_none() {
                return Err(invalid(
                    Some(whole),
                    "waiver names neither `sha256` nor `path`; expected at least one, so that \
                     it cannot silently cover every file"
                        .to_owned(),
                ));
            }
            let sha256 = match w.sha256 {
                Some(digest) => {
                    let span = digest.span();
                    let digest = digest.into_inner();
                    if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(invalid(
                            Some(span),
                            format!(
                                "`{digest}` is not a SHA-256 digest; expected 64 hex digits \
                                 (see `sha256sum FILE`)"
                            ),
                        ));
                    }
                    Some(digest.to_ascii_lowercase())
                }
                None => None,
            };
            let (path_pattern, matcher) = match w.path {
                Some(pattern) => {
                    let span = pattern.span();
                    let pattern = normalize_path(&pattern.into_inner());
                    // `*` stays within one path segment, as in .gitignore, so that
                    // `models/*.pt` cannot reach into subdirectories by surprise.
                    let glob = GlobBuilder::new(&pattern)
                        .literal_separator(true)
                        .build()
                        .map_err(|err| {
                            invalid(
                                Some(span),
                                format!("invalid path pattern `{pattern}`: {}", err.kind()),
                            )
                        })?;
                    (Some(pattern), Some(glob.compile_matcher()))
                }
                None => (None, None),
            };
            let reason = required_text(w.reason, "reason").map_err(|(s, m)| invalid(s, m))?;
            let owner = required_text(w.owner, "owner").map_err(|(s, m)| invalid(s, m))?;
            let expires_span = w.expires.span();
            let expires_text = w.expires.into_inner();
            let expires: Date = expires_text.parse().map_err(|_| {
                invalid(
                    Some(expires_span),
                    format!("`{expires_text}` is not a date; expected `YYYY-MM-DD`"),
                )
            })?;
            waivers.push(Waiver {
                code,
                sha256,
                path: path_pattern,
                matcher,
                reason,
                owner,
                expires,
                line,
            });
        }

        let mut limits = Limits::default();
        if let Some(raw_limits) = raw.limits {
            raw_limits
                .apply(&mut limits)
                .map_err(|(span, message)| invalid(span, message))?;
        }

        Ok(Self {
            path: path.display().to_string(),
            allowed_globals,
            waivers,
            limits,
        })
    }

    /// Whether any waiver with a digest could match a finding of `code`; only then does a
    /// scan spend time hashing the file.
    pub fn needs_digest(&self, finding: &Finding) -> bool {
        self.waivers
            .iter()
            .any(|w| w.sha256.is_some() && w.matches_without_digest(finding))
    }
}

/// The 1-based line holding byte `offset` of `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    let before = text.get(..end).unwrap_or(text);
    before
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        .saturating_add(1)
}

/// Whether `name` looks like `module.qualname`: at least two dot-separated identifiers.
fn is_dotted_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    parts.len() >= 2
        && parts.iter().all(|part| {
            let mut chars = part.chars();
            chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
                && chars.all(|c| c.is_alphanumeric() || c == '_')
        })
}

type SpanError = (Option<Range<usize>>, String);

fn required_text(value: Spanned<String>, field: &str) -> Result<String, SpanError> {
    let span = value.span();
    let text = value.into_inner();
    if text.trim().is_empty() {
        return Err((
            Some(span),
            format!("waiver `{field}` is empty; expected a non-empty string"),
        ));
    }
    Ok(text)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    version: Spanned<i64>,
    #[serde(default)]
    pickle: Option<RawPickle>,
    #[serde(default)]
    waiver: Vec<Spanned<RawWaiver>>,
    #[serde(default)]
    limits: Option<RawLimits>,
}

/// The `[limits]` table: every field optional, every value a positive integer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    max_pickle_opcodes: Option<Spanned<i64>>,
    max_pickle_memo: Option<Spanned<i64>>,
    max_pickle_memory: Option<Spanned<i64>>,
    max_pickle_stack: Option<Spanned<i64>>,
    max_stacked_pickles: Option<Spanned<i64>>,
    max_pickle_nesting: Option<Spanned<i64>>,
    max_inspected_bytes: Option<Spanned<i64>>,
    max_archive_depth: Option<Spanned<i64>>,
    max_archive_members: Option<Spanned<i64>>,
    max_decompressed_bytes: Option<Spanned<i64>>,
    max_compression_ratio: Option<Spanned<i64>>,
    max_header_bytes: Option<Spanned<i64>>,
    max_nesting: Option<Spanned<i64>>,
    time_budget_seconds: Option<Spanned<i64>>,
}

impl RawLimits {
    fn apply(self, limits: &mut Limits) -> Result<(), SpanError> {
        fn positive(value: Option<Spanned<i64>>, name: &str) -> Result<Option<u64>, SpanError> {
            let Some(value) = value else {
                return Ok(None);
            };
            let span = value.span();
            let number = *value.get_ref();
            match u64::try_from(number) {
                Ok(n) if n > 0 => Ok(Some(n)),
                _ => Err((
                    Some(span),
                    format!("`{name} = {number}` is not allowed; expected a positive integer"),
                )),
            }
        }
        fn size(value: Option<Spanned<i64>>, name: &str) -> Result<Option<usize>, SpanError> {
            let span = value.as_ref().map(Spanned::span);
            match positive(value, name)? {
                Some(n) => usize::try_from(n).map(Some).map_err(|_| {
                    (
                        span,
                        format!("`{name} = {n}` is too large for this machine"),
                    )
                }),
                None => Ok(None),
            }
        }
        if let Some(n) = positive(self.max_pickle_opcodes, "max_pickle_opcodes")? {
            limits.max_pickle_opcodes = n;
        }
        if let Some(n) = size(self.max_pickle_memo, "max_pickle_memo")? {
            limits.max_pickle_memo = n;
        }
        if let Some(n) = positive(self.max_pickle_memory, "max_pickle_memory")? {
            limits.max_pickle_memory = n;
        }
        if let Some(n) = size(self.max_pickle_stack, "max_pickle_stack")? {
            limits.max_pickle_stack = n;
        }
        if let Some(n) = size(self.max_stacked_pickles, "max_stacked_pickles")? {
            limits.max_stacked_pickles = n;
        }
        if let Some(n) = size(self.max_pickle_nesting, "max_pickle_nesting")? {
            limits.max_pickle_nesting = n;
        }
        if let Some(n) = size(self.max_inspected_bytes, "max_inspected_bytes")? {
            limits.max_inspected_bytes = n;
        }
        if let Some(n) = size(self.max_archive_depth, "max_archive_depth")? {
            limits.max_archive_depth = n;
        }
        if let Some(n) = size(self.max_archive_members, "max_archive_members")? {
            limits.max_archive_members = n;
        }
        if let Some(n) = positive(self.max_decompressed_bytes, "max_decompressed_bytes")? {
            limits.max_decompressed_bytes = n;
        }
        if let Some(n) = positive(self.max_compression_ratio, "max_compression_ratio")? {
            limits.max_compression_ratio = n;
        }
        if let Some(n) = positive(self.max_header_bytes, "max_header_bytes")? {
            limits.max_header_bytes = n;
        }
        if let Some(n) = size(self.max_nesting, "max_nesting")? {
            limits.max_nesting = n;
        }
        if let Some(n) = positive(self.time_budget_seconds, "time_budget_seconds")? {
            limits.time_budget = std::time::Duration::from_secs(n);
        }
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPickle {
    #[serde(default)]
    allow: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWaiver {
    code: Spanned<String>,
    #[serde(default)]
    sha256: Option<Spanned<String>>,
    #[serde(default)]
    path: Option<Spanned<String>>,
    reason: Spanned<String>,
    owner: Spanned<String>,
    expires: Spanned<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Code, Severity};

    const CODES: &[&str] = &["pickle-unknown-global", "scan-unknown-format"];
    const PICKLE: Code = Code {
        id: "pickle-unknown-global",
        severity: Severity::High,
        title: "t",
        remedy: "r",
    };

    fn parse(text: &str) -> Result<Policy, PolicyError> {
        Policy::parse(text, Path::new("ward.toml"), CODES)
    }

    fn error_of(text: &str) -> (usize, String) {
        match parse(text) {
            Err(PolicyError::Invalid { line, message, .. }) => (line, message),
            other => panic!("expected an invalid policy, got {other:?}"),
        }
    }

    const FULL: &str = r#"version = 1

[pickle]
allow = ["mypkg.layers.CustomLayer"]

[[waiver]]
code = "pickle-unknown-global"
path = "./models/legacy/**"
reason = "reviewed"
owner = "ml-platform"
expires = "2026-12-31"

[[waiver]]
code = "scan-unknown-format"
sha256 = "AB00000000000000000000000000000000000000000000000000000000000000"
reason = "vendor blob"
owner = "sec"
expires = "2020-01-01"
"#;

    #[test]
    fn full_example_parses() {
        let policy = parse(FULL).unwrap();
        assert!(policy.allowed_globals.contains("mypkg.layers.CustomLayer"));
        assert_eq!(policy.waivers.len(), 2);
        let first = &policy.waivers[0];
        assert_eq!(first.line, 6);
        assert_eq!(first.path.as_deref(), Some("models/legacy/**"));
        assert_eq!(policy.waivers[1].line, 13);
        assert_eq!(
            policy.waivers[1].sha256.as_deref(),
            Some("ab00000000000000000000000000000000000000000000000000000000000000")
        );
    }

    #[test]
    fn waiver_matching_uses_code_path_and_expiry() {
        let policy = parse(FULL).unwrap();
        let w = &policy.waivers[0];
        let inside = Finding::new(PICKLE, Location::file("./models/legacy/a/b.pkl"), "m");
        let outside = Finding::new(PICKLE, Location::file("models/new.pkl"), "m");
        assert!(w.matches_without_digest(&inside));
        assert!(!w.matches_without_digest(&outside));
        assert!(w.is_active(Date::constant(2026, 12, 31)));
        assert!(!w.is_active(Date::constant(2027, 1, 1)));
        let digest = &policy.waivers[1];
        assert!(!digest.matches_digest(None));
        assert!(digest.matches_digest(Some(
            "ab00000000000000000000000000000000000000000000000000000000000000"
        )));
        assert!(!digest.matches_digest(Some("00")));
    }

    #[test]
    fn single_star_stays_within_a_segment() {
        let text = "version = 1\n[[waiver]]\ncode = \"pickle-unknown-global\"\npath = \"models/*.pkl\"\nreason = \"r\"\nowner = \"o\"\nexpires = \"2026-01-01\"\n";
        let policy = parse(text).unwrap();
        let w = &policy.waivers[0];
        let top = Finding::new(PICKLE, Location::file("models/a.pkl"), "m");
        let deep = Finding::new(PICKLE, Location::file("models/sub/a.pkl"), "m");
        assert!(w.matches_without_digest(&top));
        assert!(!w.matches_without_digest(&deep));
    }

    #[test]
    fn unknown_keys_are_errors_with_lines() {
        let (line, message) = error_of("version = 1\n[pickle]\nalow = [\"a.b\"]\n");
        assert_eq!(line, 3);
        assert!(message.contains("alow"), "{message}");
        let (line, message) = error_of("version = 1\ncolour = true\n");
        assert_eq!(line, 2);
        assert!(message.contains("colour"), "{message}");
    }

    #[test]
    fn version_is_required_and_checked() {
        let (_, message) = error_of("[pickle]\nallow = []\n");
        assert!(message.contains("version"), "{message}");
        let (line, message) = error_of("\nversion = 2\n");
        assert_eq!(line, 2);
        assert!(
            message.contains("unsupported policy version `2`"),
            "{message}"
        );
    }

    #[test]
    fn bad_waivers_are_rejected_with_their_line() {
        let base = "version = 1\n[[waiver]]\ncode = \"pickle-unknown-global\"\nreason = \"r\"\nowner = \"o\"\n";
        let (line, message) = error_of(&format!("{base}expires = \"2026-01-01\"\n"));
        assert_eq!(line, 2);
        assert!(message.contains("neither `sha256` nor `path`"), "{message}");
        let (line, message) = error_of(&format!("{base}path = \"a\"\nexpires = \"soon\"\n"));
        assert_eq!(line, 7);
        assert!(message.contains("YYYY-MM-DD"), "{message}");
        let (line, message) = error_of(&format!(
            "{base}sha256 = \"xyz\"\nexpires = \"2026-01-01\"\n"
        ));
        assert_eq!(line, 6);
        assert!(message.contains("64 hex digits"), "{message}");
        let (_, message) = error_of(&format!("{base}path = \"a[\"\nexpires = \"2026-01-01\"\n"));
        assert!(message.contains("invalid path pattern"), "{message}");
        let (_, message) = error_of(
            "version = 1\n[[waiver]]\ncode = \"nope\"\npath = \"a\"\nreason = \"r\"\nowner = \"o\"\nexpires = \"2026-01-01\"\n",
        );
        assert!(message.contains("unknown finding code `nope`"), "{message}");
        let (_, message) = error_of(
            "version = 1\n[[waiver]]\ncode = \"scan-unknown-format\"\npath = \"a\"\nreason = \" \"\nowner = \"o\"\nexpires = \"2026-01-01\"\n",
        );
        assert!(message.contains("`reason` is empty"), "{message}");
        let (_, message) = error_of(
            "version = 1\n[[waiver]]\ncode = \"scan-unknown-format\"\npath = \"a\"\nowner = \"o\"\nexpires = \"2026-01-01\"\n",
        );
        assert!(message.contains("reason"), "{message}");
    }

    #[test]
    fn limits_table_overrides_defaults_and_rejects_bad_values() {
        let policy = parse("version = 1\n").unwrap();
        assert_eq!(policy.limits, Limits::default());
        let policy = parse(
            "version = 1\n[limits]\nmax_pickle_opcodes = 200000000\ntime_budget_seconds = 5\n\
             max_pickle_memory = 1_073_741_824\n",
        )
        .unwrap();
        assert_eq!(policy.limits.max_pickle_opcodes, 200_000_000);
        assert_eq!(policy.limits.max_pickle_memory, 1 << 30);
        assert_eq!(policy.limits.time_budget, std::time::Duration::from_secs(5));
        assert_eq!(
            policy.limits.max_archive_depth,
            Limits::default().max_archive_depth
        );
        let (line, message) = error_of("version = 1\n[limits]\n\nmax_archive_depth = 0\n");
        assert_eq!(line, 4);
        assert!(message.contains("positive integer"), "{message}");
        let (line, message) = error_of("version = 1\n[limits]\nmax_depth = 3\n");
        assert_eq!(line, 3);
        assert!(message.contains("max_depth"), "{message}");
    }

    #[test]
    fn allowed_globals_must_be_dotted_names() {
        let (line, message) = error_of("version = 1\n[pickle]\nallow = [\n  \"os system\",\n]\n");
        assert_eq!(line, 4);
        assert!(message.contains("`os system`"), "{message}");
        assert!(is_dotted_name("a.b_c.D1"));
        assert!(!is_dotted_name("single"));
        assert!(!is_dotted_name("a..b"));
    }

    #[test]
    fn errors_render_file_line_and_hint() {
        let err = parse("version = 1\nx = 1\n").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("ward.toml:2: "), "{text}");
        assert!(text.contains("\nhint: "), "{text}");
    }
}
