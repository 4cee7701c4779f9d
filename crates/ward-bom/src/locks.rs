//! Dependency lock files read into library packages with package URLs.
//!
//! `ward bom` lists the libraries an AI project pins next to its models and datasets. The
//! caller recognises a lock file by its name ([`lock_kind`]), reads it with a size bound, and
//! hands the text to [`parse`], which returns the packages sorted and deduplicated, each with
//! a [package URL](https://github.com/package-url/purl-spec) and, where the lock file records
//! one, an integrity hash. Nothing here opens files or sockets, and nothing read is executed:
//! a lock file is data, and a hostile one gets an error, never a panic.
//!
//! # What is read
//!
//! | File | Packages | Skipped as the project's own code |
//! |------|----------|-----------------------------------|
//! | `Cargo.lock` v1-v4 | `[[package]]`; `checksum` (or v1 `[metadata]`) as `sha256:<hex>` | packages without `source` (path crates) |
//! | `requirements*.txt`, `constraints*.txt` | one requirement per logical line; first `--hash=sha256:` | option lines (`-r`, `-e`, ...), local directories |
//! | `poetry.lock` | `[[package]]`; dev from `category` or `groups` | none (poetry does not list the project) |
//! | `uv.lock` | `[[package]]`; `sdist.hash` | `source` `editable` or `virtual` |
//! | `Pipfile.lock` | `default` and `develop` (dev); first `sha256:` hash | editable local paths |
//! | `package-lock.json`, `npm-shrinkwrap.json` | v2/v3 `packages`, v1 `dependencies` (nested); `integrity` as written | the root `""`, workspace folders, `link` entries, v1 `file:` versions |
//!
//! `-r` and `-c` lines name other files; they are not followed (this module does no I/O),
//! and the files they name are read on their own when they match [`lock_kind`].
//!
//! # Package URLs
//!
//! Names go into purls the way each purl type asks: PyPI names normalised as PEP 503 says
//! (lowercase, runs of `-`, `_` and `.` as one `-`), npm names lowercased with the scope as
//! the namespace (`pkg:npm/%40scope/name`), Cargo names as written. [`Package::name`] keeps
//! the name as the lock file writes it. Every component is percent-encoded by
//! `percent_encode`.
//!
//! A package that does not come from its ecosystem's default registry says where it comes
//! from in a standard qualifier, so that a vulnerability database does not match a fork
//! against the registry package of the same name:
//!
//! - `vcs_url`: git sources, as `git+<url>@<revision>` (the form the purl specification's
//!   examples use; the query of a Cargo or uv git source, which only says which branch or
//!   tag was asked for, is dropped because the locked commit follows the `@`);
//! - `download_url`: direct URL references (`name @ https://...`, poetry and uv `url`
//!   sources, Pipfile `file`), except `file:` URLs;
//! - `repository_url`: another registry or package index (Cargo alternative registries,
//!   poetry `legacy` sources, uv registries other than PyPI);
//! - `file_name`: the archive of a poetry `file` source (a qualifier the pypi purl type
//!   defines).
//!
//! Local paths (`file:` URLs, poetry `directory` and `file` sources, uv `path` and
//! `directory` sources, Pipfile `path`) never appear in a purl: they name folders on the
//! machine that wrote the lock file and mean nothing anywhere else. Such packages keep their
//! plain purl (`pkg:pypi/name@version`).
//!
//! # Failing closed
//!
//! A bill of materials that silently leaves packages out is worse than none, so an entry
//! this module cannot read (a field of the wrong type, a requirement line it cannot parse, a
//! source kind it does not know) fails the whole file with [`LockError::Shape`] naming the
//! entry, instead of being skipped. Limits ([`MAX_PACKAGES`], [`MAX_DEPTH`]) are errors too,
//! never truncations.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fmt::Write as _;

use serde_json::{Map, Value as Json};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// The most packages one lock file may list; more is [`LockError::TooMany`].
pub const MAX_PACKAGES: usize = 1_000_000;

/// The deepest nesting of `dependencies` read from an npm lockfileVersion 1 file; deeper is
/// [`LockError::TooDeep`]. npm 5 and 6 hoist dependencies, so real files stay a few levels
/// deep.
pub const MAX_DEPTH: usize = 32;

/// How much of an untrusted string an error message quotes.
const SHOWN_CHARS: usize = 120;

/// The ecosystem a lock file belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ecosystem {
    /// Rust crates (crates.io and other Cargo registries).
    Cargo,
    /// Python packages (PyPI and other package indexes).
    Pypi,
    /// JavaScript packages (the npm registry).
    Npm,
}

impl Ecosystem {
    /// The purl type, which is also the name used in reports: `cargo`, `pypi`, `npm`.
    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::Cargo => "cargo",
            Ecosystem::Pypi => "pypi",
            Ecosystem::Npm => "npm",
        }
    }
}

/// The kind of lock file, which decides how its text is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LockKind {
    /// `Cargo.lock`.
    CargoLock,
    /// `requirements*.txt` and `constraints*.txt`.
    Requirements,
    /// `poetry.lock`.
    PoetryLock,
    /// `uv.lock`.
    UvLock,
    /// `Pipfile.lock`.
    PipfileLock,
    /// `package-lock.json` and `npm-shrinkwrap.json`.
    PackageLock,
}

impl LockKind {
    /// The ecosystem whose packages this kind of file lists.
    pub fn ecosystem(self) -> Ecosystem {
        match self {
            LockKind::CargoLock => Ecosystem::Cargo,
            LockKind::Requirements
            | LockKind::PoetryLock
            | LockKind::UvLock
            | LockKind::PipfileLock => Ecosystem::Pypi,
            LockKind::PackageLock => Ecosystem::Npm,
        }
    }

    /// A stable kebab-case name used in reports: `cargo-lock`, `requirements`,
    /// `poetry-lock`, `uv-lock`, `pipfile-lock`, `package-lock`.
    pub fn as_str(self) -> &'static str {
        match self {
            LockKind::CargoLock => "cargo-lock",
            LockKind::Requirements => "requirements",
            LockKind::PoetryLock => "poetry-lock",
            LockKind::UvLock => "uv-lock",
            LockKind::PipfileLock => "pipfile-lock",
            LockKind::PackageLock => "package-lock",
        }
    }
}

/// Recognises a lock file by its file name only (no directory part).
///
/// Names are matched exactly as the tools write them (`Cargo.lock`, not `cargo.lock`). A
/// name with a `/` or `\` in it is not a file name and gives `None`.
pub fn lock_kind(file_name: &str) -> Option<LockKind> {
    if file_name.contains(['/', '\\']) {
        return None;
    }
    match file_name {
        "Cargo.lock" => Some(LockKind::CargoLock),
        "poetry.lock" => Some(LockKind::PoetryLock),
        "uv.lock" => Some(LockKind::UvLock),
        "Pipfile.lock" => Some(LockKind::PipfileLock),
        "package-lock.json" | "npm-shrinkwrap.json" => Some(LockKind::PackageLock),
        _ if ["requirements", "constraints"].iter().any(|prefix| {
            file_name
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.ends_with(".txt"))
        }) =>
        {
            Some(LockKind::Requirements)
        }
        _ => None,
    }
}

/// One library a lock file pins.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Package {
    /// The ecosystem (the purl type).
    pub ecosystem: Ecosystem,
    /// The name as written in the lock file.
    pub name: String,
    /// The version, when the lock file pins one.
    pub version: Option<String>,
    /// The package URL.
    pub purl: String,
    /// `sha256:<hex>` (lowercase hex), or npm's `sha512-<base64>` as written.
    pub integrity: Option<String>,
    /// Whether only development needs it (npm `dev`, the Pipfile `develop` section, poetry's
    /// `dev` category or non-`main` groups). Lock files that do not record it give `false`.
    pub dev: bool,
}

/// Why a lock file could not be read. Messages are written to follow `"<path>: "`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LockError {
    /// The text is not TOML.
    #[error("not valid TOML{}: {message}", at_line(.line))]
    Toml {
        /// The line the parser stopped at (1-based), when it says.
        line: Option<usize>,
        /// What the TOML parser expected.
        message: String,
    },
    /// The text is not JSON.
    #[error("not valid JSON at line {line}, column {column}: {message}")]
    Json {
        /// The line the parser stopped at (1-based).
        line: usize,
        /// The column the parser stopped at (1-based; 0 at the very end).
        column: usize,
        /// What the JSON parser expected.
        message: String,
    },
    /// The file parses but an entry is not what the format says: which entry, which field,
    /// what was expected and what was found.
    #[error("{what}")]
    Shape {
        /// The whole message.
        what: String,
    },
    /// The file lists more than [`MAX_PACKAGES`] packages.
    #[error(
        "more than {limit} packages\nhint: no real project pins this many; check where the lock file came from"
    )]
    TooMany {
        /// The limit.
        limit: usize,
    },
    /// npm lockfileVersion 1 `dependencies` nest deeper than [`MAX_DEPTH`].
    #[error(
        "`dependencies` nested more than {limit} levels deep\nhint: npm 7 and later write flat lock files; regenerate it with `npm install --package-lock-only`"
    )]
    TooDeep {
        /// The limit.
        limit: usize,
    },
}

fn at_line(line: &Option<usize>) -> String {
    line.map(|line| format!(" at line {line}"))
        .unwrap_or_default()
}

/// Parses a lock file's text. Packages are sorted and deduplicated (same purl and
/// integrity). At most `MAX_PACKAGES` packages; more is an error, not a truncation.
///
/// A leading byte order mark is ignored. When two entries give the same purl and integrity
/// (the same package nested twice under npm's `node_modules`, or listed in both Pipfile
/// sections), one package remains; it is `dev` only if every entry was. The limit counts
/// entries before deduplication, so the work done stays bounded by it.
pub fn parse(kind: LockKind, text: &str) -> Result<Vec<Package>, LockError> {
    parse_limited(kind, text, MAX_PACKAGES)
}

fn parse_limited(kind: LockKind, text: &str, limit: usize) -> Result<Vec<Package>, LockError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut found = Found::new(limit);
    match kind {
        LockKind::CargoLock => cargo_lock(text, &mut found)?,
        LockKind::Requirements => requirements(text, &mut found)?,
        LockKind::PoetryLock => poetry_lock(text, &mut found)?,
        LockKind::UvLock => uv_lock(text, &mut found)?,
        LockKind::PipfileLock => pipfile_lock(text, &mut found)?,
        LockKind::PackageLock => package_lock(text, &mut found)?,
    }
    Ok(found.finish())
}

/// The packages found so far, deduplicated by purl and integrity, and how many entries
/// were added.
struct Found {
    limit: usize,
    entries: usize,
    packages: BTreeMap<(String, Option<String>), Package>,
}

impl Found {
    fn new(limit: usize) -> Self {
        Found {
            limit,
            entries: 0,
            packages: BTreeMap::new(),
        }
    }

    fn add(&mut self, package: Package) -> Result<(), LockError> {
        self.entries = self.entries.saturating_add(1);
        if self.entries > self.limit {
            return Err(LockError::TooMany { limit: self.limit });
        }
        match self
            .packages
            .entry((package.purl.clone(), package.integrity.clone()))
        {
            Entry::Vacant(slot) => {
                slot.insert(package);
            }
            Entry::Occupied(mut slot) => {
                // The same purl can come from differently written names (`PyYAML` and
                // `pyyaml`); keep one, chosen by order so that the result is stable.
                let kept = slot.get_mut();
                kept.dev &= package.dev;
                if package.name < kept.name {
                    kept.name = package.name;
                }
            }
        }
        Ok(())
    }

    fn finish(self) -> Vec<Package> {
        let mut packages: Vec<Package> = self.packages.into_values().collect();
        packages.sort();
        packages
    }
}

// ---------------------------------------------------------------------------------------
// Package URLs
// ---------------------------------------------------------------------------------------

/// Qualifiers of a purl: standard keys and their values before encoding.
type Qualifiers = Vec<(&'static str, String)>;

/// Percent-encodes one purl component (namespace segment, name, version or qualifier
/// value) as the purl specification says: ASCII letters and digits, `.`, `-`, `_`, `~` and
/// `:` stay as they are; every other byte of the UTF-8 text becomes `%XX` (uppercase hex),
/// so `@` is `%40`, `/` is `%2F`, `+` is `%2B` and a space is `%20`.
pub(crate) fn percent_encode(component: &str) -> String {
    let mut out = String::with_capacity(component.len());
    for byte in component.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'_' | b'~' | b':') {
            out.push(char::from(byte));
        } else {
            // Writing to a `String` cannot fail.
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Builds a purl. Qualifiers are sorted by key and empty values left out, as the
/// specification's canonical form asks.
fn purl(
    ecosystem: Ecosystem,
    namespace: Option<&str>,
    name: &str,
    version: Option<&str>,
    mut qualifiers: Qualifiers,
) -> String {
    let mut out = format!("pkg:{}/", ecosystem.as_str());
    if let Some(namespace) = namespace {
        out.push_str(&percent_encode(namespace));
        out.push('/');
    }
    out.push_str(&percent_encode(name));
    if let Some(version) = version {
        out.push('@');
        out.push_str(&percent_encode(version));
    }
    qualifiers.retain(|(_, value)| !value.is_empty());
    qualifiers.sort();
    for (index, (key, value)) in qualifiers.iter().enumerate() {
        out.push(if index == 0 { '?' } else { '&' });
        out.push_str(key);
        out.push('=');
        out.push_str(&percent_encode(value));
    }
    out
}

/// The PEP 503 normal form of a Python package name: lowercase, and every run of `-`, `_`
/// and `.` replaced by one `-`.
fn pep503(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_run {
                out.push('-');
            }
            in_run = true;
        } else {
            out.extend(c.to_lowercase());
            in_run = false;
        }
    }
    out
}

fn cargo_package(
    name: &str,
    version: &str,
    qualifiers: Qualifiers,
    integrity: Option<String>,
) -> Package {
    Package {
        ecosystem: Ecosystem::Cargo,
        name: name.to_owned(),
        version: Some(version.to_owned()),
        purl: purl(Ecosystem::Cargo, None, name, Some(version), qualifiers),
        integrity,
        dev: false,
    }
}

fn pypi_package(
    name: &str,
    version: Option<&str>,
    qualifiers: Qualifiers,
    integrity: Option<String>,
    dev: bool,
) -> Package {
    Package {
        ecosystem: Ecosystem::Pypi,
        name: name.to_owned(),
        version: version.map(str::to_owned),
        purl: purl(Ecosystem::Pypi, None, &pep503(name), version, qualifiers),
        integrity,
        dev,
    }
}

/// An npm package; `None` when the name is not `name` or `@scope/name`.
fn npm_package(
    name: &str,
    version: Option<&str>,
    qualifiers: Qualifiers,
    integrity: Option<String>,
    dev: bool,
) -> Option<Package> {
    let (scope, bare) = match name.strip_prefix('@') {
        Some(scoped) => {
            let (scope, bare) = scoped.split_once('/')?;
            if scope.is_empty() {
                return None;
            }
            (Some(format!("@{}", scope.to_lowercase())), bare)
        }
        None => (None, name),
    };
    if bare.is_empty() || bare.contains('/') || !plain(name) {
        return None;
    }
    Some(Package {
        ecosystem: Ecosystem::Npm,
        name: name.to_owned(),
        version: version.map(str::to_owned),
        purl: purl(
            Ecosystem::Npm,
            scope.as_deref(),
            &bare.to_lowercase(),
            version,
            qualifiers,
        ),
        integrity,
        dev,
    })
}

/// `git+<url>@<revision>` from a git URL as lock files write it: with or without the
/// `git+` prefix, with an optional `?query` (dropped: it says which branch or tag was asked
/// for) and an optional `#commit` fragment, used when no revision is given.
fn git_vcs_url(url: &str, revision: Option<&str>) -> String {
    let url = url.strip_prefix("git+").unwrap_or(url);
    let (url, fragment) = match url.split_once('#') {
        Some((url, fragment)) => (url, Some(fragment)),
        None => (url, None),
    };
    let url = url.split_once('?').map_or(url, |(url, _)| url);
    match revision
        .or(fragment)
        .filter(|revision| !revision.is_empty())
    {
        Some(revision) => format!("git+{url}@{revision}"),
        None => format!("git+{url}"),
    }
}

/// Whether a URL points into the local file system (and so is left out of purls).
fn is_local_url(url: &str) -> bool {
    url.get(..5)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("file:"))
        || !url.contains("://")
}

/// The `download_url` qualifier for a direct URL, unless the URL is local.
fn download_url(url: &str) -> Qualifiers {
    if is_local_url(url) {
        Vec::new()
    } else {
        vec![("download_url", url.to_owned())]
    }
}

/// The `repository_url` qualifier for a Python package index, unless it is PyPI itself (the
/// pypi purl type's default) or local.
fn pypi_index(url: &str) -> Qualifiers {
    let trimmed = url.trim_end_matches('/');
    let default = [
        "https://pypi.org/simple",
        "https://pypi.python.org/simple",
        "https://pypi.org/pypi",
    ]
    .contains(&trimmed);
    if default || is_local_url(url) {
        Vec::new()
    } else {
        vec![("repository_url", url.to_owned())]
    }
}

// ---------------------------------------------------------------------------------------
// Values checked on the way in
// ---------------------------------------------------------------------------------------

/// Whether a name or version is a plain token: not empty, no whitespace, no control
/// characters. Anything else is not a package name or version any tool writes, and would
/// corrupt text reports.
fn plain(value: &str) -> bool {
    !value.is_empty() && !value.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// `sha256:<hex>` from a 64-digit hex SHA-256, lowercased.
fn sha256_integrity(hex: &str) -> Option<String> {
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| format!("sha256:{}", hex.to_ascii_lowercase()))
}

/// `<algorithm>:<hex>` (SHA-256, SHA-384 or SHA-512) checked and lowercased.
fn hex_digest(value: &str) -> Option<String> {
    let (algorithm, hex) = value.split_once(':')?;
    let digits = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return None,
    };
    (hex.len() == digits && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| format!("{algorithm}:{}", hex.to_ascii_lowercase()))
}

/// Untrusted text quoted in a message: at most [`SHOWN_CHARS`] characters, control
/// characters escaped so that nothing from the file can drive a terminal.
fn shown(text: &str) -> String {
    let mut out = String::new();
    for (count, c) in text.chars().enumerate() {
        if count == SHOWN_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

fn shape(what: String) -> LockError {
    LockError::Shape { what }
}

/// `a string`, `an integer`: a type name with its article.
fn article(type_name: &str) -> String {
    let vowel = type_name.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {type_name}", if vowel { "an" } else { "a" })
}

// ---------------------------------------------------------------------------------------
// TOML
// ---------------------------------------------------------------------------------------

fn toml_document(text: &str) -> Result<Spanned<DeTable<'_>>, LockError> {
    DeTable::parse(text).map_err(|err| LockError::Toml {
        line: err.span().map(|span| line_of(text, span.start)),
        message: err.message().trim().to_owned(),
    })
}

/// The 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let before = text.as_bytes().get(..offset).unwrap_or(text.as_bytes());
    before
        .iter()
        .filter(|&&byte| byte == b'\n')
        .count()
        .saturating_add(1)
}

/// Reads the fields of one TOML table, naming it in errors.
struct TomlFields<'a, 'i> {
    text: &'a str,
    table: &'a DeTable<'i>,
    /// Where the table's header or opening brace starts (a byte offset: the line is
    /// counted only for a message, so that reading stays linear in the file's size).
    offset: usize,
    /// What the table is, for messages (`package \`serde\``).
    place: String,
}

impl<'a, 'i> TomlFields<'a, 'i> {
    fn wrong_type(&self, key: &str, value: &Spanned<DeValue<'_>>, expected: &str) -> LockError {
        shape(format!(
            "line {}: {}: expected `{key}` to be {expected}, found {}",
            line_of(self.text, value.span().start),
            self.place,
            article(value.get_ref().type_str()),
        ))
    }

    fn missing(&self, key: &str) -> LockError {
        shape(format!(
            "line {}: {}: `{key}` is missing",
            line_of(self.text, self.offset),
            self.place
        ))
    }

    fn invalid(&self, key: &str, value: &str, expected: &str) -> LockError {
        let offset = self
            .table
            .get(key)
            .map_or(self.offset, |value| value.span().start);
        let line = line_of(self.text, offset);
        shape(format!(
            "line {line}: {}: `{key}` is `{}`; expected {expected}",
            self.place,
            shown(value)
        ))
    }

    fn string(&self, key: &str) -> Result<Option<&'a str>, LockError> {
        match self.table.get(key) {
            None => Ok(None),
            Some(value) => match value.get_ref() {
                DeValue::String(text) => Ok(Some(text.as_ref())),
                _ => Err(self.wrong_type(key, value, "a string")),
            },
        }
    }

    fn required_string(&self, key: &str) -> Result<&'a str, LockError> {
        self.string(key)?.ok_or_else(|| self.missing(key))
    }

    /// A string that must be a plain token (a name or version).
    fn token(&self, key: &str) -> Result<Option<&'a str>, LockError> {
        match self.string(key)? {
            Some(value) if !plain(value) => Err(self.invalid(
                key,
                value,
                "a name or version without spaces or control characters",
            )),
            other => Ok(other),
        }
    }

    fn required_token(&self, key: &str) -> Result<&'a str, LockError> {
        self.token(key)?.ok_or_else(|| self.missing(key))
    }

    fn table(&self, key: &str) -> Result<Option<TomlFields<'a, 'i>>, LockError> {
        match self.table.get(key) {
            None => Ok(None),
            Some(value) => match value.get_ref() {
                DeValue::Table(table) => Ok(Some(TomlFields {
                    text: self.text,
                    table,
                    offset: value.span().start,
                    place: format!("{} `{key}`", self.place),
                })),
                _ => Err(self.wrong_type(key, value, "a table")),
            },
        }
    }

    fn strings(&self, key: &str) -> Result<Option<Vec<&'a str>>, LockError> {
        let Some(value) = self.table.get(key) else {
            return Ok(None);
        };
        let DeValue::Array(items) = value.get_ref() else {
            return Err(self.wrong_type(key, value, "an array of strings"));
        };
        items
            .iter()
            .map(|item| match item.get_ref() {
                DeValue::String(text) => Ok(text.as_ref()),
                _ => Err(self.wrong_type(key, item, "an array of strings")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// The tables of an array of tables (`[[package]]`), each with its header's line and a
    /// place naming it by position until its name is known. A missing key is an empty list.
    fn tables(&self, key: &str, singular: &str) -> Result<Vec<TomlFields<'a, 'i>>, LockError> {
        let Some(value) = self.table.get(key) else {
            return Ok(Vec::new());
        };
        let DeValue::Array(items) = value.get_ref() else {
            return Err(self.wrong_type(key, value, "an array of tables"));
        };
        items
            .iter()
            .enumerate()
            .map(|(index, item)| match item.get_ref() {
                DeValue::Table(table) => Ok(TomlFields {
                    text: self.text,
                    table,
                    offset: item.span().start,
                    place: format!("{singular} {}", index.saturating_add(1)),
                }),
                _ => Err(self.wrong_type(key, item, "an array of tables")),
            })
            .collect()
    }
}

fn toml_root<'a, 'i>(text: &'a str, document: &'a Spanned<DeTable<'i>>) -> TomlFields<'a, 'i> {
    TomlFields {
        text,
        table: document.get_ref(),
        offset: 0,
        place: "the top level".to_owned(),
    }
}

// ---------------------------------------------------------------------------------------
// Cargo.lock
// ---------------------------------------------------------------------------------------

/// The index URLs of crates.io, the cargo purl type's default repository.
const CRATES_IO: [&str; 2] = [
    "registry+https://github.com/rust-lang/crates.io-index",
    "sparse+https://index.crates.io/",
];

fn cargo_lock(text: &str, found: &mut Found) -> Result<(), LockError> {
    let document = toml_document(text)?;
    let root = toml_root(text, &document);

    // Version 1 lock files keep checksums apart, in `[metadata]`, under keys of the form
    // `checksum <name> <version> (<source>)`; old Cargo wrote `<none>` for packages without
    // one (git sources).
    let mut v1_checksums = BTreeMap::new();
    if let Some(metadata) = root.table("metadata")? {
        for (key, _) in metadata.table.iter() {
            let key = key.get_ref().as_ref();
            let Some(package) = key.strip_prefix("checksum ") else {
                continue;
            };
            let checksum = metadata.required_string(key)?;
            let integrity = if checksum == "<none>" {
                None
            } else {
                Some(
                    sha256_integrity(checksum)
                        .ok_or_else(|| metadata.invalid(key, checksum, "64 hex digits"))?,
                )
            };
            v1_checksums.insert(package, integrity);
        }
    }

    for mut package in root.tables("package", "`[[package]]`")? {
        let name = package.required_token("name")?;
        package.place = format!("package `{}`", shown(name));
        let version = package.required_token("version")?;
        let Some(source) = package.string("source")? else {
            // A package without a source is a path crate: the project's own code.
            continue;
        };
        let qualifiers = if CRATES_IO.contains(&source) {
            Vec::new()
        } else if let Some(index) = source
            .strip_prefix("registry+")
            .or_else(|| source.strip_prefix("sparse+"))
        {
            vec![("repository_url", index.to_owned())]
        } else if source.starts_with("git+") {
            vec![("vcs_url", git_vcs_url(source, None))]
        } else {
            return Err(package.invalid(
                "source",
                source,
                "`registry+`, `sparse+` or `git+` and a URL\nhint: a newer Cargo may have written this file; ward does not know this source kind",
            ));
        };
        let integrity = match package.string("checksum")? {
            Some(checksum) => Some(
                sha256_integrity(checksum)
                    .ok_or_else(|| package.invalid("checksum", checksum, "64 hex digits"))?,
            ),
            None => v1_checksums
                .get(format!("{name} {version} ({source})").as_str())
                .cloned()
                .flatten(),
        };
        found.add(cargo_package(name, version, qualifiers, integrity))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// requirements.txt
// ---------------------------------------------------------------------------------------

/// The archive extensions pip recognises in a requirement that names a file.
const ARCHIVES: [&str; 12] = [
    ".whl",
    ".zip",
    ".tar.gz",
    ".tgz",
    ".tar",
    ".tar.bz2",
    ".tbz",
    ".tar.xz",
    ".txz",
    ".tlz",
    ".tar.lz",
    ".tar.lzma",
];

/// PEP 440 comparison operators, longest first so that `===` is not read as `==`.
const OPERATORS: [&str; 8] = ["===", "==", "~=", "!=", "<=", ">=", "<", ">"];

/// One requirement read from a line.
struct Requirement {
    name: String,
    version: Option<String>,
    qualifiers: Qualifiers,
}

fn requirements(text: &str, found: &mut Found) -> Result<(), LockError> {
    for (line, logical) in logical_lines(text) {
        let content = strip_comment(&logical).trim();
        // Option lines (`-r`, `-c`, `-e`, `--index-url`, ...) name files, indexes or
        // editable projects, not pinned packages.
        if content.is_empty() || content.starts_with('-') {
            continue;
        }
        let (requirement, options) = split_options(content);
        let integrity = first_sha256(&options, line)?;
        let Some(requirement) = parse_requirement(&requirement, line)? else {
            continue;
        };
        found.add(pypi_package(
            &requirement.name,
            requirement.version.as_deref(),
            requirement.qualifiers,
            integrity,
            false,
        ))?;
    }
    Ok(())
}

/// Joins continuation lines the way pip does: a line ending in `\` continues on the next,
/// unless it is a comment line, and a comment line ends a continuation. Each logical line
/// comes with the number of its first physical line.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut lines = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (index, raw) in text.split('\n').enumerate() {
        let number = index.saturating_add(1);
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let comment = raw.trim_start().starts_with('#');
        if comment || !raw.ends_with('\\') {
            match pending.take() {
                Some((first, mut joined)) => {
                    if comment {
                        // pip puts a space before a comment line it appends, so that the
                        // comment is still removed as one.
                        joined.push(' ');
                    }
                    joined.push_str(raw);
                    lines.push((first, joined));
                }
                None => lines.push((number, raw.to_owned())),
            }
        } else {
            let piece = raw.trim_matches('\\');
            match &mut pending {
                Some((_, joined)) => joined.push_str(piece),
                None => pending = Some((number, piece.to_owned())),
            }
        }
    }
    if let Some(last) = pending {
        lines.push(last);
    }
    lines
}

/// Removes a comment: a `#` at the start of the line or after whitespace, to the end. A
/// `#` inside a word (`https://host/x#egg=name`) is not a comment.
fn strip_comment(line: &str) -> &str {
    let mut previous_space = true;
    for (offset, c) in line.char_indices() {
        if c == '#' && previous_space {
            return line.get(..offset).unwrap_or(line);
        }
        previous_space = c.is_whitespace();
    }
    line
}

/// Splits a requirement line into the requirement and its options, as pip does: the
/// options start at the first word that starts with `-`.
fn split_options(line: &str) -> (String, Vec<&str>) {
    let mut words = line.split_whitespace();
    let mut requirement = Vec::new();
    let mut options = Vec::new();
    for word in words.by_ref() {
        if word.starts_with('-') {
            options.push(word);
            break;
        }
        requirement.push(word);
    }
    options.extend(words);
    (requirement.join(" "), options)
}

/// The first `sha256` hash among a requirement's `--hash` options.
fn first_sha256(options: &[&str], line: usize) -> Result<Option<String>, LockError> {
    let mut first = None;
    let mut words = options.iter();
    while let Some(word) = words.next() {
        let value = match word.strip_prefix("--hash=") {
            Some(value) => value,
            None if *word == "--hash" => *words
                .next()
                .ok_or_else(|| shape(format!("line {line}: `--hash` has no value")))?,
            None => continue,
        };
        let Some((algorithm, digest)) = value.split_once(':') else {
            return Err(shape(format!(
                "line {line}: `--hash` value `{}` is not `<algorithm>:<hex digest>`",
                shown(value)
            )));
        };
        if algorithm == "sha256" && first.is_none() {
            first = Some(sha256_integrity(digest).ok_or_else(|| {
                shape(format!(
                    "line {line}: `--hash` value `{}`: a sha256 digest is 64 hex digits",
                    shown(value)
                ))
            })?);
        }
    }
    Ok(first)
}

/// Reads one requirement. `None` for a local directory (the project or a sibling checkout:
/// its files are in the inventory, and it has no version to pin).
fn parse_requirement(text: &str, line: usize) -> Result<Option<Requirement>, LockError> {
    // Environment markers follow `;` (`; ` after a bare URL, which may contain `;`).
    let url = is_pip_url(text);
    let separator = if url { "; " } else { ";" };
    let body = text
        .split_once(separator)
        .map_or(text, |(body, _)| body)
        .trim();

    if url {
        return bare_url(body, line).map(Some);
    }
    let path = strip_extras(body);
    let before_at = body.split_once('@').map(|(before, _)| before);
    if is_archive(path) && before_at.is_none_or(looks_like_path) {
        return archive_requirement(path, Vec::new()).map(Some).ok_or_else(|| {
            shape(format!(
                "line {line}: cannot tell the package and version from the file name `{}`\nhint: write the requirement as `name @ file:///path`",
                shown(path)
            ))
        });
    }
    match named_requirement(body) {
        Ok(requirement) => Ok(Some(requirement)),
        Err(_) if looks_like_path(body) => Ok(None),
        Err(reason) => Err(shape(format!(
            "line {line}: requirement `{}`: {reason}",
            shown(body)
        ))),
    }
}

/// Whether a requirement is a bare URL, by pip's rule: its scheme is a download or
/// version-control scheme.
fn is_pip_url(text: &str) -> bool {
    let Some((scheme, _)) = text.split_once(':') else {
        return false;
    };
    let scheme = scheme.to_ascii_lowercase();
    if !scheme
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b == b'+' || b == b'-')
    {
        return false;
    }
    ["http", "https", "file", "ftp", "git", "svn"].contains(&scheme.as_str())
        || ["git+", "hg+", "svn+", "bzr+"]
            .iter()
            .any(|prefix| scheme.starts_with(prefix))
}

/// Whether a URL names a version-control checkout (pip's `git+`, `hg+`, `svn+`, `bzr+`
/// schemes and bare `git://` and `svn://`).
fn is_vcs_url(url: &str) -> bool {
    let scheme = url.get(..6).unwrap_or(url).to_ascii_lowercase();
    ["git+", "git://", "hg+", "svn+", "svn://", "bzr+"]
        .iter()
        .any(|prefix| scheme.starts_with(prefix))
}

/// pip's test for a path: a `/` or `\` in it, or a leading `.`.
fn looks_like_path(text: &str) -> bool {
    text.contains(['/', '\\']) || text.trim_start().starts_with('.')
}

fn is_archive(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    ARCHIVES.iter().any(|extension| lower.ends_with(extension))
}

/// A path without a trailing `[extras]`.
fn strip_extras(text: &str) -> &str {
    if text.ends_with(']')
        && let Some((path, _)) = text.rsplit_once('[')
    {
        return path;
    }
    text
}

/// A requirement that is a bare URL: the package is named by an `#egg=` fragment or by the
/// archive's file name.
fn bare_url(url: &str, line: usize) -> Result<Requirement, LockError> {
    let (location, fragment) = url.split_once('#').unwrap_or((url, ""));
    let qualifiers = if is_vcs_url(location) {
        vec![("vcs_url", location.to_owned())]
    } else {
        download_url(location)
    };
    let egg = fragment
        .split('&')
        .find_map(|part| part.strip_prefix("egg="))
        .filter(|name| valid_pep508_name(name));
    if let Some(name) = egg {
        return Ok(Requirement {
            name: name.to_owned(),
            version: None,
            qualifiers,
        });
    }
    let file = location
        .split_once('?')
        .map_or(location, |(path, _)| path)
        .rsplit('/')
        .next()
        .unwrap_or(location);
    if is_archive(file)
        && let Some(requirement) = archive_requirement(file, qualifiers)
    {
        return Ok(requirement);
    }
    Err(shape(format!(
        "line {line}: cannot tell which package the URL `{}` installs\nhint: write it as `name @ URL`, or add `#egg=name` to the URL",
        shown(url)
    )))
}

/// Name and version from a distribution file name: a wheel's first two `-` fields, or an
/// sdist's `<name>-<version>` where the version starts with a digit.
fn archive_requirement(path: &str, qualifiers: Qualifiers) -> Option<Requirement> {
    let file = path.rsplit(['/', '\\']).next().unwrap_or(path);
    let lower = file.to_ascii_lowercase();
    let extension = ARCHIVES
        .iter()
        .filter(|extension| lower.ends_with(*extension))
        .map(|extension| extension.len())
        .max()?;
    let stem = file.get(..file.len().checked_sub(extension)?)?;
    let (name, version) = if lower.ends_with(".whl") {
        let mut fields = stem.split('-');
        (fields.next()?, fields.next()?)
    } else {
        let (name, version) = stem.rsplit_once('-')?;
        if !version.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        (name, version)
    };
    (valid_pep508_name(name) && plain(version)).then(|| Requirement {
        name: name.to_owned(),
        version: Some(version.to_owned()),
        qualifiers,
    })
}

/// PEP 508 names: ASCII letters, digits, `-`, `_` and `.`, starting and ending with a letter
/// or digit.
fn valid_pep508_name(name: &str) -> bool {
    let ends_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    ends_ok(name.chars().next())
        && ends_ok(name.chars().last())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A PEP 508 requirement without its markers: `name[extras] @ url` or
/// `name[extras] specifiers`. The version is the one exact pin (`==` without a wildcard, or
/// `===`) among the specifiers, if there is exactly one.
fn named_requirement(body: &str) -> Result<Requirement, String> {
    let name_end = body
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(body.len());
    let (name, rest) = body
        .split_at_checked(name_end)
        .ok_or_else(|| "expected a package name".to_owned())?;
    if !valid_pep508_name(name) {
        return Err(
            "expected a package name (letters, digits, `-`, `_`, `.`) at the start".to_owned(),
        );
    }
    let mut rest = rest.trim_start();
    if let Some(extras) = rest.strip_prefix('[') {
        let (_, after) = extras
            .split_once(']')
            .ok_or_else(|| "`[` of the extras is not closed by `]`".to_owned())?;
        rest = after.trim_start();
    }
    if let Some(url) = rest.strip_prefix('@') {
        let url = url.trim();
        if url.is_empty() || url.contains(char::is_whitespace) {
            return Err("expected one URL after `@`".to_owned());
        }
        // A fragment (`#subdirectory=`, `#sha256=`) is not part of where the package is.
        let location = url.split_once('#').map_or(url, |(location, _)| location);
        let qualifiers = if is_vcs_url(location) {
            vec![("vcs_url", location.to_owned())]
        } else {
            download_url(location)
        };
        return Ok(Requirement {
            name: name.to_owned(),
            version: None,
            qualifiers,
        });
    }
    // The one exact pin, and whether another, different one was seen.
    let mut pin: Option<&str> = None;
    let mut conflicting = false;
    if !rest.is_empty() {
        let specifiers = match rest.strip_prefix('(') {
            Some(inner) => inner
                .strip_suffix(')')
                .ok_or_else(|| "`(` of the version specifiers is not closed by `)`".to_owned())?,
            None => rest,
        };
        for clause in specifiers.split(',') {
            let clause = clause.trim();
            let (operator, version) = OPERATORS
                .iter()
                .find_map(|op| clause.strip_prefix(op).map(|version| (*op, version.trim())))
                .ok_or_else(|| {
                    format!(
                        "expected a version specifier such as `==1.0`, found `{}`",
                        shown(clause)
                    )
                })?;
            if !plain(version) || version.contains([',', ';', '(', ')', '[', ']']) {
                return Err(format!("expected a version after `{operator}`"));
            }
            let exact = operator == "===" || (operator == "==" && !version.contains('*'));
            if exact {
                conflicting |= pin.is_some_and(|pinned| pinned != version);
                pin.get_or_insert(version);
            }
        }
    }
    Ok(Requirement {
        name: name.to_owned(),
        version: pin
            .filter(|_| !conflicting)
            .map(|version| version.to_owned()),
        qualifiers: Vec::new(),
    })
}

// ---------------------------------------------------------------------------------------
// poetry.lock
// ---------------------------------------------------------------------------------------

fn poetry_lock(text: &str, found: &mut Found) -> Result<(), LockError> {
    let document = toml_document(text)?;
    let root = toml_root(text, &document);
    for mut package in root.tables("package", "`[[package]]`")? {
        let name = package.required_token("name")?;
        package.place = format!("package `{}`", shown(name));
        let version = package.required_token("version")?;
        // Poetry before 1.5 writes `category = "dev"`; later versions list the dependency
        // groups, and anything outside `main` is not needed to run the project.
        let category = package.string("category")?;
        let groups = package.strings("groups")?;
        let dev = category == Some("dev")
            || groups.is_some_and(|groups| !groups.is_empty() && !groups.contains(&"main"));
        let qualifiers = match package.table("source")? {
            None => Vec::new(),
            Some(source) => {
                let kind = source.required_string("type")?;
                match kind {
                    "legacy" => pypi_index(source.required_string("url")?),
                    "git" => {
                        let url = source.required_string("url")?;
                        let revision = match source.string("resolved_reference")? {
                            Some(revision) => Some(revision),
                            None => source.string("reference")?,
                        };
                        vec![("vcs_url", git_vcs_url(url, revision))]
                    }
                    "url" => download_url(source.required_string("url")?),
                    "file" => {
                        let path = source.required_string("url")?;
                        let file = path.rsplit(['/', '\\']).next().unwrap_or(path);
                        vec![("file_name", file.to_owned())]
                    }
                    "directory" => Vec::new(),
                    other => {
                        return Err(source.invalid(
                            "type",
                            other,
                            "`legacy`, `git`, `url`, `file` or `directory`\nhint: a newer Poetry may have written this file; ward does not know this source type",
                        ));
                    }
                }
            }
        };
        found.add(pypi_package(name, Some(version), qualifiers, None, dev))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// uv.lock
// ---------------------------------------------------------------------------------------

/// The keys of a uv `source` table, one of which each package has.
const UV_SOURCES: [&str; 7] = [
    "registry",
    "editable",
    "virtual",
    "git",
    "url",
    "path",
    "directory",
];

fn uv_lock(text: &str, found: &mut Found) -> Result<(), LockError> {
    let document = toml_document(text)?;
    let root = toml_root(text, &document);
    for mut package in root.tables("package", "`[[package]]`")? {
        let name = package.required_token("name")?;
        package.place = format!("package `{}`", shown(name));
        // uv leaves out the version of a package whose version is dynamic (computed at
        // build time), which only source trees have.
        let version = package.token("version")?;
        let source = package
            .table("source")?
            .ok_or_else(|| package.missing("source"))?;
        let mut kind = None;
        for key in UV_SOURCES {
            if let Some(value) = source.string(key)? {
                kind = Some((key, value));
                break;
            }
        }
        let Some((kind, location)) = kind else {
            return Err(shape(format!(
                "line {}: {}: expected one of {} in `source`\nhint: a newer uv may have written this file; ward does not know this source kind",
                line_of(text, source.offset),
                package.place,
                UV_SOURCES.map(|key| format!("`{key}`")).join(", ")
            )));
        };
        let qualifiers = match kind {
            // The project itself and its workspace members.
            "editable" | "virtual" => continue,
            "registry" => pypi_index(location),
            "git" => vec![("vcs_url", git_vcs_url(location, None))],
            "url" => download_url(location),
            // `path` and `directory`: local, so nothing a purl could carry.
            _ => Vec::new(),
        };
        let integrity = match package.table("sdist")? {
            Some(sdist) => match sdist.string("hash")? {
                Some(hash) => Some(hex_digest(hash).ok_or_else(|| {
                    sdist.invalid(
                        "hash",
                        hash,
                        "`sha256:`, `sha384:` or `sha512:` and a hex digest",
                    )
                })?),
                None => None,
            },
            None => None,
        };
        found.add(pypi_package(name, version, qualifiers, integrity, false))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------------

fn json_document(text: &str) -> Result<Json, LockError> {
    serde_json::from_str(text).map_err(|err| {
        let full = err.to_string();
        let suffix = format!(" at line {} column {}", err.line(), err.column());
        LockError::Json {
            line: err.line(),
            column: err.column(),
            message: full.strip_suffix(&suffix).unwrap_or(&full).to_owned(),
        }
    })
}

fn json_type(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// Reads the fields of one JSON object, naming it in errors.
struct JsonFields<'a> {
    object: &'a Map<String, Json>,
    /// What the object is, for messages (`` `packages` entry `node_modules/x` ``).
    place: String,
}

impl<'a> JsonFields<'a> {
    fn of(value: &'a Json, place: String) -> Result<Self, LockError> {
        match value {
            Json::Object(object) => Ok(JsonFields { object, place }),
            other => Err(shape(format!(
                "{place}: expected an object, found {}",
                json_type(other)
            ))),
        }
    }

    fn wrong_type(&self, key: &str, value: &Json, expected: &str) -> LockError {
        shape(format!(
            "{}: expected `{key}` to be {expected}, found {}",
            self.place,
            json_type(value)
        ))
    }

    fn invalid(&self, key: &str, value: &str, expected: &str) -> LockError {
        shape(format!(
            "{}: `{key}` is `{}`; expected {expected}",
            self.place,
            shown(value)
        ))
    }

    fn string(&self, key: &str) -> Result<Option<&'a str>, LockError> {
        match self.object.get(key) {
            None => Ok(None),
            Some(Json::String(text)) => Ok(Some(text)),
            Some(other) => Err(self.wrong_type(key, other, "a string")),
        }
    }

    fn token(&self, key: &str) -> Result<Option<&'a str>, LockError> {
        match self.string(key)? {
            Some(value) if !plain(value) => Err(self.invalid(
                key,
                value,
                "a name or version without spaces or control characters",
            )),
            other => Ok(other),
        }
    }

    fn flag(&self, key: &str) -> Result<bool, LockError> {
        match self.object.get(key) {
            None => Ok(false),
            Some(Json::Bool(flag)) => Ok(*flag),
            Some(other) => Err(self.wrong_type(key, other, "a boolean")),
        }
    }

    fn object(&self, key: &str) -> Result<Option<&'a Map<String, Json>>, LockError> {
        match self.object.get(key) {
            None => Ok(None),
            Some(Json::Object(object)) => Ok(Some(object)),
            Some(other) => Err(self.wrong_type(key, other, "an object")),
        }
    }

    fn strings(&self, key: &str) -> Result<Vec<&'a str>, LockError> {
        match self.object.get(key) {
            None => Ok(Vec::new()),
            Some(Json::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Json::String(text) => Ok(text.as_str()),
                    other => Err(self.wrong_type(key, other, "an array of strings")),
                })
                .collect(),
            Some(other) => Err(self.wrong_type(key, other, "an array of strings")),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Pipfile.lock
// ---------------------------------------------------------------------------------------

fn pipfile_lock(text: &str, found: &mut Found) -> Result<(), LockError> {
    let document = json_document(text)?;
    let root = JsonFields::of(&document, "the top level".to_owned())?;
    for (section, dev) in [("default", false), ("develop", true)] {
        let Some(entries) = root.object(section)? else {
            continue;
        };
        for (name, entry) in entries {
            let place = format!("`{section}` entry `{}`", shown(name));
            if !plain(name) {
                return Err(shape(format!(
                    "{place}: expected a package name without spaces or control characters"
                )));
            }
            let entry = JsonFields::of(entry, place)?;
            let path = entry.string("path")?;
            if entry.flag("editable")? && path.is_some() {
                // An editable local path is the project itself or a sibling checkout.
                continue;
            }
            let version = match entry.token("version")? {
                Some(pin) => Some(
                    pin.strip_prefix("===")
                        .or_else(|| pin.strip_prefix("=="))
                        .filter(|version| !version.is_empty())
                        .ok_or_else(|| entry.invalid("version", pin, "`==` and a version"))?,
                ),
                None => None,
            };
            let qualifiers = if let Some(url) = entry.string("git")? {
                vec![("vcs_url", git_vcs_url(url, entry.string("ref")?))]
            } else if let Some(url) = entry.string("file")? {
                download_url(url)
            } else {
                Vec::new()
            };
            let mut integrity = None;
            for hash in entry.strings("hashes")? {
                if let Some(digest) = hash.strip_prefix("sha256:") {
                    integrity = Some(sha256_integrity(digest).ok_or_else(|| {
                        entry.invalid("hashes", hash, "`sha256:` and 64 hex digits")
                    })?);
                    break;
                }
            }
            found.add(pypi_package(name, version, qualifiers, integrity, dev))?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// package-lock.json and npm-shrinkwrap.json
// ---------------------------------------------------------------------------------------

fn package_lock(text: &str, found: &mut Found) -> Result<(), LockError> {
    let document = json_document(text)?;
    let root = JsonFields::of(&document, "the top level".to_owned())?;
    let lockfile_version = match root.object.get("lockfileVersion") {
        None => None,
        Some(Json::Number(number)) => number.as_u64(),
        Some(other) => return Err(root.wrong_type("lockfileVersion", other, "a number")),
    };
    if let Some(packages) = root.object("packages")? {
        return npm_packages(packages, found);
    }
    if lockfile_version.is_some_and(|version| version >= 2) {
        return Err(shape(
            "lockfileVersion 2 and later list packages in `packages`, which is missing".to_owned(),
        ));
    }
    match root.object("dependencies")? {
        Some(dependencies) => npm_v1_dependencies(dependencies, found),
        None => Ok(()),
    }
}

/// lockfileVersion 2 and 3: `packages` maps install paths to packages.
fn npm_packages(packages: &Map<String, Json>, found: &mut Found) -> Result<(), LockError> {
    for (path, entry) in packages {
        // `""` is the project; a path outside `node_modules` is a workspace folder. Both
        // are the project's own code.
        let Some((_, installed_as)) = path.rsplit_once("node_modules/") else {
            continue;
        };
        let entry = JsonFields::of(entry, format!("`packages` entry `{}`", shown(path)))?;
        if entry.flag("link")? {
            // A symbolic link to a workspace folder, listed under its own path too.
            continue;
        }
        // An aliased install (`"x": "npm:y@1"`) records the real name in `name`.
        let name = entry.token("name")?.unwrap_or(installed_as);
        let version = entry
            .token("version")?
            .ok_or_else(|| shape(format!("{}: `version` is missing", entry.place)))?;
        let qualifiers = match entry.string("resolved")? {
            Some(resolved) if is_npm_git(resolved) => {
                vec![("vcs_url", git_vcs_url(&npm_git_url(resolved), None))]
            }
            _ => Vec::new(),
        };
        let integrity = entry.string("integrity")?.map(str::to_owned);
        let package = npm_package(
            name,
            Some(version),
            qualifiers,
            integrity,
            entry.flag("dev")?,
        )
        .ok_or_else(|| entry.invalid("name", name, "`name` or `@scope/name`"))?;
        found.add(package)?;
    }
    Ok(())
}

/// lockfileVersion 1: `dependencies` maps names to packages, which nest their own
/// `dependencies` when npm could not hoist them. Walked with an explicit stack, bounded by
/// [`MAX_DEPTH`]. Messages name an entry by its key and its parent's key, which the stack
/// borrows from the document, so that pending work costs no copies of the nesting path.
fn npm_v1_dependencies(
    dependencies: &Map<String, Json>,
    found: &mut Found,
) -> Result<(), LockError> {
    let mut stack: Vec<(&Map<String, Json>, usize, Option<&str>)> = vec![(dependencies, 1, None)];
    while let Some((dependencies, depth, parent)) = stack.pop() {
        for (key, entry) in dependencies {
            let place = match parent {
                Some(parent) => format!(
                    "`dependencies` entry `{}` > `{}`",
                    shown(parent),
                    shown(key)
                ),
                None => format!("`dependencies` entry `{}`", shown(key)),
            };
            let entry = JsonFields::of(entry, place)?;
            if let Some(nested) = entry.object("dependencies")?
                && !nested.is_empty()
            {
                let nested_depth = depth.saturating_add(1);
                if nested_depth > MAX_DEPTH {
                    return Err(LockError::TooDeep { limit: MAX_DEPTH });
                }
                stack.push((nested, nested_depth, Some(key.as_str())));
            }
            let written = entry
                .token("version")?
                .ok_or_else(|| shape(format!("{}: `version` is missing", entry.place)))?;
            let (name, version, qualifiers) = if written.starts_with("file:") {
                // A local folder or tarball: the project's own code.
                continue;
            } else if let Some(aliased) = written.strip_prefix("npm:") {
                // `"x": {"version": "npm:y@1.0.0"}` installs y 1.0.0 under the name x.
                let (name, version) = aliased
                    .rsplit_once('@')
                    .filter(|(name, version)| !name.is_empty() && !version.is_empty())
                    .ok_or_else(|| entry.invalid("version", written, "`npm:<name>@<version>`"))?;
                (name, Some(version), Vec::new())
            } else if is_npm_git(written) {
                // Git dependencies record the git URL where the version would be.
                let url = git_vcs_url(&npm_git_url(written), None);
                (key.as_str(), None, vec![("vcs_url", url)])
            } else if written.contains("://") {
                (key.as_str(), None, download_url(written))
            } else {
                (key.as_str(), Some(written), Vec::new())
            };
            let integrity = entry.string("integrity")?.map(str::to_owned);
            let package = npm_package(name, version, qualifiers, integrity, entry.flag("dev")?)
                .ok_or_else(|| entry.invalid("name", name, "`name` or `@scope/name`"))?;
            found.add(package)?;
        }
    }
    Ok(())
}

/// Whether npm recorded a git source: a git URL or a hosted-git shorthand.
fn is_npm_git(spec: &str) -> bool {
    ["git+", "git:", "github:", "gitlab:", "bitbucket:"]
        .iter()
        .any(|prefix| spec.starts_with(prefix))
}

/// A git URL from npm's spelling of it, with the hosted-git shorthands expanded.
fn npm_git_url(spec: &str) -> String {
    for (shorthand, host) in [
        ("github:", "https://github.com/"),
        ("gitlab:", "https://gitlab.com/"),
        ("bitbucket:", "https://bitbucket.org/"),
    ] {
        if let Some(path) = spec.strip_prefix(shorthand) {
            return format!("{host}{path}");
        }
    }
    spec.to_owned()
}

/// A lock-file integrity value (`sha256:<hex>`, npm's `sha512-<base64>`, ...) as an
/// algorithm name (`sha1`, `sha256`, `sha384`, `sha512`) and a lowercase hex digest, when it
/// is one of those and its length matches. Both BOM writers use it.
pub fn integrity_hash(integrity: &str) -> Option<(&'static str, String)> {
    let (algorithm, value) = integrity.split_once([':', '-'])?;
    let (name, size) = match algorithm.to_ascii_lowercase().as_str() {
        "sha1" => ("sha1", 20),
        "sha256" => ("sha256", 32),
        "sha384" => ("sha384", 48),
        "sha512" => ("sha512", 64),
        _ => return None,
    };
    let bytes = match hex::decode(value) {
        Ok(bytes) => bytes,
        Err(_) => base64_decode(value)?,
    };
    (bytes.len() == size).then(|| (name, hex::encode(bytes)))
}

/// Standard base64 with optional `=` padding (the alphabet lock files use); text that is
/// not canonical base64 (stray characters, non-zero trailing bits) is refused.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT_PADDING: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    LENIENT_PADDING.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn integrity_values_become_hex_hashes() {
        let hex = hex::encode([0xab; 32]);
        assert_eq!(
            integrity_hash(&format!("sha256:{hex}")),
            Some(("sha256", hex.clone()))
        );
        // sha512 of the empty string, as npm writes it.
        let npm = "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==";
        assert_eq!(
            integrity_hash(npm).map(|(a, h)| (a, h.len())),
            Some(("sha512", 128))
        );
        assert!(
            integrity_hash(npm)
                .unwrap()
                .1
                .starts_with("cf83e1357eefb8bd")
        );
        assert_eq!(integrity_hash("md5:abcd"), None);
        assert_eq!(integrity_hash("sha256:not-a-hash"), None);
        assert_eq!(integrity_hash("sha256:"), None);
    }

    #[test]
    fn base64_rejects_what_is_not_base64() {
        assert_eq!(base64_decode("TWFu"), Some(b"Man".to_vec()));
        assert_eq!(base64_decode("TWE="), Some(b"Ma".to_vec()));
        assert_eq!(base64_decode("TQ=="), Some(b"M".to_vec()));
        assert_eq!(base64_decode("TR=="), None);
        assert_eq!(base64_decode("T"), None);
        assert_eq!(base64_decode("T*=="), None);
    }

    // -----------------------------------------------------------------------------------
    // Helpers
    // -----------------------------------------------------------------------------------

    fn purls(packages: &[Package]) -> Vec<&str> {
        packages.iter().map(|p| p.purl.as_str()).collect()
    }

    fn find<'a>(packages: &'a [Package], purl: &str) -> &'a Package {
        packages
            .iter()
            .find(|p| p.purl == purl)
            .unwrap_or_else(|| panic!("no package {purl} in {:#?}", purls(packages)))
    }

    fn shape_message(result: Result<Vec<Package>, LockError>) -> String {
        match result {
            Err(LockError::Shape { what }) => what,
            other => panic!("expected a shape error, got {other:?}"),
        }
    }

    const SHA_A: &str = "a1a2a3a4a5a6a7a8a9a0b1b2b3b4b5b6b7b8b9b0c1c2c3c4c5c6c7c8c9c0d1d2";
    const SHA_B: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    // -----------------------------------------------------------------------------------
    // Names, kinds, purl encoding
    // -----------------------------------------------------------------------------------

    #[test]
    fn lock_files_are_recognised_by_name() {
        let cases = [
            ("Cargo.lock", Some(LockKind::CargoLock)),
            ("requirements.txt", Some(LockKind::Requirements)),
            ("requirements-dev.txt", Some(LockKind::Requirements)),
            ("requirements_gpu.txt", Some(LockKind::Requirements)),
            ("constraints.txt", Some(LockKind::Requirements)),
            ("constraints-py312.txt", Some(LockKind::Requirements)),
            ("poetry.lock", Some(LockKind::PoetryLock)),
            ("uv.lock", Some(LockKind::UvLock)),
            ("Pipfile.lock", Some(LockKind::PipfileLock)),
            ("package-lock.json", Some(LockKind::PackageLock)),
            ("npm-shrinkwrap.json", Some(LockKind::PackageLock)),
            ("cargo.lock", None),
            ("requirements.in", None),
            ("requirements", None),
            ("dev-requirements.txt", None),
            ("Pipfile", None),
            ("package.json", None),
            ("yarn.lock", None),
            ("sub/Cargo.lock", None),
            ("sub\\uv.lock", None),
            ("", None),
        ];
        for (name, kind) in cases {
            assert_eq!(lock_kind(name), kind, "{name}");
        }
    }

    #[test]
    fn kinds_name_their_ecosystem() {
        let cases = [
            (LockKind::CargoLock, "cargo-lock", Ecosystem::Cargo, "cargo"),
            (
                LockKind::Requirements,
                "requirements",
                Ecosystem::Pypi,
                "pypi",
            ),
            (LockKind::PoetryLock, "poetry-lock", Ecosystem::Pypi, "pypi"),
            (LockKind::UvLock, "uv-lock", Ecosystem::Pypi, "pypi"),
            (
                LockKind::PipfileLock,
                "pipfile-lock",
                Ecosystem::Pypi,
                "pypi",
            ),
            (LockKind::PackageLock, "package-lock", Ecosystem::Npm, "npm"),
        ];
        for (kind, name, ecosystem, purl_type) in cases {
            assert_eq!(kind.as_str(), name);
            assert_eq!(kind.ecosystem(), ecosystem);
            assert_eq!(kind.ecosystem().as_str(), purl_type);
        }
    }

    #[test]
    fn percent_encoding_keeps_only_unreserved_characters_and_colon() {
        assert_eq!(percent_encode("AZaz09.-_~:"), "AZaz09.-_~:");
        assert_eq!(percent_encode("@angular"), "%40angular");
        assert_eq!(percent_encode("1.0+cpu"), "1.0%2Bcpu");
        assert_eq!(
            percent_encode("a b/c?d=e&f#g%"),
            "a%20b%2Fc%3Fd%3De%26f%23g%25"
        );
        assert_eq!(percent_encode("é"), "%C3%A9");
        assert_eq!(
            percent_encode("git+https://github.com/a/b@c0ffee"),
            "git%2Bhttps:%2F%2Fgithub.com%2Fa%2Fb%40c0ffee"
        );
        assert_eq!(percent_encode(""), "");
    }

    #[test]
    fn purls_are_built_in_canonical_form() {
        assert_eq!(
            purl(Ecosystem::Cargo, None, "serde", Some("1.0.0"), Vec::new()),
            "pkg:cargo/serde@1.0.0"
        );
        assert_eq!(
            purl(Ecosystem::Npm, Some("@babel"), "core", None, Vec::new()),
            "pkg:npm/%40babel/core"
        );
        // Qualifiers sorted by key, empty ones left out.
        let qualifiers = vec![
            ("vcs_url", "git+https://h/r@1".to_owned()),
            ("download_url", String::new()),
            ("repository_url", "https://r/".to_owned()),
        ];
        assert_eq!(
            purl(Ecosystem::Pypi, None, "x", Some("1"), qualifiers),
            "pkg:pypi/x@1?repository_url=https:%2F%2Fr%2F&vcs_url=git%2Bhttps:%2F%2Fh%2Fr%401"
        );
    }

    #[test]
    fn pypi_names_are_normalised_for_purls_only() {
        assert_eq!(pep503("Foo.Bar__baz-_-Qux"), "foo-bar-baz-qux");
        assert_eq!(pep503("PyYAML"), "pyyaml");
        let packages = parse(LockKind::Requirements, "Typing_Extensions==4.12.2\n").unwrap();
        assert_eq!(packages.len(), 1);
        assert_eq!(packages[0].name, "Typing_Extensions");
        assert_eq!(packages[0].purl, "pkg:pypi/typing-extensions@4.12.2");
    }

    #[test]
    fn git_urls_become_vcs_urls_with_the_locked_revision() {
        assert_eq!(
            git_vcs_url("git+https://github.com/a/b?branch=main#0a1b2c", None),
            "git+https://github.com/a/b@0a1b2c"
        );
        assert_eq!(
            git_vcs_url("https://github.com/a/b.git", Some("f00d")),
            "git+https://github.com/a/b.git@f00d"
        );
        assert_eq!(
            git_vcs_url("git+ssh://git@github.com/a/b.git", None),
            "git+ssh://git@github.com/a/b.git"
        );
    }

    // -----------------------------------------------------------------------------------
    // Cargo.lock
    // -----------------------------------------------------------------------------------

    /// The shape of Cargo's own lock file (version 4).
    const CARGO_V4: &str = r#"# This file is automatically @generated by Cargo.
# It is not intended for manual editing.
version = 4

[[package]]
name = "anstream"
version = "0.6.18"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "8acc5369981196006228e28809f761875c0327210a891e941f4c683b3a99529b"
dependencies = [
 "anstyle",
 "utf8parse",
]

[[package]]
name = "cargo"
version = "0.87.0"
dependencies = [
 "anstream",
 "gix",
]

[[package]]
name = "cargo-util"
version = "0.2.18"

[[package]]
name = "gix"
version = "0.70.0"
source = "git+https://github.com/GitoxideLabs/gitoxide?branch=main#9c2a3b1d0e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b"
dependencies = [
 "gix-actor",
]

[[package]]
name = "internal-util"
version = "1.2.0"
source = "sparse+https://crates.example.com/index/"
checksum = "A1A2A3A4A5A6A7A8A9A0B1B2B3B4B5B6B7B8B9B0C1C2C3C4C5C6C7C8C9C0D1D2"

[[package]]
name = "utf8parse"
version = "0.2.2"
source = "sparse+https://index.crates.io/"
checksum = "06abde3611657adf66d383f00b093d7faecc7fa57071cce2578660c9f1010821"
"#;

    #[test]
    fn cargo_lock_v4_lists_registry_and_git_crates_and_skips_path_crates() {
        let packages = parse(LockKind::CargoLock, CARGO_V4).unwrap();
        assert_eq!(
            purls(&packages),
            [
                "pkg:cargo/anstream@0.6.18",
                "pkg:cargo/gix@0.70.0?vcs_url=git%2Bhttps:%2F%2Fgithub.com%2FGitoxideLabs%2Fgitoxide%409c2a3b1d0e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b",
                "pkg:cargo/internal-util@1.2.0?repository_url=https:%2F%2Fcrates.example.com%2Findex%2F",
                "pkg:cargo/utf8parse@0.2.2",
            ]
        );
        let anstream = find(&packages, "pkg:cargo/anstream@0.6.18");
        assert_eq!(
            anstream.integrity.as_deref(),
            Some("sha256:8acc5369981196006228e28809f761875c0327210a891e941f4c683b3a99529b")
        );
        assert_eq!(anstream.ecosystem, Ecosystem::Cargo);
        assert_eq!(anstream.name, "anstream");
        assert_eq!(anstream.version.as_deref(), Some("0.6.18"));
        assert!(!anstream.dev);
        // Uppercase hex is lowercased; git crates have no checksum.
        assert_eq!(
            packages[2].integrity.as_deref(),
            Some(format!("sha256:{SHA_A}").as_str())
        );
        assert_eq!(packages[1].integrity, None);
    }

    #[test]
    fn cargo_lock_v1_reads_checksums_from_metadata() {
        let text = format!(
            r#"[[package]]
name = "itoa"
version = "0.4.8"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "myapp"
version = "0.1.0"
dependencies = [
 "itoa 0.4.8 (registry+https://github.com/rust-lang/crates.io-index)",
]

[[package]]
name = "ryu"
version = "1.0.5"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "vendored"
version = "0.3.0"
source = "git+https://example.com/vendored.git#abcdef0"

[metadata]
"checksum itoa 0.4.8 (registry+https://github.com/rust-lang/crates.io-index)" = "{SHA_A}"
"checksum ryu 1.0.5 (registry+https://github.com/rust-lang/crates.io-index)" = "{SHA_B}"
"checksum vendored 0.3.0 (git+https://example.com/vendored.git#abcdef0)" = "<none>"
"#
        );
        let packages = parse(LockKind::CargoLock, &text).unwrap();
        assert_eq!(packages.len(), 3);
        assert_eq!(
            find(&packages, "pkg:cargo/itoa@0.4.8").integrity.as_deref(),
            Some(format!("sha256:{SHA_A}").as_str())
        );
        assert_eq!(
            find(&packages, "pkg:cargo/ryu@1.0.5").integrity.as_deref(),
            Some(format!("sha256:{SHA_B}").as_str())
        );
        let vendored = find(
            &packages,
            "pkg:cargo/vendored@0.3.0?vcs_url=git%2Bhttps:%2F%2Fexample.com%2Fvendored.git%40abcdef0",
        );
        assert_eq!(vendored.integrity, None);
    }

    #[test]
    fn cargo_lock_with_a_bad_v1_checksum_fails() {
        let text = r#"[[package]]
name = "itoa"
version = "0.4.8"
source = "registry+https://github.com/rust-lang/crates.io-index"

[metadata]
"checksum itoa 0.4.8 (registry+https://github.com/rust-lang/crates.io-index)" = "zz"
"#;
        assert_eq!(
            shape_message(parse(LockKind::CargoLock, text)),
            "line 7: the top level `metadata`: `checksum itoa 0.4.8 (registry+https://github.com/rust-lang/crates.io-index)` is `zz`; expected 64 hex digits"
        );
    }

    #[test]
    fn cargo_lock_errors_name_the_line_and_the_package() {
        let text = "version = 3\n\n[[package]]\nname = \"serde\"\nversion = 1\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n";
        assert_eq!(
            shape_message(parse(LockKind::CargoLock, text)),
            "line 5: package `serde`: expected `version` to be a string, found an integer"
        );

        let text = "[[package]]\nversion = \"1.0.0\"\n";
        assert_eq!(
            shape_message(parse(LockKind::CargoLock, text)),
            "line 1: `[[package]]` 1: `name` is missing"
        );

        let text = "[[package]]\nname = \"x\"\nversion = \"1\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"abc\"\n";
        assert_eq!(
            shape_message(parse(LockKind::CargoLock, text)),
            "line 5: package `x`: `checksum` is `abc`; expected 64 hex digits"
        );

        let text = "[[package]]\nname = \"x\"\nversion = \"1\"\nsource = \"path+file:///src/x\"\n";
        let what = shape_message(parse(LockKind::CargoLock, text));
        assert!(
            what.starts_with("line 4: package `x`: `source` is `path+file:///src/x`"),
            "{what}"
        );

        let text = "package = \"nope\"\n";
        assert_eq!(
            shape_message(parse(LockKind::CargoLock, text)),
            "line 1: the top level: expected `package` to be an array of tables, found a string"
        );

        let text = "[[package]]\nname = \"bad name\"\nversion = \"1\"\n";
        let what = shape_message(parse(LockKind::CargoLock, text));
        assert!(
            what.starts_with("line 2: `[[package]]` 1: `name` is `bad name`"),
            "{what}"
        );
    }

    #[test]
    fn broken_toml_is_a_toml_error_with_its_line() {
        let err = parse(
            LockKind::CargoLock,
            "version = 4\n\n[[package]\nname = \"x\"\n",
        )
        .unwrap_err();
        match &err {
            LockError::Toml { line, message } => {
                assert_eq!(*line, Some(3));
                assert!(!message.is_empty());
            }
            other => panic!("expected a TOML error, got {other:?}"),
        }
        assert!(
            err.to_string().starts_with("not valid TOML at line 3: "),
            "{err}"
        );

        // Duplicate keys are refused, not resolved one way or the other.
        let err = parse(
            LockKind::UvLock,
            "[[package]]\nname = \"a\"\nname = \"b\"\n",
        )
        .unwrap_err();
        assert!(
            matches!(err, LockError::Toml { line: Some(3), .. }),
            "{err:?}"
        );
    }

    #[test]
    fn empty_lock_files_have_no_packages() {
        for kind in [
            LockKind::CargoLock,
            LockKind::Requirements,
            LockKind::PoetryLock,
            LockKind::UvLock,
        ] {
            assert_eq!(parse(kind, "").unwrap(), Vec::new(), "{kind:?}");
        }
        assert_eq!(parse(LockKind::PipfileLock, "{}").unwrap(), Vec::new());
        assert_eq!(parse(LockKind::PackageLock, "{}").unwrap(), Vec::new());
    }

    // -----------------------------------------------------------------------------------
    // requirements.txt
    // -----------------------------------------------------------------------------------

    #[test]
    fn requirements_pins_and_ranges() {
        let text = "\u{feff}# Core\n\
            torch==2.3.1+cu121\n\
            numpy>=1.26,<2\n\
            transformers[torch,sentencepiece] == 4.44.2 ; python_version >= \"3.9\"\n\
            legacy===1.0-custom\n\
            wild==1.*\n\
            Flask\n\
            paren (==3.0.0)\n\
            twice==1.0,==1.0\n\
            conflict==1.0,==2.0\n\
            \n\
            accelerate~=0.33   # inline comment\n";
        let packages = parse(LockKind::Requirements, text).unwrap();
        let versions: Vec<(&str, Option<&str>, &str)> = packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_deref(), p.purl.as_str()))
            .collect();
        assert_eq!(
            versions,
            [
                ("Flask", None, "pkg:pypi/flask"),
                ("accelerate", None, "pkg:pypi/accelerate"),
                ("conflict", None, "pkg:pypi/conflict"),
                ("legacy", Some("1.0-custom"), "pkg:pypi/legacy@1.0-custom"),
                ("numpy", None, "pkg:pypi/numpy"),
                ("paren", Some("3.0.0"), "pkg:pypi/paren@3.0.0"),
                ("torch", Some("2.3.1+cu121"), "pkg:pypi/torch@2.3.1%2Bcu121"),
                (
                    "transformers",
                    Some("4.44.2"),
                    "pkg:pypi/transformers@4.44.2"
                ),
                ("twice", Some("1.0"), "pkg:pypi/twice@1.0"),
                ("wild", None, "pkg:pypi/wild"),
            ]
        );
        assert!(
            packages
                .iter()
                .all(|p| p.ecosystem == Ecosystem::Pypi && !p.dev)
        );
    }

    /// The shape `pip-compile --generate-hashes` writes.
    const PIP_COMPILE: &str = "#\n\
# This file is autogenerated by pip-compile with Python 3.12\n\
# by the following command:\n\
#\n\
#    pip-compile --generate-hashes requirements.in\n\
#\n\
--index-url https://pypi.org/simple\n\
--extra-index-url https://download.pytorch.org/whl/cu121\n\
\n\
certifi==2024.8.30 \\\n\
    --hash=sha256:922820b53db7a7257ffbda3f597266d435245903d80737e34f8a45ff3e3230d8 \\\n\
    --hash=sha256:bec941d2aac0a8d2f1b9e4b6a3e3f0bd25a1c33c2bd1a6c1e6ff4d3c5f2b1a09\n\
    # via requests\n\
charset-normalizer==3.3.2 \\\n\
    --hash=sha512:00 \\\n\
    --hash sha256:F1A2A3A4A5A6A7A8A9A0B1B2B3B4B5B6B7B8B9B0C1C2C3C4C5C6C7C8C9C0D1D2\n\
    # via requests\n\
requests==2.32.3 \\\n\
    --hash=sha256:70761cfe03c773ceb22aa2f671b4757976145175cdfca038c02654d061d6dcc6\n\
    # via -r requirements.in\n\
-e ./local-package\n\
-r requirements-dev.txt\n";

    #[test]
    fn requirements_from_pip_compile_with_hashes_and_continuations() {
        let packages = parse(LockKind::Requirements, PIP_COMPILE).unwrap();
        assert_eq!(
            purls(&packages),
            [
                "pkg:pypi/certifi@2024.8.30",
                "pkg:pypi/charset-normalizer@3.3.2",
                "pkg:pypi/requests@2.32.3",
            ]
        );
        let integrity: Vec<Option<&str>> =
            packages.iter().map(|p| p.integrity.as_deref()).collect();
        assert_eq!(
            integrity,
            [
                Some("sha256:922820b53db7a7257ffbda3f597266d435245903d80737e34f8a45ff3e3230d8"),
                Some("sha256:f1a2a3a4a5a6a7a8a9a0b1b2b3b4b5b6b7b8b9b0c1c2c3c4c5c6c7c8c9c0d1d2"),
                Some("sha256:70761cfe03c773ceb22aa2f671b4757976145175cdfca038c02654d061d6dcc6"),
            ]
        );
    }

    #[test]
    fn requirement_continuations_join_and_comment_lines_end_them() {
        let lines = logical_lines("a==1 \\\n  --hash=x \\\n# note \\\nb==2\\\n");
        assert_eq!(
            lines,
            [
                (1, "a==1   --hash=x  # note \\".to_owned()),
                (4, "b==2".to_owned()),
            ]
        );
    }

    #[test]
    fn requirements_direct_references_urls_and_paths() {
        let text = "\
mylib @ https://files.example.com/mylib-0.3.0-py3-none-any.whl#sha256=00\n\
forked @ git+https://github.com/me/forked.git@v2.1#egg=forked\n\
localfile @ file:///home/me/wheels/localfile-1.0-py3-none-any.whl\n\
https://example.com/dist/direct_pkg-2.0.1.tar.gz\n\
git+https://github.com/org/egg-only.git@main#egg=egg-only&subdirectory=py\n\
./wheels/Local_Wheel-0.9-py3-none-any.whl\n\
.\n\
./libs/sibling\n\
libs/other[extra]\n";
        let packages = parse(LockKind::Requirements, text).unwrap();
        let found: Vec<(&str, Option<&str>, &str)> = packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_deref(), p.purl.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                ("Local_Wheel", Some("0.9"), "pkg:pypi/local-wheel@0.9"),
                (
                    "direct_pkg",
                    Some("2.0.1"),
                    "pkg:pypi/direct-pkg@2.0.1?download_url=https:%2F%2Fexample.com%2Fdist%2Fdirect_pkg-2.0.1.tar.gz"
                ),
                (
                    "egg-only",
                    None,
                    "pkg:pypi/egg-only?vcs_url=git%2Bhttps:%2F%2Fgithub.com%2Forg%2Fegg-only.git%40main"
                ),
                (
                    "forked",
                    None,
                    "pkg:pypi/forked?vcs_url=git%2Bhttps:%2F%2Fgithub.com%2Fme%2Fforked.git%40v2.1"
                ),
                ("localfile", None, "pkg:pypi/localfile"),
                (
                    "mylib",
                    None,
                    "pkg:pypi/mylib?download_url=https:%2F%2Ffiles.example.com%2Fmylib-0.3.0-py3-none-any.whl"
                ),
            ]
        );
    }

    #[test]
    fn requirements_markers_after_a_url_need_a_space() {
        let text = "pkg @ https://example.com/pkg.zip ; sys_platform == \"linux\"\n";
        let packages = parse(LockKind::Requirements, text).unwrap();
        assert_eq!(
            purls(&packages),
            ["pkg:pypi/pkg?download_url=https:%2F%2Fexample.com%2Fpkg.zip"]
        );
    }

    #[test]
    fn requirements_that_cannot_be_read_fail_with_their_line() {
        let cases = [
            (
                "ok==1\nfoo==\n",
                "line 2: requirement `foo==`: expected a version after `==`",
            ),
            (
                "foo bar\n",
                "line 1: requirement `foo bar`: expected a version specifier such as `==1.0`, found `bar`",
            ),
            (
                "foo[extra\n",
                "line 1: requirement `foo[extra`: `[` of the extras is not closed by `]`",
            ),
            (
                "foo @\n",
                "line 1: requirement `foo @`: expected one URL after `@`",
            ),
            (
                "-foo==1\n_bad==1\n",
                "line 2: requirement `_bad==1`: expected a package name (letters, digits, `-`, `_`, `.`) at the start",
            ),
            (
                "x==1 --hash=sha256:abc\n",
                "line 1: `--hash` value `sha256:abc`: a sha256 digest is 64 hex digits",
            ),
            (
                "x==1 --hash=nocolon\n",
                "line 1: `--hash` value `nocolon` is not `<algorithm>:<hex digest>`",
            ),
            ("x==1 \\\n  --hash\n", "line 1: `--hash` has no value"),
        ];
        for (text, expected) in cases {
            assert_eq!(
                shape_message(parse(LockKind::Requirements, text)),
                expected,
                "{text:?}"
            );
        }
        let what = shape_message(parse(
            LockKind::Requirements,
            "https://example.com/download?id=3\n",
        ));
        assert!(
            what.starts_with("line 1: cannot tell which package the URL `https://example.com/download?id=3` installs"),
            "{what}"
        );
        assert!(what.contains("\nhint: "), "{what}");
    }

    #[test]
    fn error_messages_escape_control_characters_and_stay_short() {
        let text = format!("foo \u{1b}[31m{}\n", "x".repeat(500));
        let what = shape_message(parse(LockKind::Requirements, &text));
        assert!(!what.contains('\u{1b}'), "{what:?}");
        assert!(what.contains("\\u{1b}"), "{what:?}");
        assert!(what.chars().count() < 400, "{what:?}");
    }

    // -----------------------------------------------------------------------------------
    // poetry.lock
    // -----------------------------------------------------------------------------------

    /// The shape Poetry 1.8 writes (lock-version 2.0), with path, git and custom-index
    /// sources.
    const POETRY_18: &str = r#"# This file is automatically @generated by Poetry 1.8.3 and should not be changed by hand.

[[package]]
name = "certifi"
version = "2024.8.30"
description = "Python package for providing Mozilla's CA Bundle."
optional = false
python-versions = ">=3.6"
files = [
    {file = "certifi-2024.8.30-py3-none-any.whl", hash = "sha256:922820b53db7a7257ffbda3f597266d435245903d80737e34f8a45ff3e3230d8"},
]

[[package]]
name = "internal-models"
version = "0.4.1"
description = ""
optional = false
python-versions = "*"
files = []

[package.source]
type = "legacy"
url = "https://pypi.internal.example.com/simple"
reference = "internal"

[[package]]
name = "mytools"
version = "0.1.0"
description = "Local helpers"
optional = false
python-versions = "^3.10"
files = []
develop = true

[package.dependencies]
certifi = "*"

[package.source]
type = "directory"
url = "../mytools"

[[package]]
name = "peft"
version = "0.12.0"
description = "Parameter-Efficient Fine-Tuning"
optional = false
python-versions = ">=3.8"
files = []
develop = false

[package.source]
type = "git"
url = "https://github.com/huggingface/peft.git"
reference = "main"
resolved_reference = "3a1b2c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b"

[[package]]
name = "pytest"
version = "8.3.2"
description = "pytest: simple powerful testing with Python"
optional = false
python-versions = ">=3.8"
category = "dev"
files = []

[[package]]
name = "vendored-wheel"
version = "2.0.0"
description = ""
optional = false
python-versions = "*"
files = []

[package.source]
type = "file"
url = "wheels/vendored_wheel-2.0.0-py3-none-any.whl"

[metadata]
lock-version = "2.0"
python-versions = "^3.10"
content-hash = "0f2c5a7d3e1b9c8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a"
"#;

    #[test]
    fn poetry_lock_lists_packages_and_notes_their_sources() {
        let packages = parse(LockKind::PoetryLock, POETRY_18).unwrap();
        assert_eq!(
            purls(&packages),
            [
                "pkg:pypi/certifi@2024.8.30",
                "pkg:pypi/internal-models@0.4.1?repository_url=https:%2F%2Fpypi.internal.example.com%2Fsimple",
                "pkg:pypi/mytools@0.1.0",
                "pkg:pypi/peft@0.12.0?vcs_url=git%2Bhttps:%2F%2Fgithub.com%2Fhuggingface%2Fpeft.git%403a1b2c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b",
                "pkg:pypi/pytest@8.3.2",
                "pkg:pypi/vendored-wheel@2.0.0?file_name=vendored_wheel-2.0.0-py3-none-any.whl",
            ]
        );
        let dev: Vec<bool> = packages.iter().map(|p| p.dev).collect();
        assert_eq!(dev, [false, false, false, false, true, false]);
        assert!(packages.iter().all(|p| p.integrity.is_none()));
    }

    #[test]
    fn poetry_2_groups_decide_dev() {
        let text = r#"
[[package]]
name = "black"
version = "24.8.0"
groups = ["dev", "lint"]

[[package]]
name = "click"
version = "8.1.7"
groups = ["main", "dev"]

[[package]]
name = "rich"
version = "13.8.0"
groups = ["main"]

[metadata]
lock-version = "2.1"
"#;
        let packages = parse(LockKind::PoetryLock, text).unwrap();
        let dev: Vec<(&str, bool)> = packages.iter().map(|p| (p.name.as_str(), p.dev)).collect();
        assert_eq!(dev, [("black", true), ("click", false), ("rich", false)]);
    }

    #[test]
    fn poetry_lock_unknown_source_type_fails() {
        let text = "[[package]]\nname = \"x\"\nversion = \"1\"\n\n[package.source]\ntype = \"hg\"\nurl = \"https://h/x\"\n";
        let what = shape_message(parse(LockKind::PoetryLock, text));
        assert!(
            what.starts_with("line 6: package `x` `source`: `type` is `hg`; expected `legacy`"),
            "{what}"
        );

        let text = "[[package]]\nname = \"x\"\nversion = \"1\"\ngroups = [\"main\", 3]\n";
        assert_eq!(
            shape_message(parse(LockKind::PoetryLock, text)),
            "line 4: package `x`: expected `groups` to be an array of strings, found an integer"
        );
    }

    // -----------------------------------------------------------------------------------
    // uv.lock
    // -----------------------------------------------------------------------------------

    /// The shape uv writes (lock version 1, revision 3).
    const UV_LOCK: &str = r#"version = 1
revision = 3
requires-python = ">=3.11"

[manifest]
members = ["my-agent", "my-agent-tools"]

[[package]]
name = "anyio"
version = "4.6.0"
source = { registry = "https://pypi.org/simple" }
dependencies = [
    { name = "idna" },
    { name = "sniffio" },
]
sdist = { url = "https://files.pythonhosted.org/packages/78/49/anyio-4.6.0.tar.gz", hash = "sha256:137b4559cbb034c477165047febb6ff83f390fc3b20bf181c1fc0a728cb8beeb", size = 173422, upload-time = "2024-09-21T10:33:27.318Z" }
wheels = [
    { url = "https://files.pythonhosted.org/packages/9e/ef/anyio-4.6.0-py3-none-any.whl", hash = "sha256:c7d2e9d63e31599eeb636c8c5c03a7e108d73b345f064f1c19fdc87b79036a9a", size = 89631, upload-time = "2024-09-21T10:33:25.896Z" },
]

[[package]]
name = "flash-attn"
version = "2.6.3"
source = { url = "https://github.com/Dao-AILab/flash-attention/releases/download/v2.6.3/flash_attn-2.6.3-cp311-cp311-linux_x86_64.whl" }
wheels = [
    { url = "https://github.com/Dao-AILab/flash-attention/releases/download/v2.6.3/flash_attn-2.6.3-cp311-cp311-linux_x86_64.whl", hash = "sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9" },
]

[[package]]
name = "my-agent"
version = "0.1.0"
source = { editable = "." }
dependencies = [
    { name = "anyio" },
]

[[package]]
name = "my-agent-tools"
source = { virtual = "packages/tools" }

[[package]]
name = "sibling"
version = "0.2.0"
source = { directory = "../sibling" }

[[package]]
name = "torch"
version = "2.4.1+cu121"
source = { registry = "https://download.pytorch.org/whl/cu121" }
wheels = [
    { url = "https://download.pytorch.org/whl/cu121/torch-2.4.1%2Bcu121-cp311-cp311-linux_x86_64.whl", hash = "sha256:d3c5ff0ad4a1d7e1e4d94f2b0b2a4a6e9e4b1b8a3e1d1f7c6b5a4d3c2b1a0f9e" },
]

[[package]]
name = "trl"
version = "0.11.0.dev0"
source = { git = "https://github.com/huggingface/trl?rev=main#4c2e1a9f0b8d7c6e5f4a3b2c1d0e9f8a7b6c5d4e" }
"#;

    #[test]
    fn uv_lock_skips_the_project_and_reads_sources() {
        let packages = parse(LockKind::UvLock, UV_LOCK).unwrap();
        assert_eq!(
            purls(&packages),
            [
                "pkg:pypi/anyio@4.6.0",
                "pkg:pypi/flash-attn@2.6.3?download_url=https:%2F%2Fgithub.com%2FDao-AILab%2Fflash-attention%2Freleases%2Fdownload%2Fv2.6.3%2Fflash_attn-2.6.3-cp311-cp311-linux_x86_64.whl",
                "pkg:pypi/sibling@0.2.0",
                "pkg:pypi/torch@2.4.1%2Bcu121?repository_url=https:%2F%2Fdownload.pytorch.org%2Fwhl%2Fcu121",
                "pkg:pypi/trl@0.11.0.dev0?vcs_url=git%2Bhttps:%2F%2Fgithub.com%2Fhuggingface%2Ftrl%404c2e1a9f0b8d7c6e5f4a3b2c1d0e9f8a7b6c5d4e",
            ]
        );
        assert_eq!(
            packages[0].integrity.as_deref(),
            Some("sha256:137b4559cbb034c477165047febb6ff83f390fc3b20bf181c1fc0a728cb8beeb")
        );
        // Only the sdist hash is integrity; wheel-only packages have none.
        assert!(packages[1..].iter().all(|p| p.integrity.is_none()));
    }

    #[test]
    fn uv_lock_without_version_or_with_unknown_source() {
        let text = "[[package]]\nname = \"dyn\"\nsource = { directory = \"libs/dyn\" }\n";
        let packages = parse(LockKind::UvLock, text).unwrap();
        assert_eq!(purls(&packages), ["pkg:pypi/dyn"]);
        assert_eq!(packages[0].version, None);

        let text = "[[package]]\nname = \"x\"\nversion = \"1\"\nsource = { workspace = \"..\" }\n";
        let what = shape_message(parse(LockKind::UvLock, text));
        assert!(
            what.starts_with("line 4: package `x`: expected one of `registry`"),
            "{what}"
        );

        let text = "[[package]]\nname = \"x\"\nversion = \"1\"\n";
        assert_eq!(
            shape_message(parse(LockKind::UvLock, text)),
            "line 1: package `x`: `source` is missing"
        );

        let text = "[[package]]\nname = \"x\"\nversion = \"1\"\nsource = { registry = \"https://pypi.org/simple\" }\nsdist = { hash = \"md5:00\" }\n";
        let what = shape_message(parse(LockKind::UvLock, text));
        assert!(
            what.starts_with("line 5: package `x` `sdist`: `hash` is `md5:00`"),
            "{what}"
        );
    }

    // -----------------------------------------------------------------------------------
    // Pipfile.lock
    // -----------------------------------------------------------------------------------

    const PIPFILE_LOCK: &str = r#"{
    "_meta": {
        "hash": {"sha256": "4fd10e728c1acbe0896c754e40044988a42ee193335c956a824188ef6643a8fe"},
        "pipfile-spec": 6,
        "requires": {"python_version": "3.11"},
        "sources": [{"name": "pypi", "url": "https://pypi.org/simple", "verify_ssl": true}]
    },
    "default": {
        "myproject": {"editable": true, "path": "."},
        "numpy": {
            "hashes": [
                "md5:00",
                "sha256:8718189e4bd6013bf79910b9d1cb0a76aecad8ce664f78e1144980fabdd2cd23",
                "sha256:0000000000000000000000000000000000000000000000000000000000000000"
            ],
            "index": "pypi",
            "markers": "python_version >= '3.9'",
            "version": "==1.26.4"
        },
        "six": {
            "hashes": ["sha256:3350809f0555b11f552448330d0b52d5f24c91a322ea4a15ef22629740f3761c"],
            "version": "==1.16.0"
        },
        "toolkit": {
            "git": "https://github.com/org/toolkit.git",
            "ref": "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"
        },
        "vendored": {"path": "./vendor/vendored"}
    },
    "develop": {
        "pytest": {
            "hashes": ["sha256:4ba08f9ae7dcf84ded419494d229b48d0903ea6407b030eaec46df5e6a73bba5"],
            "version": "==8.3.2"
        },
        "six": {
            "hashes": ["sha256:3350809f0555b11f552448330d0b52d5f24c91a322ea4a15ef22629740f3761c"],
            "version": "==1.16.0"
        }
    }
}"#;

    #[test]
    fn pipfile_lock_reads_both_sections() {
        let packages = parse(LockKind::PipfileLock, PIPFILE_LOCK).unwrap();
        let found: Vec<(&str, Option<&str>, bool)> = packages
            .iter()
            .map(|p| (p.purl.as_str(), p.integrity.as_deref(), p.dev))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "pkg:pypi/numpy@1.26.4",
                    Some("sha256:8718189e4bd6013bf79910b9d1cb0a76aecad8ce664f78e1144980fabdd2cd23"),
                    false
                ),
                (
                    "pkg:pypi/pytest@8.3.2",
                    Some("sha256:4ba08f9ae7dcf84ded419494d229b48d0903ea6407b030eaec46df5e6a73bba5"),
                    true
                ),
                // In both sections: one package, needed at run time.
                (
                    "pkg:pypi/six@1.16.0",
                    Some("sha256:3350809f0555b11f552448330d0b52d5f24c91a322ea4a15ef22629740f3761c"),
                    false
                ),
                (
                    "pkg:pypi/toolkit?vcs_url=git%2Bhttps:%2F%2Fgithub.com%2Forg%2Ftoolkit.git%409f8e7d6c5b4a39281706f5e4d3c2b1a098765432",
                    None,
                    false
                ),
                ("pkg:pypi/vendored", None, false),
            ]
        );
        assert_eq!(packages[0].version.as_deref(), Some("1.26.4"));
    }

    #[test]
    fn pipfile_lock_shape_errors_name_the_entry() {
        let text = r#"{"default": {"numpy": {"version": "1.26.4"}}}"#;
        assert_eq!(
            shape_message(parse(LockKind::PipfileLock, text)),
            "`default` entry `numpy`: `version` is `1.26.4`; expected `==` and a version"
        );
        let text = r#"{"develop": {"numpy": {"version": 1}}}"#;
        assert_eq!(
            shape_message(parse(LockKind::PipfileLock, text)),
            "`develop` entry `numpy`: expected `version` to be a string, found a number"
        );
        let text = r#"{"default": []}"#;
        assert_eq!(
            shape_message(parse(LockKind::PipfileLock, text)),
            "the top level: expected `default` to be an object, found an array"
        );
        let text = r#"{"default": {"x": {"version": "==1", "hashes": "sha256:00"}}}"#;
        assert_eq!(
            shape_message(parse(LockKind::PipfileLock, text)),
            "`default` entry `x`: expected `hashes` to be an array of strings, found a string"
        );
        let text = r#"{"default": {"x": {"version": "==1", "hashes": ["sha256:zz"]}}}"#;
        assert_eq!(
            shape_message(parse(LockKind::PipfileLock, text)),
            "`default` entry `x`: `hashes` is `sha256:zz`; expected `sha256:` and 64 hex digits"
        );
        assert_eq!(
            shape_message(parse(LockKind::PipfileLock, "[]")),
            "the top level: expected an object, found an array"
        );
    }

    #[test]
    fn broken_json_is_a_json_error_with_its_position() {
        let err = parse(LockKind::PipfileLock, "{\n  \"default\": {},\n}").unwrap_err();
        assert_eq!(
            err,
            LockError::Json {
                line: 3,
                column: 1,
                message: "trailing comma".to_owned()
            }
        );
        assert_eq!(
            err.to_string(),
            "not valid JSON at line 3, column 1: trailing comma"
        );
    }

    // -----------------------------------------------------------------------------------
    // package-lock.json
    // -----------------------------------------------------------------------------------

    /// The shape npm 9 and 10 write (lockfileVersion 3), with a workspace.
    const PACKAGE_LOCK_V3: &str = r#"{
  "name": "chat-ui",
  "version": "1.0.0",
  "lockfileVersion": 3,
  "requires": true,
  "packages": {
    "": {
      "name": "chat-ui",
      "version": "1.0.0",
      "workspaces": ["packages/*"],
      "dependencies": {"@anthropic-ai/sdk": "^0.27.0", "ms": "^2.1.3"},
      "devDependencies": {"typescript": "^5.5.4"}
    },
    "node_modules/@anthropic-ai/sdk": {
      "version": "0.27.3",
      "resolved": "https://registry.npmjs.org/@anthropic-ai/sdk/-/sdk-0.27.3.tgz",
      "integrity": "sha512-IjLt0gd3L4jlOfilxVXTifn42FnVffMgDC04RJK1KDZpmkBWLv0XC92MVVmkxrFZNS/7l3xWgP/I3nqtX1sQHw==",
      "license": "MIT",
      "dependencies": {"ms": "^3.0.0"}
    },
    "node_modules/@anthropic-ai/sdk/node_modules/ms": {
      "version": "3.0.0-canary.1",
      "integrity": "sha512-kh8ARjh8rMN7Du2igDRO9QJnqCb2xYTJxyQYK7vJJS4TvLLmsbyhiKpSW+t+y26gyOyMd0riphX0GeWKU3ky5g=="
    },
    "node_modules/@types/Node": {
      "version": "22.5.4",
      "dev": true,
      "integrity": "sha512-FDuKUJQm/ju9fT/SeX/6+gBzoPzlVCzfzmGkwKvRHQVxi4BntVbyIwf6a4Xn62mrvndLiml6z/UBXIdEVjQLXg=="
    },
    "node_modules/chat-tools": {
      "resolved": "packages/tools",
      "link": true
    },
    "node_modules/left-pad-fork": {
      "version": "1.3.0",
      "resolved": "git+ssh://git@github.com/someone/left-pad.git#5c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b",
      "license": "WTFPL"
    },
    "node_modules/ms": {
      "version": "2.1.3",
      "resolved": "https://registry.npmjs.org/ms/-/ms-2.1.3.tgz",
      "integrity": "sha512-6FlzubTLZG3J2a/NVCAleEhjzq5oxgHyaCU9yYXvcLsvoVaHJq/s5xXI6/XXP6tz7R9xAOtHnSO/tXtF3WRTlA=="
    },
    "node_modules/string-width-cjs": {
      "name": "string-width",
      "version": "4.2.3",
      "resolved": "https://registry.npmjs.org/string-width/-/string-width-4.2.3.tgz",
      "integrity": "sha512-wKyQRQpjJ0sIp62ErSZdGsjMJWsap5oRNihHhu6G7JVO/9jIB6UyevL+tXuOqrng8j/cxKTWyWUwvSTriiZz/g==",
      "dev": true
    },
    "node_modules/typescript": {
      "version": "5.5.4",
      "dev": true,
      "integrity": "sha512-Mtq29sKDAEYP7aljRgtPOpTvOfbwRWlS6dPRzwjdE+C0R4brX/GUyhHSecbHMFLNBLcJIPt9nl9yG5TZ1weH+Q=="
    },
    "packages/tools": {
      "name": "chat-tools",
      "version": "0.0.1"
    }
  }
}"#;

    #[test]
    fn package_lock_v3_reads_nested_scoped_aliased_and_git_packages() {
        let packages = parse(LockKind::PackageLock, PACKAGE_LOCK_V3).unwrap();
        assert_eq!(
            purls(&packages),
            [
                "pkg:npm/%40anthropic-ai/sdk@0.27.3",
                "pkg:npm/%40types/node@22.5.4",
                "pkg:npm/left-pad-fork@1.3.0?vcs_url=git%2Bssh:%2F%2Fgit%40github.com%2Fsomeone%2Fleft-pad.git%405c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b",
                "pkg:npm/ms@2.1.3",
                "pkg:npm/ms@3.0.0-canary.1",
                "pkg:npm/string-width@4.2.3",
                "pkg:npm/typescript@5.5.4",
            ]
        );
        let sdk = &packages[0];
        assert_eq!(sdk.name, "@anthropic-ai/sdk");
        assert_eq!(sdk.ecosystem, Ecosystem::Npm);
        assert_eq!(
            sdk.integrity.as_deref(),
            Some(
                "sha512-IjLt0gd3L4jlOfilxVXTifn42FnVffMgDC04RJK1KDZpmkBWLv0XC92MVVmkxrFZNS/7l3xWgP/I3nqtX1sQHw=="
            )
        );
        assert!(!sdk.dev);
        // The name keeps its case; the purl lowercases it.
        assert_eq!(packages[1].name, "@types/Node");
        assert!(packages[1].dev);
        let dev: Vec<bool> = packages.iter().map(|p| p.dev).collect();
        assert_eq!(dev, [false, true, false, false, false, true, true]);
    }

    #[test]
    fn package_lock_v1_walks_nested_dependencies() {
        let text = r#"{
  "name": "legacy-app",
  "version": "1.0.0",
  "lockfileVersion": 1,
  "requires": true,
  "dependencies": {
    "@babel/code-frame": {
      "version": "7.0.0",
      "resolved": "https://registry.npmjs.org/@babel/code-frame/-/code-frame-7.0.0.tgz",
      "integrity": "sha512-OfC2uemaknXr87bdLUkWog7nYuliM9Ij5HUcajsVcMCpQrcLmtxRbVFTIqmcSkSeYRBFBRxs2FiUqFJDLdiebA==",
      "dev": true,
      "requires": {"@babel/highlight": "^7.0.0"}
    },
    "debug": {
      "version": "2.6.9",
      "integrity": "sha512-bC7ElrdJaJnPbAP+1EotYvqZsb3ecl5wi6Bfi6BJTUcNowp6cvspg0jXznRTKDjm/E7AdgFBVeAPVMNcKGsHMA==",
      "requires": {"ms": "2.0.0"},
      "dependencies": {
        "ms": {
          "version": "2.0.0",
          "integrity": "sha1-VgiurfwAvmwpAd9fmGF4jeDVl8g="
        }
      }
    },
    "local-lib": {"version": "file:../local-lib"},
    "ms": {"version": "2.1.3", "integrity": "sha512-6FlzubTLZG3J2a/NVCAleEhjzq5oxgHyaCU9yYXvcLsvoVaHJq/s5xXI6/XXP6tz7R9xAOtHnSO/tXtF3WRTlA=="},
    "my-left-pad": {"version": "npm:left-pad@1.3.0", "integrity": "sha512-XI5MPzVNApjAyhQzphX8BkmKsKUxD4LdyK24iZeQEEnhXaNRdLTwGbsMuTgDVrO4Hrle5/5AgkGKhKgn+5jjIKw=="},
    "shorthand": {"version": "github:someone/shorthand#0f1e2d3c", "from": "github:someone/shorthand"}
  }
}"#;
        let packages = parse(LockKind::PackageLock, text).unwrap();
        assert_eq!(
            purls(&packages),
            [
                "pkg:npm/%40babel/code-frame@7.0.0",
                "pkg:npm/debug@2.6.9",
                "pkg:npm/left-pad@1.3.0",
                "pkg:npm/ms@2.0.0",
                "pkg:npm/ms@2.1.3",
                "pkg:npm/shorthand?vcs_url=git%2Bhttps:%2F%2Fgithub.com%2Fsomeone%2Fshorthand%400f1e2d3c",
            ]
        );
        assert!(packages[0].dev);
        assert!(!packages[1].dev);
        assert_eq!(packages[2].name, "left-pad");
        assert_eq!(
            packages[3].integrity.as_deref(),
            Some("sha1-VgiurfwAvmwpAd9fmGF4jeDVl8g=")
        );
        assert_eq!(packages[5].version, None);
    }

    #[test]
    fn package_lock_v1_nesting_is_bounded() {
        fn nested(levels: usize) -> String {
            let mut text = String::from(r#"{"lockfileVersion": 1, "dependencies": "#);
            for _ in 0..levels {
                text.push_str(r#"{"a": {"version": "1.0.0", "dependencies": "#);
            }
            text.push_str("{}");
            for _ in 0..levels {
                text.push_str("}}");
            }
            text.push('}');
            text
        }
        let packages = parse(LockKind::PackageLock, &nested(MAX_DEPTH)).unwrap();
        assert_eq!(purls(&packages), ["pkg:npm/a@1.0.0"]);
        let deeper = MAX_DEPTH + 1;
        assert_eq!(
            parse(LockKind::PackageLock, &nested(deeper)).unwrap_err(),
            LockError::TooDeep { limit: MAX_DEPTH }
        );
    }

    #[test]
    fn package_lock_shape_errors_name_the_entry() {
        let text = r#"{"lockfileVersion": 3, "packages": {"node_modules/x": {"version": 3}}}"#;
        assert_eq!(
            shape_message(parse(LockKind::PackageLock, text)),
            "`packages` entry `node_modules/x`: expected `version` to be a string, found a number"
        );
        let text = r#"{"lockfileVersion": 3, "packages": {"node_modules/x": {"integrity": "sha512-AA=="}}}"#;
        assert_eq!(
            shape_message(parse(LockKind::PackageLock, text)),
            "`packages` entry `node_modules/x`: `version` is missing"
        );
        let text =
            r#"{"lockfileVersion": 3, "packages": {"node_modules/@scope": {"version": "1.0.0"}}}"#;
        let what = shape_message(parse(LockKind::PackageLock, text));
        assert!(
            what.starts_with("`packages` entry `node_modules/@scope`: `name` is `@scope`"),
            "{what}"
        );
        let text = r#"{"lockfileVersion": 3, "packages": {"node_modules/x": {"version": "1", "dev": "yes"}}}"#;
        assert_eq!(
            shape_message(parse(LockKind::PackageLock, text)),
            "`packages` entry `node_modules/x`: expected `dev` to be a boolean, found a string"
        );
        let text = r#"{"lockfileVersion": 2}"#;
        assert_eq!(
            shape_message(parse(LockKind::PackageLock, text)),
            "lockfileVersion 2 and later list packages in `packages`, which is missing"
        );
        let text = r#"{"lockfileVersion": 1, "dependencies": {"a": {"version": "1", "dependencies": {"b": []}}}}"#;
        assert_eq!(
            shape_message(parse(LockKind::PackageLock, text)),
            "`dependencies` entry `a` > `b`: expected an object, found an array"
        );
        let text = r#"{"lockfileVersion": 1, "dependencies": {"a": {"version": "npm:@x"}}}"#;
        let what = shape_message(parse(LockKind::PackageLock, text));
        assert!(
            what.starts_with("`dependencies` entry `a`: `version` is `npm:@x`"),
            "{what}"
        );
    }

    // -----------------------------------------------------------------------------------
    // Limits and deduplication
    // -----------------------------------------------------------------------------------

    #[test]
    fn too_many_packages_is_an_error_not_a_truncation() {
        let text = "a==1\nb==1\nc==1\n";
        assert_eq!(
            parse_limited(LockKind::Requirements, text, 3)
                .unwrap()
                .len(),
            3
        );
        assert_eq!(
            parse_limited(LockKind::Requirements, text, 2).unwrap_err(),
            LockError::TooMany { limit: 2 }
        );
        assert_eq!(
            LockError::TooMany { limit: 2 }.to_string().lines().next(),
            Some("more than 2 packages")
        );
    }

    #[test]
    fn duplicates_merge_by_purl_and_integrity() {
        let text = format!(
            "PyYAML==6.0.2 --hash=sha256:{SHA_A}\npyyaml==6.0.2 --hash=sha256:{SHA_A}\npyyaml==6.0.2 --hash=sha256:{SHA_B}\n"
        );
        let packages = parse(LockKind::Requirements, &text).unwrap();
        assert_eq!(packages.len(), 2);
        assert_eq!(packages[0].name, "PyYAML");
        assert_eq!(packages[0].integrity, Some(format!("sha256:{SHA_A}")));
        assert_eq!(packages[1].integrity, Some(format!("sha256:{SHA_B}")));
        assert!(packages.iter().all(|p| p.purl == "pkg:pypi/pyyaml@6.0.2"));
    }

    #[test]
    fn hostile_input_gives_errors_not_panics() {
        let inputs = [
            "\u{0}\u{1}\u{2}",
            "[[package]]\nname = \"\u{e9}\"\n",
            "{\"packages\": {\"node_modules/\": {\"version\": \"1\"}}}",
            "é==1\n",
            "x==1 \\",
            "\\\n\\\n\\",
            "[",
            "{",
            "#",
            "@",
            ";",
            "[[package]]\n[[package]]\n",
        ];
        let kinds = [
            LockKind::CargoLock,
            LockKind::Requirements,
            LockKind::PoetryLock,
            LockKind::UvLock,
            LockKind::PipfileLock,
            LockKind::PackageLock,
        ];
        for input in inputs {
            for kind in kinds {
                // Either outcome is fine; the call must return.
                let _ = parse(kind, input);
            }
        }
        // Deep TOML and JSON nesting is refused by the parsers' own recursion limits.
        let deep_toml = format!("a = {}1{}\n", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(
            parse(LockKind::UvLock, &deep_toml),
            Err(LockError::Toml { .. })
        ));
        let deep_json = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(
            parse(LockKind::PackageLock, &deep_json),
            Err(LockError::Json { .. })
        ));
    }
}
