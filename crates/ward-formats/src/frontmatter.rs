//! YAML front matter of Hugging Face model and dataset cards, read by a bounded subset
//! reader of our own.
//!
//! A card is a `README.md` whose first line is `---` and whose YAML metadata runs to the
//! next line that is exactly `---`. The metadata comes from whoever published the model, so
//! no YAML library reads it: YAML libraries resolve anchors and aliases (the billion-laughs
//! expansion), construct types from tags, and accept more syntax than any card needs. This
//! reader accepts the subset that cards are written in and builds only strings, lists of
//! strings and maps:
//!
//! - `key: scalar`, where the scalar is plain, `'single-quoted'` (`''` is a quote) or
//!   `"double-quoted"` (every YAML escape, `\uXXXX` included), on one line or folded over
//!   several, and comments anywhere a comment may stand;
//! - `key:` followed by a block list (`- item`, indented or at the key's own indentation),
//!   a flow list (`[a, "b", c]`, possibly over several lines), a nested map (recursively,
//!   up to [`MAX_NESTING`] levels), or a block scalar (`|` literal or `>` folded, with `-`
//!   and `+` chomping and an explicit indentation digit).
//!
//! Scalars are kept as their text, without YAML's type resolution: `true`, `42` and `null`
//! are strings, and an empty value is the empty string. Valid YAML outside the subset
//! (anchors `&`, aliases `*`, tags `!`, flow maps `{}`, complex keys `? `, lists of maps or
//! of lists) makes that one value [`Value::Unsupported`], never a guess and never an error
//! for the whole document. Text that is not YAML (an unterminated quote, a bad escape, a
//! line indented where nothing can continue) is an error, as is a key that appears twice
//! in one map: YAML forbids it and readers disagree on which copy wins.

use std::collections::HashMap;

use crate::Limits;

/// Maps and lists nested inside one another (the top-level map is level 1). The effective
/// limit is the smaller of this and [`Limits::max_nesting`].
pub const MAX_NESTING: usize = 32;

/// Map entries and list items in one document, at every level together.
pub const MAX_ENTRIES: usize = 100_000;

/// Lines in one front matter block.
pub const MAX_LINES: usize = 1_000_000;

/// A value in the front matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A scalar, as text.
    Str(String),
    /// A list of scalars.
    List(Vec<String>),
    /// A nested map, in document order.
    Map(Vec<(String, Value)>),
    /// Valid YAML outside the subset this reader accepts.
    Unsupported,
}

/// The top-level entries of a card's front matter, in document order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrontMatter {
    /// Keys and values, in order; keys are unique.
    pub entries: Vec<(String, Value)>,
}

impl FrontMatter {
    /// The value of a top-level key.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// A top-level key's scalar as a one-item list, its list of scalars as is, and nothing
    /// for any other value or a missing key.
    pub fn strings(&self, key: &str) -> Vec<String> {
        match self.get(key) {
            Some(Value::Str(s)) => vec![s.clone()],
            Some(Value::List(items)) => items.clone(),
            _ => Vec::new(),
        }
    }
}

/// Why front matter could not be read. Lines count from 1 at the start of the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrontMatterError {
    /// The block between the `---` lines is longer than the limit.
    #[error(
        "front matter longer than `max_header_bytes` of {limit}\nhint: raise the limit only for cards from a trusted source"
    )]
    TooLong {
        /// The limit.
        limit: u64,
    },
    /// The block has more lines than [`MAX_LINES`].
    #[error("front matter has more than {limit} lines")]
    TooManyLines {
        /// The limit.
        limit: usize,
    },
    /// Maps and lists nest deeper than the limit.
    #[error("front matter nests deeper than {limit} levels at line {line}")]
    TooDeep {
        /// Line of the value that went too deep.
        line: usize,
        /// The limit.
        limit: usize,
    },
    /// More entries than [`MAX_ENTRIES`].
    #[error("front matter has more than {limit} entries at line {line}")]
    TooManyEntries {
        /// Line of the entry over the limit.
        line: usize,
        /// The limit.
        limit: usize,
    },
    /// A key appears twice in one map.
    #[error(
        "duplicate key `{key}` at line {line}, first at line {first}\nhint: YAML forbids duplicate keys and readers disagree on which one wins; remove one"
    )]
    DuplicateKey {
        /// The key.
        key: String,
        /// Line of the second occurrence.
        line: usize,
        /// Line of the first occurrence.
        first: usize,
    },
    /// The text is not YAML.
    #[error("invalid front matter at line {line}, column {column}: expected {expected}")]
    Syntax {
        /// Line of the error.
        line: usize,
        /// Column of the error, in bytes from 1.
        column: usize,
        /// What would have been valid there.
        expected: String,
    },
}

/// Reads the front matter at the start of `text`. `None` when the text has no front
/// matter: its first non-blank line is not `---`, or no later line is exactly `---`.
/// Bounded by `limits.max_header_bytes` (bytes between the two `---` lines),
/// [`MAX_NESTING`] (or `limits.max_nesting` if smaller), [`MAX_ENTRIES`] and
/// [`MAX_LINES`]; a limit hit is an error.
pub fn parse(text: &str, limits: &Limits) -> Result<Option<FrontMatter>, FrontMatterError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rest = text.split_inclusive('\n');
    let mut number = 0usize;
    // Blank lines may precede the opening line, as the Hugging Face Hub allows.
    let opening = loop {
        let Some(line) = rest.next() else {
            return Ok(None);
        };
        number = number.saturating_add(1);
        if !line.trim().is_empty() {
            break line;
        }
    };
    if opening.trim_start().trim_end_matches(['\n', '\r']) != "---" {
        return Ok(None);
    }
    let mut lines = Vec::new();
    let mut bytes = 0u64;
    let mut closed = false;
    for raw in rest {
        number = number.saturating_add(1);
        let line = raw.strip_suffix('\n').unwrap_or(raw);
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line == "---" {
            closed = true;
            break;
        }
        bytes = bytes.saturating_add(u64::try_from(raw.len()).unwrap_or(u64::MAX));
        if bytes > limits.max_header_bytes {
            return Err(FrontMatterError::TooLong {
                limit: limits.max_header_bytes,
            });
        }
        if lines.len() >= MAX_LINES {
            return Err(FrontMatterError::TooManyLines { limit: MAX_LINES });
        }
        lines.push(Line::new(number, line));
    }
    if !closed {
        return Ok(None);
    }
    let mut parser = Parser::new(lines, MAX_NESTING.min(limits.max_nesting));
    let entries = parser.document()?;
    Ok(Some(FrontMatter { entries }))
}

/// One line of the block, without its line break.
#[derive(Debug, Clone, Copy)]
struct Line<'a> {
    number: usize,
    /// Leading spaces (YAML indents with spaces only).
    indent: usize,
    text: &'a str,
}

impl<'a> Line<'a> {
    fn new(number: usize, text: &'a str) -> Self {
        let indent = text.bytes().take_while(|&b| b == b' ').count();
        Self {
            number,
            indent,
            text,
        }
    }

    /// The line after its indentation.
    fn content(&self) -> &'a str {
        self.text.get(self.indent..).unwrap_or_default()
    }

    /// Only spaces and tabs.
    fn is_blank(&self) -> bool {
        self.text.trim_matches(WHITESPACE).is_empty()
    }

    /// Blank or a comment: nothing for the block structure.
    fn is_insignificant(&self) -> bool {
        let t = self.text.trim_start_matches(WHITESPACE);
        t.is_empty() || t.starts_with('#')
    }

    /// Byte offset of `part`, a suffix of this line's text.
    fn offset_of(&self, part: &str) -> usize {
        self.text.len().saturating_sub(part.len())
    }
}

const WHITESPACE: [char; 2] = [' ', '\t'];

fn syntax(line: &Line<'_>, at: usize, expected: impl Into<String>) -> FrontMatterError {
    FrontMatterError::Syntax {
        line: line.number,
        column: at.saturating_add(1),
        expected: expected.into(),
    }
}

/// How a map key was written.
enum Key {
    /// A plain or quoted key.
    Name(String),
    /// A key with an anchor, tag or alias, or a flow collection as key, kept as written;
    /// its value is never read.
    Opaque(String),
    /// A `? ` complex key, kept as written; its value is never read.
    Complex(String),
}

struct Parser<'a> {
    lines: Vec<Line<'a>>,
    /// For each line, the first line at or after it that is neither blank nor a comment.
    next_content: Vec<usize>,
    /// The next line to read.
    pos: usize,
    entries: usize,
    max_nesting: usize,
}

impl<'a> Parser<'a> {
    fn new(lines: Vec<Line<'a>>, max_nesting: usize) -> Self {
        let mut next_content = vec![lines.len(); lines.len()];
        let mut next = lines.len();
        for (i, line) in lines.iter().enumerate().rev() {
            if !line.is_insignificant() {
                next = i;
            }
            if let Some(slot) = next_content.get_mut(i) {
                *slot = next;
            }
        }
        Self {
            lines,
            next_content,
            pos: 0,
            entries: 0,
            max_nesting,
        }
    }

    fn line(&self, i: usize) -> Option<Line<'a>> {
        self.lines.get(i).copied()
    }

    /// The next line that is neither blank nor a comment, with its index.
    fn peek_content(&self) -> Option<(usize, Line<'a>)> {
        let i = *self.next_content.get(self.pos)?;
        self.line(i).map(|line| (i, line))
    }

    fn document(&mut self) -> Result<Vec<(String, Value)>, FrontMatterError> {
        let Some((_, first)) = self.peek_content() else {
            return Ok(Vec::new());
        };
        let entries = self.map(first.indent, 0, &first)?;
        if let Some((_, line)) = self.peek_content() {
            return Err(syntax(
                &line,
                line.indent,
                format!(
                    "a key at column {} like the first key, or the end of the front matter",
                    first.indent.saturating_add(1)
                ),
            ));
        }
        Ok(entries)
    }

    /// One level deeper, or an error past the nesting limit.
    fn enter(&self, depth: usize, line: &Line<'_>) -> Result<usize, FrontMatterError> {
        let depth = depth.saturating_add(1);
        if depth > self.max_nesting {
            return Err(FrontMatterError::TooDeep {
                line: line.number,
                limit: self.max_nesting,
            });
        }
        Ok(depth)
    }

    /// Counts one map entry or list item against [`MAX_ENTRIES`].
    fn count(&mut self, line: &Line<'_>) -> Result<(), FrontMatterError> {
        self.entries = self.entries.saturating_add(1);
        if self.entries > MAX_ENTRIES {
            return Err(FrontMatterError::TooManyEntries {
                line: line.number,
                limit: MAX_ENTRIES,
            });
        }
        Ok(())
    }

    /// Skips the lines that belong to a value whose parent sits at column `parent`: every
    /// following line that is blank, a comment, or indented further.
    fn skip_more_indented(&mut self, parent: usize) {
        while let Some(line) = self.line(self.pos) {
            if !line.is_insignificant() && line.indent <= parent {
                break;
            }
            self.pos = self.pos.saturating_add(1);
        }
    }

    /// A block map whose keys sit at column `indent`.
    fn map(
        &mut self,
        indent: usize,
        depth: usize,
        first: &Line<'_>,
    ) -> Result<Vec<(String, Value)>, FrontMatterError> {
        let depth = self.enter(depth, first)?;
        let mut entries = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        while let Some((i, line)) = self.peek_content() {
            if line.indent < indent {
                break;
            }
            if line.indent > indent {
                return Err(syntax(
                    &line,
                    line.indent,
                    format!(
                        "a key at column {} (this line is indented further than its map)",
                        indent.saturating_add(1)
                    ),
                ));
            }
            let content = line.content();
            if content.starts_with('\t') {
                return Err(syntax(
                    &line,
                    indent,
                    "spaces (YAML does not indent with tabs)",
                ));
            }
            self.pos = i.saturating_add(1);
            self.count(&line)?;
            let Some((key, rest)) =
                split_key(content).map_err(|what| syntax(&line, indent, what))?
            else {
                let expected = if is_list_item(content) {
                    "`key: value` (a list item must follow a `key:` with nothing after it)"
                } else {
                    "`key: value`"
                };
                return Err(syntax(&line, indent, expected));
            };
            let (name, value) = match key {
                Key::Name(name) => {
                    let value = self.value(i, line.offset_of(rest), indent, depth)?;
                    (name, value)
                }
                Key::Opaque(raw) => {
                    self.skip_more_indented(indent);
                    (raw, Value::Unsupported)
                }
                Key::Complex(raw) => {
                    self.skip_more_indented(indent);
                    // The `: value` line of a complex key, and its value.
                    if let Some((j, next)) = self.peek_content()
                        && next.indent == indent
                        && is_indicator(next.content(), ':')
                    {
                        self.pos = j.saturating_add(1);
                        self.skip_more_indented(indent);
                    }
                    (raw, Value::Unsupported)
                }
            };
            if let Some(&first) = seen.get(&name) {
                return Err(FrontMatterError::DuplicateKey {
                    key: name,
                    line: line.number,
                    first,
                });
            }
            seen.insert(name.clone(), line.number);
            entries.push((name, value));
        }
        Ok(entries)
    }

    /// The value after `key:`, starting at byte `at` of line `i`; its parent (the key or
    /// list item) sits at column `parent`.
    fn value(
        &mut self,
        i: usize,
        at: usize,
        parent: usize,
        depth: usize,
    ) -> Result<Value, FrontMatterError> {
        let line = self.line(i).unwrap_or(Line::new(0, ""));
        let rest = line.text.get(at..).unwrap_or_default();
        let trimmed = rest.trim_start_matches(WHITESPACE);
        if trimmed.is_empty() || trimmed.starts_with('#') {
            return self.block_value(parent, depth, true);
        }
        self.inline_value(i, line.offset_of(trimmed), parent)
    }

    /// A value that starts on the lines after its key or list dash. A list at the
    /// parent's own column counts only for map values (`same_column_list`).
    fn block_value(
        &mut self,
        parent: usize,
        depth: usize,
        same_column_list: bool,
    ) -> Result<Value, FrontMatterError> {
        let Some((i, line)) = self.peek_content() else {
            return Ok(Value::Str(String::new()));
        };
        let content = line.content();
        if line.indent > parent {
            if content.starts_with('\t') {
                return Err(syntax(
                    &line,
                    line.indent,
                    "spaces (YAML does not indent with tabs)",
                ));
            }
            if is_list_item(content) {
                return self.block_list(line.indent, depth, &line);
            }
            if matches!(split_key(content), Ok(Some(_))) {
                return Ok(Value::Map(self.map(line.indent, depth, &line)?));
            }
            return self.inline_value(i, line.indent, parent);
        }
        if line.indent == parent && same_column_list && is_list_item(content) {
            return self.block_list(parent, depth, &line);
        }
        Ok(Value::Str(String::new()))
    }

    /// A value that starts at byte `at` of line `i`, after a key or dash on that line or
    /// alone on its line.
    fn inline_value(
        &mut self,
        i: usize,
        at: usize,
        parent: usize,
    ) -> Result<Value, FrontMatterError> {
        let line = self.line(i).unwrap_or(Line::new(0, ""));
        let text = line.text.get(at..).unwrap_or_default();
        self.pos = i.saturating_add(1);
        let Some(first) = text.chars().next() else {
            return Ok(Value::Str(String::new()));
        };
        match first {
            '"' | '\'' => self.quoted(i, at, parent).map(Value::Str),
            '[' => self.flow_list(i, at, parent),
            '|' | '>' => self.block_scalar(i, at, parent).map(Value::Str),
            '{' | '&' | '*' | '!' => {
                self.skip_more_indented(parent);
                Ok(Value::Unsupported)
            }
            '-' | '?' | ':' if is_indicator(text, first) => Err(syntax(
                &line,
                at,
                "a value (a block list or map starts on the line after its key)",
            )),
            '%' | '@' | '`' | ',' | ']' | '}' => Err(syntax(
                &line,
                at,
                format!("a value (`{first}` cannot start an unquoted value; quote it)"),
            )),
            _ => self.plain(&line, at, parent).map(Value::Str),
        }
    }

    /// A block list whose dashes sit at column `indent`. Lists of scalars are read; a list
    /// holding maps, lists or unsupported values is [`Value::Unsupported`] as a whole.
    fn block_list(
        &mut self,
        indent: usize,
        depth: usize,
        first: &Line<'_>,
    ) -> Result<Value, FrontMatterError> {
        let depth = self.enter(depth, first)?;
        let mut items = Vec::new();
        let mut supported = true;
        while let Some((i, line)) = self.peek_content() {
            let content = line.content();
            if line.indent != indent || !is_list_item(content) {
                if line.indent > indent {
                    return Err(syntax(
                        &line,
                        line.indent,
                        format!(
                            "a list item at column {} (this line is indented further than its list)",
                            indent.saturating_add(1)
                        ),
                    ));
                }
                break;
            }
            self.pos = i.saturating_add(1);
            self.count(&line)?;
            let after = content.get(1..).unwrap_or_default();
            let item = after.trim_start_matches(WHITESPACE);
            let at = line.offset_of(item);
            let value = if item.is_empty() || item.starts_with('#') {
                self.block_value(indent, depth, false)?
            } else if is_list_item(item) || matches!(split_key(item), Ok(Some(_))) {
                // A list or map that starts on the dash's line: outside the subset.
                self.skip_more_indented(indent);
                Value::Unsupported
            } else {
                self.inline_value(i, at, indent)?
            };
            match value {
                Value::Str(s) => items.push(s),
                _ => supported = false,
            }
        }
        Ok(if supported {
            Value::List(items)
        } else {
            Value::Unsupported
        })
    }

    /// A plain scalar starting at byte `at` of `line`, folded over the following lines
    /// indented further than `parent`, up to a comment or a line that is not.
    fn plain(
        &mut self,
        line: &Line<'a>,
        at: usize,
        parent: usize,
    ) -> Result<String, FrontMatterError> {
        let text = line.text.get(at..).unwrap_or_default();
        let (first, comment) = strip_comment(text);
        let first = first.trim_end_matches(WHITESPACE);
        check_plain(first).map_err(|what| syntax(line, at, what))?;
        let mut out = first.to_owned();
        if comment {
            return Ok(out);
        }
        let mut breaks = 0usize;
        while let Some(next) = self.line(self.pos) {
            if next.is_blank() {
                breaks = breaks.saturating_add(1);
                self.pos = self.pos.saturating_add(1);
                continue;
            }
            let content = next.text.trim_start_matches(WHITESPACE);
            if next.indent <= parent || content.starts_with('#') {
                break;
            }
            let (part, comment) = strip_comment(content);
            let part = part.trim_end_matches(WHITESPACE);
            check_plain(part).map_err(|what| syntax(&next, next.offset_of(content), what))?;
            fold(&mut out, breaks);
            out.push_str(part);
            breaks = 0;
            self.pos = self.pos.saturating_add(1);
            if comment {
                break;
            }
        }
        Ok(out)
    }

    /// A quoted scalar whose opening quote is at byte `at` of line `i`; it may continue on
    /// blank lines and lines indented further than `parent`.
    fn quoted(&mut self, i: usize, at: usize, parent: usize) -> Result<String, FrontMatterError> {
        let open = self.line(i).unwrap_or(Line::new(0, ""));
        let quote = open.text.as_bytes().get(at).copied().unwrap_or(b'"');
        let mut raw = String::new();
        let mut index = i;
        let mut start = at.saturating_add(1);
        let after = loop {
            let line = self.line(index).unwrap_or(Line::new(0, ""));
            let text = line.text.get(start..).unwrap_or_default();
            if let Some(end) = find_closing(text, quote) {
                raw.push_str(text.get(..end).unwrap_or_default());
                break text.get(end.saturating_add(1)..).unwrap_or_default();
            }
            raw.push_str(text);
            raw.push('\n');
            index = index.saturating_add(1);
            start = 0;
            match self.line(index) {
                Some(next) if next.is_blank() || next.indent > parent => {}
                _ => {
                    return Err(syntax(
                        &open,
                        at,
                        "a closing quote (continuation lines must be indented further than the key)",
                    ));
                }
            }
        };
        let end_line = self.line(index).unwrap_or(open);
        self.pos = index.saturating_add(1);
        if !ends_line(after) {
            return Err(syntax(
                &end_line,
                end_line.offset_of(after),
                "the end of the line or a comment after the closing quote",
            ));
        }
        decode_quoted(&raw, quote == b'"').map_err(|what| syntax(&open, at, what))
    }

    /// A flow list whose `[` is at byte `at` of line `i`, possibly over several lines
    /// indented further than `parent`.
    fn flow_list(&mut self, i: usize, at: usize, parent: usize) -> Result<Value, FrontMatterError> {
        let open = self.line(i).unwrap_or(Line::new(0, ""));
        let mut text = String::new();
        let mut nested = false;
        let mut depth = 0usize;
        let mut quote: Option<u8> = None;
        let mut index = i;
        let mut start = at;
        let after = 'lines: loop {
            let line = self.line(index).unwrap_or(Line::new(0, ""));
            let part = line.text.get(start..).unwrap_or_default();
            let bytes = part.as_bytes();
            let mut k = 0usize;
            let mut after_space = true;
            while let Some(&b) = bytes.get(k) {
                match quote {
                    Some(b'"') if b == b'\\' => k = k.saturating_add(1),
                    Some(q) if b == q => {
                        if q == b'\'' && bytes.get(k.saturating_add(1)) == Some(&b'\'') {
                            k = k.saturating_add(1);
                        } else {
                            quote = None;
                        }
                    }
                    Some(_) => {}
                    None => match b {
                        b'"' | b'\'' => quote = Some(b),
                        b'[' | b'{' => {
                            depth = depth.saturating_add(1);
                            nested |= depth > 1 || b == b'{';
                        }
                        b']' | b'}' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                let end = k.saturating_add(1);
                                text.push_str(part.get(..end).unwrap_or_default());
                                if b != b']' {
                                    return Err(syntax(&line, start.saturating_add(k), "`]`"));
                                }
                                break 'lines part.get(end..).unwrap_or_default();
                            }
                        }
                        b'#' if after_space => {
                            text.push_str(part.get(..k).unwrap_or_default());
                            text.push('\n');
                            index = index.saturating_add(1);
                            start = 0;
                            self.flow_continues(index, parent, &open, at)?;
                            continue 'lines;
                        }
                        _ => {}
                    },
                }
                after_space = b == b' ' || b == b'\t';
                k = k.saturating_add(1);
            }
            text.push_str(part);
            text.push('\n');
            index = index.saturating_add(1);
            start = 0;
            self.flow_continues(index, parent, &open, at)?;
        };
        let end_line = self.line(index).unwrap_or(open);
        self.pos = index.saturating_add(1);
        if !ends_line(after) {
            return Err(syntax(
                &end_line,
                end_line.offset_of(after),
                "the end of the line or a comment after `]`",
            ));
        }
        if nested {
            return Ok(Value::Unsupported);
        }
        let inner = text
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .unwrap_or_default();
        flow_items(inner).map_err(|what| syntax(&open, at, what))
    }

    /// Checks that line `index` may continue a flow list opened on `open`.
    fn flow_continues(
        &self,
        index: usize,
        parent: usize,
        open: &Line<'_>,
        at: usize,
    ) -> Result<(), FrontMatterError> {
        match self.line(index) {
            Some(next) if next.is_blank() || next.indent > parent => Ok(()),
            _ => Err(syntax(
                open,
                at,
                "a closing `]` (continuation lines must be indented further than the key)",
            )),
        }
    }

    /// A block scalar whose header (`|` or `>` and indicators) is at byte `at` of line
    /// `i`; its content is the following lines indented further than `parent`.
    fn block_scalar(
        &mut self,
        i: usize,
        at: usize,
        parent: usize,
    ) -> Result<String, FrontMatterError> {
        let line = self.line(i).unwrap_or(Line::new(0, ""));
        let header = line.text.get(at..).unwrap_or_default();
        let folded = header.starts_with('>');
        let mut chomp = Chomp::Clip;
        let mut explicit = None;
        let mut rest = header.get(1..).unwrap_or_default();
        for _ in 0..2 {
            match rest.chars().next() {
                Some('-') if chomp == Chomp::Clip => chomp = Chomp::Strip,
                Some('+') if chomp == Chomp::Clip => chomp = Chomp::Keep,
                Some(d @ '1'..='9') if explicit.is_none() => {
                    explicit = d.to_digit(10).and_then(|d| usize::try_from(d).ok());
                }
                _ => break,
            }
            rest = rest.get(1..).unwrap_or_default();
        }
        if !ends_line(rest) {
            return Err(syntax(
                &line,
                line.offset_of(rest),
                "the end of a block scalar header (`|` or `>`, then `-` or `+` and an indentation digit)",
            ));
        }
        self.pos = i.saturating_add(1);
        let indent = match explicit {
            Some(d) => parent.saturating_add(d),
            None => {
                let first_text = self
                    .lines
                    .get(self.pos..)
                    .unwrap_or_default()
                    .iter()
                    .find(|l| !l.is_blank());
                match first_text {
                    Some(l) if l.indent > parent => l.indent,
                    // No content: only blank lines belong to the scalar.
                    _ => usize::MAX,
                }
            }
        };
        let mut parts: Vec<Option<&str>> = Vec::new();
        let mut has_text = false;
        while let Some(l) = self.line(self.pos) {
            if l.is_blank() {
                // Spaces beyond the indentation are content once the text has begun.
                let spaces_only = l.text.bytes().all(|b| b == b' ');
                let extra = l.text.get(indent..).filter(|t| !t.is_empty());
                parts.push(if has_text && spaces_only { extra } else { None });
            } else if l.indent >= indent {
                parts.push(Some(l.text.get(indent..).unwrap_or_default()));
                has_text = true;
            } else {
                break;
            }
            self.pos = self.pos.saturating_add(1);
        }
        Ok(compose_block(&parts, folded, chomp))
    }
}

/// Block scalar chomping: what happens to the final line break and trailing empty lines.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Chomp {
    /// `-`: none kept.
    Strip,
    /// Default: the final line break kept.
    Clip,
    /// `+`: all kept.
    Keep,
}

/// Joins block scalar lines (`None` for an empty line) as literal or folded text.
fn compose_block(parts: &[Option<&str>], folded: bool, chomp: Chomp) -> String {
    let last_text = parts.iter().rposition(Option::is_some);
    let mut out = String::new();
    let Some(last_text) = last_text else {
        if chomp == Chomp::Keep {
            out.extend(parts.iter().map(|_| '\n'));
        }
        return out;
    };
    let body = parts.get(..=last_text).unwrap_or_default();
    let trailing = parts.len().saturating_sub(last_text.saturating_add(1));
    if folded {
        // Lines fold into spaces, except around "more indented" lines (starting with
        // white space), and a run of empty lines between two lines becomes that many
        // line breaks.
        let mut previous: Option<bool> = None;
        let mut empties = 0usize;
        for part in body {
            let Some(text) = part else {
                empties = empties.saturating_add(1);
                continue;
            };
            let spaced = text.starts_with(WHITESPACE);
            match previous {
                None => out.extend(std::iter::repeat_n('\n', empties)),
                Some(false) if !spaced => fold(&mut out, empties),
                Some(_) => out.extend(std::iter::repeat_n('\n', empties.saturating_add(1))),
            }
            out.push_str(text);
            previous = Some(spaced);
            empties = 0;
        }
    } else {
        for (n, part) in body.iter().enumerate() {
            if n > 0 {
                out.push('\n');
            }
            out.push_str(part.unwrap_or_default());
        }
    }
    match chomp {
        Chomp::Strip => {}
        Chomp::Clip => out.push('\n'),
        Chomp::Keep => out.extend(std::iter::repeat_n('\n', trailing.saturating_add(1))),
    }
    out
}

/// Joins a line to the text before it: a space, or one line break per empty line between.
fn fold(out: &mut String, empty_lines: usize) {
    if empty_lines == 0 {
        out.push(' ');
    } else {
        out.extend(std::iter::repeat_n('\n', empty_lines));
    }
}

/// Whether `text` starts with the indicator `c` followed by white space or nothing.
fn is_indicator(text: &str, c: char) -> bool {
    text.strip_prefix(c)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(WHITESPACE))
}

fn is_list_item(content: &str) -> bool {
    is_indicator(content, '-')
}

/// Whether `rest`, what follows a closing quote or bracket, is blank or a comment.
fn ends_line(rest: &str) -> bool {
    let trimmed = rest.trim_start_matches(WHITESPACE);
    trimmed.is_empty() || (trimmed.starts_with('#') && trimmed.len() < rest.len())
}

/// Splits off a comment: a `#` at the start or after white space.
fn strip_comment(text: &str) -> (&str, bool) {
    let mut after_space = true;
    for (i, c) in text.char_indices() {
        if c == '#' && after_space {
            return (text.get(..i).unwrap_or_default(), true);
        }
        after_space = c == ' ' || c == '\t';
    }
    (text, false)
}

/// A plain scalar line may not hold `: ` or end with `:`, which would make it a map.
fn check_plain(text: &str) -> Result<(), String> {
    if text.contains(": ") || text.contains(":\t") || text.ends_with(':') {
        return Err("a value without `: ` (quote a value that contains one)".to_owned());
    }
    Ok(())
}

/// The byte offset of the quote that closes a scalar opened by `quote`, in `text` (which
/// follows the opening quote), skipping `\x` escapes in double quotes and `''` in single.
fn find_closing(text: &str, quote: u8) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut k = 0usize;
    while let Some(&b) = bytes.get(k) {
        if quote == b'"' && b == b'\\' {
            k = k.saturating_add(2);
            continue;
        }
        if b == quote {
            if quote == b'\'' && bytes.get(k.saturating_add(1)) == Some(&b'\'') {
                k = k.saturating_add(2);
                continue;
            }
            return Some(k);
        }
        k = k.saturating_add(1);
    }
    None
}

/// Decodes the text between the quotes of a quoted scalar: escapes (double quotes) or
/// `''` (single quotes), and line folding: white space around a line break is dropped,
/// and the break becomes a space, or one line break per empty line that follows it. In
/// double quotes, a `\` at the end of a line joins the lines with nothing between them.
fn decode_quoted(raw: &str, double: bool) -> Result<String, String> {
    let segments: Vec<&str> = raw.split('\n').collect();
    let last = segments.len().saturating_sub(1);
    let mut out = String::new();
    let mut index = 0usize;
    while let Some(&segment) = segments.get(index) {
        let segment = if index > 0 {
            segment.trim_start_matches(WHITESPACE)
        } else {
            segment
        };
        // Length of `out` without the unescaped white space that ends the segment.
        let mut keep = out.len();
        let mut escaped_break = false;
        let mut chars = segment.chars();
        while let Some(c) = chars.next() {
            if double && c == '\\' {
                let Some(e) = chars.next() else {
                    escaped_break = true;
                    break;
                };
                out.push(escape(e, &mut chars)?);
                keep = out.len();
            } else if !double && c == '\'' {
                chars.next();
                out.push('\'');
                keep = out.len();
            } else {
                out.push(c);
                if c != ' ' && c != '\t' {
                    keep = out.len();
                }
            }
        }
        if index >= last {
            if escaped_break {
                return Err("a character after `\\`".to_owned());
            }
            break;
        }
        index = index.saturating_add(1);
        if escaped_break {
            continue;
        }
        out.truncate(keep);
        let mut empties = 0usize;
        while index < last
            && segments
                .get(index)
                .is_some_and(|s| s.trim_matches(WHITESPACE).is_empty())
        {
            empties = empties.saturating_add(1);
            index = index.saturating_add(1);
        }
        fold(&mut out, empties);
    }
    Ok(out)
}

/// The character a double-quoted escape `\e` stands for, reading hex digits from `rest`.
fn escape(e: char, rest: &mut std::str::Chars<'_>) -> Result<char, String> {
    let digits = match e {
        '0' => return Ok('\0'),
        'a' => return Ok('\u{7}'),
        'b' => return Ok('\u{8}'),
        't' | '\t' => return Ok('\t'),
        'n' => return Ok('\n'),
        'v' => return Ok('\u{b}'),
        'f' => return Ok('\u{c}'),
        'r' => return Ok('\r'),
        'e' => return Ok('\u{1b}'),
        ' ' => return Ok(' '),
        '"' => return Ok('"'),
        '/' => return Ok('/'),
        '\\' => return Ok('\\'),
        'N' => return Ok('\u{85}'),
        '_' => return Ok('\u{a0}'),
        'L' => return Ok('\u{2028}'),
        'P' => return Ok('\u{2029}'),
        'x' => 2,
        'u' => 4,
        'U' => 8,
        _ => return Err(format!("a YAML escape, not `\\{e}`")),
    };
    let mut code = 0u32;
    for _ in 0..digits {
        let digit = rest
            .next()
            .and_then(|c| c.to_digit(16))
            .ok_or_else(|| format!("{digits} hex digits after `\\{e}`"))?;
        code = code.saturating_mul(16).saturating_add(digit);
    }
    char::from_u32(code)
        .ok_or_else(|| format!("a Unicode scalar value, not `\\{e}{code:0digits$X}`"))
}

/// Splits a map key off a line's content: `Ok(None)` when the line is not `key: ...`,
/// otherwise the key and what follows its `:`.
fn split_key(content: &str) -> Result<Option<(Key, &str)>, String> {
    let Some(first) = content.chars().next() else {
        return Ok(None);
    };
    match first {
        '?' if is_indicator(content, '?') => {
            let (key, _) = strip_comment(content.get(1..).unwrap_or_default());
            Ok(Some((Key::Complex(key.trim().to_owned()), "")))
        }
        '"' | '\'' => {
            let quote = if first == '"' { b'"' } else { b'\'' };
            let body = content.get(1..).unwrap_or_default();
            let Some(end) = find_closing(body, quote) else {
                return Ok(None);
            };
            let after = body
                .get(end.saturating_add(1)..)
                .unwrap_or_default()
                .trim_start_matches(WHITESPACE);
            let Some(rest) = after.strip_prefix(':') else {
                return Ok(None);
            };
            if !(rest.is_empty() || rest.starts_with(WHITESPACE)) {
                return Ok(None);
            }
            let key = decode_quoted(body.get(..end).unwrap_or_default(), quote == b'"')?;
            Ok(Some((Key::Name(key), rest)))
        }
        '&' | '!' | '*' | '[' | '{' => Ok(separator(content, true).map(|sep| {
            let (key, rest) = content.split_at_checked(sep).unwrap_or((content, ""));
            (
                Key::Opaque(key.trim_end().to_owned()),
                rest.get(1..).unwrap_or_default(),
            )
        })),
        '-' | ':' if is_indicator(content, first) => Ok(None),
        '|' | '>' | '%' | '@' | '`' | ',' | ']' | '}' | '#' => Ok(None),
        _ => Ok(separator(content, false).and_then(|sep| {
            let (key, rest) = content.split_at_checked(sep)?;
            let key = key.trim_end_matches(WHITESPACE);
            (!key.is_empty())
                .then(|| (Key::Name(key.to_owned()), rest.get(1..).unwrap_or_default()))
        })),
    }
}

/// The byte offset of the `:` that ends a key: followed by white space or the end of the
/// line, before any comment, and (for `nested`) outside quotes and brackets.
fn separator(content: &str, nested: bool) -> Option<usize> {
    let bytes = content.as_bytes();
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    let mut after_space = true;
    let mut k = 0usize;
    while let Some(&b) = bytes.get(k) {
        match quote {
            Some(b'"') if b == b'\\' => k = k.saturating_add(1),
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None => match b {
                b'"' | b'\'' if nested => quote = Some(b),
                b'[' | b'{' if nested => depth = depth.saturating_add(1),
                b']' | b'}' if nested => depth = depth.saturating_sub(1),
                b'#' if after_space => return None,
                b':' if depth == 0 => {
                    let next = bytes.get(k.saturating_add(1));
                    if matches!(next, None | Some(b' ' | b'\t')) {
                        return Some(k);
                    }
                }
                _ => {}
            },
        }
        after_space = b == b' ' || b == b'\t';
        k = k.saturating_add(1);
    }
    None
}

/// The items of a flow list without nested collections, given the text between its
/// brackets (comments removed, lines joined by `\n`).
fn flow_items(inner: &str) -> Result<Value, String> {
    let mut pieces = Vec::new();
    let bytes = inner.as_bytes();
    let mut quote: Option<u8> = None;
    let mut start = 0usize;
    let mut k = 0usize;
    while let Some(&b) = bytes.get(k) {
        match quote {
            Some(b'"') if b == b'\\' => k = k.saturating_add(1),
            Some(q) if b == q => {
                if q == b'\'' && bytes.get(k.saturating_add(1)) == Some(&b'\'') {
                    k = k.saturating_add(1);
                } else {
                    quote = None;
                }
            }
            Some(_) => {}
            None => match b {
                b'"' | b'\'' => quote = Some(b),
                b',' => {
                    pieces.push(inner.get(start..k).unwrap_or_default());
                    start = k.saturating_add(1);
                }
                _ => {}
            },
        }
        k = k.saturating_add(1);
    }
    pieces.push(inner.get(start..).unwrap_or_default());
    let flow_space: &[char] = &[' ', '\t', '\n'];
    let count = pieces.len();
    let mut items = Vec::new();
    for (n, piece) in pieces.into_iter().enumerate() {
        let piece = piece.trim_matches(flow_space);
        if piece.is_empty() {
            // `[]`, and one trailing comma after at least one item.
            if n.saturating_add(1) == count && (count == 1 || !items.is_empty()) {
                continue;
            }
            return Err("a list item between commas".to_owned());
        }
        let first = piece.chars().next().unwrap_or(' ');
        match first {
            '"' | '\'' => {
                let quote = if first == '"' { b'"' } else { b'\'' };
                let body = piece.get(1..).unwrap_or_default();
                let end = find_closing(body, quote).ok_or("a closing quote in the list")?;
                if end.saturating_add(1) != body.len() {
                    return Err("`,` or `]` after a quoted list item".to_owned());
                }
                items.push(decode_quoted(
                    body.get(..end).unwrap_or_default(),
                    quote == b'"',
                )?);
            }
            '&' | '*' | '!' | '?' => return Ok(Value::Unsupported),
            '-' if is_indicator(piece, '-') => {
                return Err("a list item (`- ` cannot start one inside `[]`)".to_owned());
            }
            '%' | '@' | '`' | '|' | '>' => {
                return Err(format!(
                    "a list item (`{first}` cannot start an unquoted value)"
                ));
            }
            _ => {
                let mut text = String::new();
                let mut empties = 0usize;
                for (l, line) in piece.split('\n').enumerate() {
                    let line = line.trim_matches(WHITESPACE);
                    if line.is_empty() {
                        empties = empties.saturating_add(1);
                        continue;
                    }
                    if l > 0 {
                        fold(&mut text, empties);
                    }
                    empties = 0;
                    text.push_str(line);
                }
                // `[a: b]` is a list holding a one-entry map.
                if check_plain(&text).is_err() {
                    return Ok(Value::Unsupported);
                }
                items.push(text);
            }
        }
    }
    Ok(Value::List(items))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(yaml: &str) -> FrontMatter {
        parse(&format!("---\n{yaml}---\n# Title\n"), &Limits::default())
            .unwrap_or_else(|e| panic!("{e}"))
            .expect("front matter")
    }

    fn err(yaml: &str) -> FrontMatterError {
        parse(&format!("---\n{yaml}---\n"), &Limits::default()).expect_err("an error")
    }

    fn s(text: &str) -> Value {
        Value::Str(text.to_owned())
    }

    fn list(items: &[&str]) -> Value {
        Value::List(items.iter().map(|i| (*i).to_owned()).collect())
    }

    #[test]
    fn no_front_matter_is_none() {
        let limits = Limits::default();
        assert_eq!(parse("# Title\n\ntext\n", &limits), Ok(None));
        assert_eq!(parse("", &limits), Ok(None));
        // A horizontal rule that is never closed.
        assert_eq!(parse("---\n# Title\n", &limits), Ok(None));
        assert_eq!(parse("text\n---\na: b\n---\n", &limits), Ok(None));
        // `--- ` and `----` do not close.
        assert_eq!(parse("---\na: b\n--- \n----\n", &limits), Ok(None));
    }

    #[test]
    fn delimiters_follow_the_hub() {
        let limits = Limits::default();
        let fm = parse("\u{feff}\n\n---\r\nlicense: mit\r\n---\r\nbody", &limits)
            .unwrap()
            .unwrap();
        assert_eq!(fm.strings("license"), ["mit"]);
        let fm = parse("---\nlicense: mit\n---", &limits).unwrap().unwrap();
        assert_eq!(fm.strings("license"), ["mit"]);
        assert_eq!(
            parse("---\n---\n", &limits),
            Ok(Some(FrontMatter::default()))
        );
        assert_eq!(
            parse("---\n# only a comment\n\n---\n", &limits),
            Ok(Some(FrontMatter::default()))
        );
    }

    #[test]
    fn bert_base_uncased() {
        let fm = card(
            "language: en\ntags:\n- exbert\nlicense: apache-2.0\ndatasets:\n- bookcorpus\n- wikipedia\n",
        );
        assert_eq!(fm.strings("language"), ["en"]);
        assert_eq!(fm.strings("tags"), ["exbert"]);
        assert_eq!(fm.strings("license"), ["apache-2.0"]);
        assert_eq!(fm.strings("datasets"), ["bookcorpus", "wikipedia"]);
        assert_eq!(fm.strings("missing"), Vec::<String>::new());
        let keys: Vec<&str> = fm.entries.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["language", "tags", "license", "datasets"]);
    }

    #[test]
    fn mistral() {
        let fm = card(concat!(
            "library_name: transformers\n",
            "language:\n- en\n",
            "license: apache-2.0\n",
            "tags:\n- pretrained\n",
            "inference:\n  parameters:\n    temperature: 0.7\n",
            "base_model: mistralai/Mistral-7B-v0.3\n",
            "extra_gated_description: If you want to learn more about how we process your personal data, please read our <a href=\"https://mistral.ai/terms/\">Privacy Policy</a>.\n",
        ));
        assert_eq!(fm.strings("base_model"), ["mistralai/Mistral-7B-v0.3"]);
        assert_eq!(
            fm.get("inference"),
            Some(&Value::Map(vec![(
                "parameters".to_owned(),
                Value::Map(vec![("temperature".to_owned(), s("0.7"))])
            )]))
        );
        assert!(
            fm.strings("extra_gated_description")[0]
                .ends_with("<a href=\"https://mistral.ai/terms/\">Privacy Policy</a>.")
        );
    }

    /// The shape of the Meta Llama 3 cards: a long folded license, a gated-access form
    /// whose keys are sentences, a widget list of maps, and nested inference parameters.
    #[test]
    fn meta_llama() {
        let fm = card(concat!(
            "language:\n- en\n",
            "pipeline_tag: text-generation\n",
            "tags:\n- facebook\n- meta\n- pytorch\n- llama\n- llama-3\n",
            "license: llama3\n",
            "new_version: meta-llama/Llama-3.1-8B-Instruct\n",
            "extra_gated_prompt: >-\n",
            "  ### META LLAMA 3 COMMUNITY LICENSE AGREEMENT\n",
            "\n",
            "  Meta Llama 3 Version Release Date: April 18, 2024\n",
            "  \n",
            "  \"Agreement\" means the terms and conditions for use, reproduction, distribution and modification of the\n",
            "  Llama Materials set forth herein.\n",
            "extra_gated_fields:\n",
            "  First Name: text\n",
            "  Last Name: text\n",
            "  Date of birth: date_picker\n",
            "  Country: country\n",
            "  Affiliation: text\n",
            "  Job title:\n",
            "    type: select\n",
            "    options:\n",
            "    - Student\n",
            "    - Research Graduate\n",
            "    - AI researcher\n",
            "  geo: ip_location\n",
            "  By clicking Submit below I accept the terms of the license and acknowledge that the information I provide will be collected stored processed and shared in accordance with the Meta Privacy Policy: checkbox\n",
            "extra_gated_description: >-\n",
            "  The information you provide will be collected, stored, processed and shared in\n",
            "  accordance with the [Meta Privacy\n",
            "  Policy](https://www.facebook.com/privacy/policy/).\n",
            "extra_gated_button_content: Submit\n",
            "widget:\n",
            "  - example_title: Hello\n",
            "    messages:\n",
            "    - role: user\n",
            "      content: Hey my name is Julien! How are you?\n",
            "  - example_title: Winter holidays\n",
            "    messages:\n",
            "    - role: system\n",
            "      content: You are a helpful and honest assistant. Please, respond concisely and truthfully.\n",
            "inference:\n",
            "  parameters:\n",
            "    max_new_tokens: 300\n",
            "    stop:\n",
            "      - <|end_of_text|>\n",
            "      - <|eot_id|>\n",
        ));
        assert_eq!(fm.strings("license"), ["llama3"]);
        assert_eq!(fm.strings("tags").len(), 5);
        assert_eq!(
            fm.strings("extra_gated_prompt"),
            [
                "### META LLAMA 3 COMMUNITY LICENSE AGREEMENT\nMeta Llama 3 Version Release Date: April 18, 2024\n\"Agreement\" means the terms and conditions for use, reproduction, distribution and modification of the Llama Materials set forth herein."
            ]
        );
        assert_eq!(
            fm.strings("extra_gated_description"),
            [
                "The information you provide will be collected, stored, processed and shared in accordance with the [Meta Privacy Policy](https://www.facebook.com/privacy/policy/)."
            ]
        );
        let Some(Value::Map(fields)) = fm.get("extra_gated_fields") else {
            panic!("a map");
        };
        assert_eq!(fields.len(), 8);
        assert_eq!(
            fields[5],
            (
                "Job title".to_owned(),
                Value::Map(vec![
                    ("type".to_owned(), s("select")),
                    (
                        "options".to_owned(),
                        list(&["Student", "Research Graduate", "AI researcher"])
                    ),
                ])
            )
        );
        assert!(fields[7].0.starts_with("By clicking Submit"));
        assert_eq!(fm.get("widget"), Some(&Value::Unsupported));
        let Some(Value::Map(inference)) = fm.get("inference") else {
            panic!("a map");
        };
        let Value::Map(parameters) = &inference[0].1 else {
            panic!("a map");
        };
        assert_eq!(parameters[1].1, list(&["<|end_of_text|>", "<|eot_id|>"]));
    }

    /// A dataset card as `huggingface_hub` writes it: `dataset_info` with features (a list
    /// of maps), class labels with quoted numeric keys, and `configs`.
    #[test]
    fn dataset_card_with_configs_and_dataset_info() {
        let fm = card(concat!(
            "annotations_creators:\n- expert-generated\n",
            "language:\n- en\n",
            "license:\n- cc-by-nc-sa-4.0\n",
            "size_categories:\n- 1K<n<10K\n",
            "task_ids:\n- sentiment-classification\n",
            "paperswithcode_id: null\n",
            "pretty_name: Financial PhraseBank\n",
            "dataset_info:\n",
            "  features:\n",
            "  - name: sentence\n",
            "    dtype: string\n",
            "  - name: label\n",
            "    dtype:\n",
            "      class_label:\n",
            "        names:\n",
            "          '0': negative\n",
            "          '1': neutral\n",
            "          '2': positive\n",
            "  splits:\n",
            "  - name: train\n",
            "    num_bytes: 586208\n",
            "    num_examples: 3872\n",
            "  download_size: 417897\n",
            "  dataset_size: 733292\n",
            "configs:\n",
            "- config_name: default\n",
            "  data_files:\n",
            "  - split: train\n",
            "    path: data/train-*\n",
            "tags:\n- finance\n",
        ));
        assert_eq!(fm.strings("license"), ["cc-by-nc-sa-4.0"]);
        assert_eq!(fm.strings("size_categories"), ["1K<n<10K"]);
        assert_eq!(fm.strings("paperswithcode_id"), ["null"]);
        assert_eq!(
            fm.get("dataset_info"),
            Some(&Value::Map(vec![
                ("features".to_owned(), Value::Unsupported),
                ("splits".to_owned(), Value::Unsupported),
                ("download_size".to_owned(), s("417897")),
                ("dataset_size".to_owned(), s("733292")),
            ]))
        );
        assert_eq!(fm.get("configs"), Some(&Value::Unsupported));
        assert_eq!(fm.strings("tags"), ["finance"]);
    }

    #[test]
    fn class_label_names_are_a_nested_map_with_quoted_keys() {
        let fm = card("names:\n  '0': O\n  \"1\": B-PER\n  2: I-PER\n");
        assert_eq!(
            fm.get("names"),
            Some(&Value::Map(vec![
                ("0".to_owned(), s("O")),
                ("1".to_owned(), s("B-PER")),
                ("2".to_owned(), s("I-PER")),
            ]))
        );
    }

    #[test]
    fn scalars_plain_and_quoted() {
        let fm = card(concat!(
            "plain: some words  # a comment\n",
            "hash: C#and#more\n",
            "url: https://example.com/a:b\n",
            "single: 'it''s # not a comment'\n",
            "double: \"tab\\there \\\"q\\\" \\u00e9\\x41\\U0001F600 \\\\ \\/\"\n",
            "empty:\n",
            "empty_quoted: ''\n",
            "number: 42\n",
            "'quoted key': yes\n",
            "spaced key : value\n",
        ));
        assert_eq!(fm.get("plain"), Some(&s("some words")));
        assert_eq!(fm.get("hash"), Some(&s("C#and#more")));
        assert_eq!(fm.get("url"), Some(&s("https://example.com/a:b")));
        assert_eq!(fm.get("single"), Some(&s("it's # not a comment")));
        assert_eq!(
            fm.get("double"),
            Some(&s("tab\there \"q\" \u{e9}A\u{1F600} \\ /"))
        );
        assert_eq!(fm.get("empty"), Some(&s("")));
        assert_eq!(fm.get("empty_quoted"), Some(&s("")));
        assert_eq!(fm.get("number"), Some(&s("42")));
        assert_eq!(fm.get("quoted key"), Some(&s("yes")));
        assert_eq!(fm.get("spaced key"), Some(&s("value")));
    }

    #[test]
    fn multi_line_scalars_fold() {
        let fm = card(concat!(
            "plain: first line\n",
            "  second line\n",
            "\n",
            "  after a blank line\n",
            "double: \"Llama 3.2 Version\\\n",
            "  \\ Release Date: September 25, 2024\\n\\nAgreement   \n",
            "  means\"\n",
            "single: 'one\n",
            "\n",
            "\n",
            "  two'\n",
            "next: value\n",
        ));
        assert_eq!(
            fm.get("plain"),
            Some(&s("first line second line\nafter a blank line"))
        );
        assert_eq!(
            fm.get("double"),
            Some(&s(
                "Llama 3.2 Version Release Date: September 25, 2024\n\nAgreement means"
            ))
        );
        assert_eq!(fm.get("single"), Some(&s("one\n\ntwo")));
        assert_eq!(fm.get("next"), Some(&s("value")));
    }

    #[test]
    fn block_scalars_literal_folded_and_chomping() {
        let fm = card(concat!(
            "literal: |\n",
            "  line one\n",
            "    indented\n",
            "\n",
            "  # not a comment\n",
            "\n",
            "strip: |-\n",
            "  text\n",
            "\n",
            "keep: |+\n",
            "  text\n",
            "\n",
            "folded: >\n",
            "  one\n",
            "  two\n",
            "\n",
            "  three\n",
            "    more indented\n",
            "  four\n",
            "explicit: |2\n",
            "    two extra spaces\n",
            "  base\n",
            "reversed: >-2\n",
            "  a\n",
            "  b\n",
            "empty: |\n",
            "last: end\n",
        ));
        assert_eq!(
            fm.get("literal"),
            Some(&s("line one\n  indented\n\n# not a comment\n"))
        );
        assert_eq!(fm.get("strip"), Some(&s("text")));
        assert_eq!(fm.get("keep"), Some(&s("text\n\n")));
        assert_eq!(
            fm.get("folded"),
            Some(&s("one two\nthree\n  more indented\nfour\n"))
        );
        assert_eq!(fm.get("explicit"), Some(&s("  two extra spaces\nbase\n")));
        assert_eq!(fm.get("reversed"), Some(&s("a b")));
        assert_eq!(fm.get("empty"), Some(&s("")));
        assert_eq!(fm.get("last"), Some(&s("end")));
    }

    #[test]
    fn lists_block_flow_and_multi_line() {
        let fm = card(concat!(
            "indented:\n  - a\n  - 'b'\n  -   \"c\"  # comment\n",
            "flush:\n- x\n-\n- y # comment\n",
            "flow: [a, \"b, c\", 'd', e f]\n",
            "empty_flow: []\n",
            "trailing: [a, b, ]\n",
            "multi:\n",
            "  [\n",
            "    \"/docs/one.md\",  # first\n",
            "    \"/docs/two.md\"\n",
            "  ]\n",
            "wrapped: [first item\n",
            "  continued, second]\n",
            "folded_item:\n- a long\n  item\n",
        ));
        assert_eq!(fm.get("indented"), Some(&list(&["a", "b", "c"])));
        assert_eq!(fm.get("flush"), Some(&list(&["x", "", "y"])));
        assert_eq!(fm.get("flow"), Some(&list(&["a", "b, c", "d", "e f"])));
        assert_eq!(fm.get("empty_flow"), Some(&list(&[])));
        assert_eq!(fm.get("trailing"), Some(&list(&["a", "b"])));
        assert_eq!(
            fm.get("multi"),
            Some(&list(&["/docs/one.md", "/docs/two.md"]))
        );
        assert_eq!(
            fm.get("wrapped"),
            Some(&list(&["first item continued", "second"]))
        );
        assert_eq!(fm.get("folded_item"), Some(&list(&["a long item"])));
    }

    #[test]
    fn constructs_outside_the_subset_are_unsupported_values() {
        let fm = card(concat!(
            "anchor: &base value\n",
            "alias: *base\n",
            "tag: !!str 123\n",
            "anchored_map: &m\n  a: 1\n  b: 2\n",
            "flow_map: {a: 1, b: [2, 3]}\n",
            "multi_flow_map: {\n  a: 1,\n  b: 2\n  }\n",
            "nested_flow: [a, [b, c]]\n",
            "pair_in_flow: [a: b]\n",
            "list_of_maps:\n- name: x\n  dtype: y\n",
            "list_of_lists:\n- - a\n  - b\n- - c\n",
            "map_under_dash:\n-\n  a: 1\n",
            "mixed: [a, *alias]\n",
            "? complex key\n",
            ": complex value\n",
            "&k anchored_key: v\n",
            "<<: *base\n",
            "after: still read\n",
        ));
        for key in [
            "anchor",
            "alias",
            "tag",
            "anchored_map",
            "flow_map",
            "multi_flow_map",
            "nested_flow",
            "pair_in_flow",
            "list_of_maps",
            "list_of_lists",
            "map_under_dash",
            "mixed",
            "complex key",
            "&k anchored_key",
            "<<",
        ] {
            assert_eq!(fm.get(key), Some(&Value::Unsupported), "{key}");
        }
        assert_eq!(fm.strings("after"), ["still read"]);
        assert_eq!(fm.entries.len(), 16);
    }

    #[test]
    fn duplicate_keys_are_errors() {
        assert_eq!(
            err("license: mit\ntags:\n- a\nlicense: apache-2.0\n"),
            FrontMatterError::DuplicateKey {
                key: "license".to_owned(),
                line: 5,
                first: 2,
            }
        );
        // Quoting does not make a key different, and nested maps are checked too.
        assert!(matches!(
            err("license: mit\n\"license\": x\n"),
            FrontMatterError::DuplicateKey { .. }
        ));
        assert!(matches!(
            err("a:\n  b: 1\n  b: 2\n"),
            FrontMatterError::DuplicateKey { .. }
        ));
        let message = err("k: 1\nk: 2\n").to_string();
        assert!(
            message.starts_with("duplicate key `k` at line 3, first at line 2"),
            "{message}"
        );
    }

    #[test]
    fn text_that_is_not_yaml_is_an_error() {
        for (yaml, line) in [
            ("a: \"unterminated\nb: c\n", 2),
            ("a: 'unterminated\n", 2),
            ("a: \"bad \\q escape\"\n", 2),
            ("a: \"\\ud800\"\n", 2),
            ("a: \"x\" trailing\n", 2),
            ("a: b: c\n", 2),
            ("a: b\n  c: d\n", 3),
            ("a: 'x'\n  more\n", 3),
            ("- a\n- b\n", 2),
            ("just text\n", 2),
            ("a: [1, 2\nb: c\n", 2),
            ("a: [1, , 2]\n", 2),
            ("a: - b\n", 2),
            ("a: @b\n", 2),
            ("a: |x\n  b\n", 2),
            ("a:\n\tb: c\n", 3),
            ("a:\n  - x\n - y\n", 4),
            ("  a: 1\nb: 2\n", 3),
            ("a: 1\n  # comment\n    b: 2\n", 4),
        ] {
            match err(yaml) {
                FrontMatterError::Syntax { line: got, .. } => {
                    assert_eq!(got, line, "{yaml:?}");
                }
                other => panic!("{yaml:?}: {other:?}"),
            }
        }
        let message = err("a: b: c\n").to_string();
        assert_eq!(
            message,
            "invalid front matter at line 2, column 4: expected a value without `: ` (quote a value that contains one)"
        );
    }

    #[test]
    fn limits_are_errors() {
        let small = Limits {
            max_header_bytes: 10,
            ..Limits::default()
        };
        assert_eq!(
            parse("---\nlicense: apache-2.0\n---\n", &small),
            Err(FrontMatterError::TooLong { limit: 10 })
        );
        // The limit also stops the search for a closing line.
        let long = format!("---\n{}", "x\n".repeat(100));
        assert_eq!(
            parse(&long, &small),
            Err(FrontMatterError::TooLong { limit: 10 })
        );

        let mut deep = String::new();
        for level in 0..40 {
            deep.push_str(&" ".repeat(level));
            deep.push_str("k:\n");
        }
        assert!(matches!(
            err(&deep),
            FrontMatterError::TooDeep {
                limit: MAX_NESTING,
                ..
            }
        ));
        let shallow = Limits {
            max_nesting: 2,
            ..Limits::default()
        };
        assert!(matches!(
            parse("---\na:\n  b:\n    c: d\n---\n", &shallow),
            Err(FrontMatterError::TooDeep { limit: 2, line: 4 })
        ));

        let many: String = (0..=MAX_ENTRIES).map(|i| format!("- {i}\n")).collect();
        assert!(matches!(
            err(&format!("k:\n{many}")),
            FrontMatterError::TooManyEntries { .. }
        ));
    }

    #[test]
    fn hostile_inputs_stay_linear() {
        // A billion-laughs document is just unsupported values here.
        let laughs = "a: &a [\"lol\",\"lol\"]\nb: &b [*a,*a,*a]\nc: [*b,*b,*b]\n";
        let fm = card(laughs);
        assert!(fm.entries.iter().all(|(_, v)| *v == Value::Unsupported));
        // Long runs of blank lines, comments and an unclosed flow list.
        let blank = format!("a: b{}\nc: d\n", "\n".repeat(100_000));
        assert_eq!(card(&blank).entries.len(), 2);
        let unclosed = format!("a: [{}", "  x,\n".repeat(100_000));
        assert!(matches!(err(&unclosed), FrontMatterError::Syntax { .. }));
    }
}
