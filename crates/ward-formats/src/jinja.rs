//! A bounded lexer and structural parser for the Jinja subset chat templates use, and the
//! checks that find templates reaching outside Jinja's sandbox.
//!
//! Chat templates ship inside GGUF files and `tokenizer_config.json`, and loaders render them
//! with Jinja. When the environment is not sandboxed (CVE-2024-34359 in
//! `llama-cpp-python`, and the same mistake in other servers since), a template can walk
//! from any object to Python's internals: `cycler.__init__.__globals__.os.popen(...)`,
//! `''.__class__.__mro__[1].__subclasses__()`, `self._TemplateReference__context`, or the
//! same names spelled as subscripts, `|attr(...)` arguments and concatenated strings. This
//! module never renders anything: it tokenizes every tag, checks that blocks and brackets
//! nest, and looks at names, attribute accesses and the string literals a tag could
//! assemble into a name.
//!
//! We wrote our own lexer instead of using a Jinja crate because the crates that parse
//! Jinja in Rust expose their syntax tree only as an unstable or renderer-internal API, and
//! the checks here need the raw tokens (string literal pieces, escapes, `|attr` arguments)
//! that a tree built for rendering folds away.
//!
//! Bounds: the template's length bounds the token count; bracket and block nesting are
//! bounded by the `max_nesting` argument. Anything the lexer cannot read is an error, never
//! a silent pass.

/// How serious a flagged construct is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Risk {
    /// Unusual for a chat template and a known step towards an escape (the `attr` filter,
    /// gadget globals, template loading, private attributes).
    Suspicious,
    /// Reaches Python internals: dunder attributes or names of code-running modules.
    Escape,
}

/// One flagged construct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// How serious it is.
    pub risk: Risk,
    /// Byte offset in the template of the tag it is in.
    pub offset: usize,
    /// What was found, with the name in backticks.
    pub what: String,
}

/// Why a template could not be fully parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset in the template.
    pub offset: usize,
    /// What was wrong.
    pub reason: String,
}

/// The result of analysing one template.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Analysis {
    /// Every flagged construct, including those found before a parse error.
    pub flags: Vec<Flag>,
    /// Set when the template is not valid Jinja (or exceeds the nesting limit).
    pub error: Option<ParseError>,
}

/// Attribute names and identifiers that only serve to run code or reach modules. Words a
/// chat template may use for its own data (`system`, `modules`, `compile`) are left out: the
/// path to them (`os`, `__globals__`) is what gets flagged.
const CODE_NAMES: &[&str] = &[
    "os",
    "subprocess",
    "popen",
    "eval",
    "exec",
    "execfile",
    "import_module",
    "builtins",
    "globals",
    "getattr",
    "setattr",
    "sys",
    "posix",
    "pty",
    "importlib",
    "check_output",
];

/// Attribute names of Python frame, function and generator internals.
const INTERNAL_ATTRS: &[&str] = &[
    "mro",
    "func_globals",
    "f_globals",
    "f_builtins",
    "f_locals",
    "gi_frame",
    "gi_code",
    "cr_frame",
    "tb_frame",
    "co_code",
];

/// Globals Jinja provides that have been used as gadgets to reach `__globals__`.
const GADGET_GLOBALS: &[&str] = &[
    "self",
    "cycler",
    "joiner",
    "lipsum",
    "config",
    "request",
    "url_for",
    "get_flashed_messages",
    "environment",
];

/// Callables chat templates call normally, but whose attributes are gadgets.
const GADGET_CALLABLES: &[&str] = &[
    "namespace",
    "range",
    "dict",
    "raise_exception",
    "strftime_now",
];

/// Statements that load other templates, outside what the model ships.
const LOADING_STATEMENTS: &[&str] = &["include", "import", "from", "extends"];

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num,
    Op(&'static str),
}

/// Analyses a template. `max_nesting` bounds bracket and block nesting.
pub fn analyze(template: &str, max_nesting: usize) -> Analysis {
    let mut analysis = Analysis::default();
    if let Err(error) = walk(template, max_nesting, &mut analysis.flags) {
        analysis.error = Some(error);
    }
    analysis
}

fn walk(template: &str, max_nesting: usize, flags: &mut Vec<Flag>) -> Result<(), ParseError> {
    let mut rest = template;
    let mut blocks: Vec<(&'static str, usize)> = Vec::new();
    while let Some(start) = rest.find('{').map(|i| template.len() - rest.len() + i) {
        let tail = template.get(start..).unwrap_or_default();
        let (kind, close) = if tail.starts_with("{{") {
            ("expr", "}}")
        } else if tail.starts_with("{%") {
            ("stmt", "%}")
        } else if tail.starts_with("{#") {
            ("comment", "#}")
        } else {
            rest = tail.get(1..).unwrap_or_default();
            continue;
        };
        let body_start = start + 2;
        let body_text = template.get(body_start..).unwrap_or_default();
        if kind == "comment" {
            let Some(end) = body_text.find(close) else {
                return Err(ParseError {
                    offset: start,
                    reason: "unterminated comment".into(),
                });
            };
            rest = body_text.get(end + 2..).unwrap_or_default();
            continue;
        }
        let (toks, consumed) = lex(body_text, close, body_start, max_nesting)?;
        rest = body_text.get(consumed..).unwrap_or_default();
        check(&toks, start, flags);
        if kind == "stmt" {
            statement(&toks, start, &mut blocks, max_nesting, flags)?;
            if blocks.last().is_some_and(|b| b.0 == "raw") {
                // Everything up to `{% endraw %}` is text.
                let Some(end) = find_endraw(rest) else {
                    return Err(ParseError {
                        offset: start,
                        reason: "`raw` block is never closed".into(),
                    });
                };
                blocks.pop();
                rest = rest.get(end..).unwrap_or_default();
            }
        } else if toks.is_empty() {
            return Err(ParseError {
                offset: start,
                reason: "empty expression".into(),
            });
        }
    }
    if let Some((name, offset)) = blocks.last() {
        return Err(ParseError {
            offset: *offset,
            reason: format!("`{name}` block is never closed"),
        });
    }
    Ok(())
}

/// The offset just after the `{% endraw %}` tag in `text`.
fn find_endraw(text: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = text.get(from..)?.find("{%") {
        let at = from + i + 2;
        let inner = text.get(at..)?;
        let trimmed = inner.trim_start_matches(['-', '+']).trim_start();
        if let Some(after) = trimmed.strip_prefix("endraw") {
            let after = after.trim_start().trim_start_matches(['-', '+']);
            if after.starts_with("%}") {
                return Some(text.len() - after.len() + 2);
            }
        }
        from = at;
    }
    None
}

/// Tokenizes one tag body up to `close` (outside brackets); returns the tokens and the bytes
/// consumed, closing delimiter included.
fn lex(
    text: &str,
    close: &str,
    base: usize,
    max_nesting: usize,
) -> Result<(Vec<Tok>, usize), ParseError> {
    let bytes = text.as_bytes();
    let err = |at: usize, reason: &str| ParseError {
        offset: base + at,
        reason: reason.into(),
    };
    let mut toks = Vec::new();
    let mut stack: Vec<u8> = Vec::new();
    let mut i = 0;
    // A leading whitespace-control marker.
    if let Some(b'-' | b'+') = bytes.first() {
        i = 1;
    }
    loop {
        let Some(&b) = bytes.get(i) else {
            return Err(err(i, "unterminated tag"));
        };
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if stack.is_empty() {
            let rest = text.get(i..).unwrap_or_default();
            if rest.starts_with(close) {
                return Ok((toks, i + 2));
            }
            if (b == b'-' || b == b'+') && rest.get(1..).is_some_and(|r| r.starts_with(close)) {
                return Ok((toks, i + 3));
            }
        }
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'_' => {
                let start = i;
                while bytes
                    .get(i)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                {
                    i += 1;
                }
                toks.push(Tok::Ident(
                    text.get(start..i).unwrap_or_default().to_owned(),
                ));
            }
            b'0'..=b'9' => {
                while bytes
                    .get(i)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'.')
                {
                    i += 1;
                }
                toks.push(Tok::Num);
            }
            b'\'' | b'"' => {
                let (s, used) = string(text.get(i..).unwrap_or_default())
                    .ok_or_else(|| err(i, "unterminated or invalid string"))?;
                toks.push(Tok::Str(s));
                i += used;
            }
            b'(' | b'[' | b'{' => {
                if stack.len() >= max_nesting {
                    return Err(err(
                        i,
                        &format!("brackets nested deeper than the limit of {max_nesting}"),
                    ));
                }
                stack.push(b);
                toks.push(Tok::Op(match b {
                    b'(' => "(",
                    b'[' => "[",
                    _ => "{",
                }));
                i += 1;
            }
            b')' | b']' | b'}' => {
                let open = match b {
                    b')' => b'(',
                    b']' => b'[',
                    _ => b'{',
                };
                if stack.pop() != Some(open) {
                    return Err(err(i, "unbalanced brackets"));
                }
                toks.push(Tok::Op(match b {
                    b')' => ")",
                    b']' => "]",
                    _ => "}",
                }));
                i += 1;
            }
            _ => {
                let rest = text.get(i..).unwrap_or_default();
                let op = [
                    "**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">",
                    "=", ".", ",", ":", "|",
                ]
                .into_iter()
                .find(|op| rest.starts_with(op))
                .ok_or_else(|| err(i, "unexpected character"))?;
                toks.push(Tok::Op(op));
                i += op.len();
            }
        }
    }
}

/// Decodes a Python string literal (Jinja uses Python's escapes); returns the value and the
/// bytes consumed, quotes included.
fn string(text: &str) -> Option<(String, usize)> {
    let mut chars = text.char_indices();
    let (_, quote) = chars.next()?;
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        if c == quote {
            return Some((out, i + c.len_utf8()));
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let (_, e) = chars.next()?;
        let hex = |chars: &mut std::str::CharIndices<'_>, n: usize| -> Option<char> {
            let mut v = 0u32;
            for _ in 0..n {
                v = v
                    .checked_mul(16)?
                    .checked_add(chars.next()?.1.to_digit(16)?)?;
            }
            char::from_u32(v)
        };
        match e {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            '0'..='7' => {
                // Octal escapes: up to three digits; `\137` is `_`.
                let mut v = e.to_digit(8)?;
                let mut look = chars.clone();
                for _ in 0..2 {
                    match look.next() {
                        Some((_, d)) if d.is_digit(8) => {
                            v = v * 8 + d.to_digit(8)?;
                            chars.next();
                        }
                        _ => break,
                    }
                }
                out.push(char::from_u32(v)?);
            }
            'x' => out.push(hex(&mut chars, 2)?),
            'u' => out.push(hex(&mut chars, 4)?),
            'U' => out.push(hex(&mut chars, 8)?),
            other => out.push(other),
        }
    }
    None
}

fn is_dunder(name: &str) -> bool {
    name.len() > 4 && name.starts_with("__") && name.ends_with("__")
}

/// Whether `text` contains a dunder name such as `__class__`.
fn contains_dunder(text: &str) -> bool {
    let mut rest = text;
    while let Some(i) = rest.find("__") {
        let after = rest.get(i + 2..).unwrap_or_default();
        let word: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if !word.is_empty() && after.get(word.len()..).is_some_and(|r| r.starts_with("__")) {
            return true;
        }
        rest = after;
    }
    false
}

fn check(toks: &[Tok], offset: usize, flags: &mut Vec<Flag>) {
    let mut found: Vec<(Risk, String)> = Vec::new();
    let mut flag = |risk: Risk, what: String| {
        if !found.iter().any(|f| f.1 == what) {
            found.push((risk, what));
        }
    };
    let mut literals = String::new();
    let mut underscore_piece = false;
    for (i, tok) in toks.iter().enumerate() {
        let prev = i.checked_sub(1).and_then(|p| toks.get(p));
        let next = toks.get(i + 1);
        let after_dot = prev == Some(&Tok::Op("."));
        match tok {
            Tok::Ident(name) => {
                if is_dunder(name) {
                    flag(Risk::Escape, format!("dunder name `{name}`"));
                } else if after_dot
                    && (CODE_NAMES.contains(&name.as_str())
                        || INTERNAL_ATTRS.contains(&name.as_str()))
                {
                    flag(Risk::Escape, format!("attribute `.{name}`"));
                } else if after_dot && name.starts_with('_') {
                    flag(Risk::Suspicious, format!("private attribute `.{name}`"));
                } else if !after_dot && CODE_NAMES.contains(&name.as_str()) {
                    flag(Risk::Escape, format!("name `{name}`"));
                } else if !after_dot && GADGET_GLOBALS.contains(&name.as_str()) {
                    let accessed = matches!(next, Some(Tok::Op("." | "[" | "|")));
                    let risk = if accessed {
                        Risk::Escape
                    } else {
                        Risk::Suspicious
                    };
                    flag(
                        risk,
                        format!("Jinja global `{name}`, a known sandbox-escape gadget"),
                    );
                } else if !after_dot
                    && GADGET_CALLABLES.contains(&name.as_str())
                    && matches!(next, Some(Tok::Op("." | "[")))
                {
                    flag(
                        Risk::Escape,
                        format!("attribute access on the callable `{name}`"),
                    );
                } else if prev == Some(&Tok::Op("|")) && name == "attr" {
                    flag(
                        Risk::Suspicious,
                        "the `attr` filter, which reads attributes by computed name".into(),
                    );
                }
            }
            Tok::Str(s) => {
                if contains_dunder(s) {
                    flag(
                        Risk::Escape,
                        format!("string `{s}` naming a dunder attribute"),
                    );
                } else if [
                    "os",
                    "subprocess",
                    "popen",
                    "eval",
                    "exec",
                    "import_module",
                    "builtins",
                    "globals",
                ]
                .contains(&s.as_str())
                {
                    flag(
                        Risk::Escape,
                        format!("string `{s}` naming a code-running module or function"),
                    );
                }
                if s.contains("%c") {
                    flag(
                        Risk::Suspicious,
                        format!("string `{s}` that builds characters from numbers"),
                    );
                }
                let only_underscores = !s.is_empty() && s.chars().all(|c| c == '_');
                let joined = matches!(next, Some(Tok::Op("*" | "+" | "~")))
                    || matches!(prev, Some(Tok::Op("+" | "~" | "*")));
                if only_underscores && joined {
                    underscore_piece = true;
                }
                literals.push_str(s);
            }
            Tok::Num | Tok::Op(_) => {}
        }
    }
    // Names assembled from pieces: `'__cla' + 'ss__'`, `['__cl', 'ass__']|join`,
    // `'__ssalc__'|reverse`, or underscores multiplied (`'_' * 2`).
    let reversed: String = literals.chars().rev().collect();
    let escaped = found.iter().any(|f| f.0 == Risk::Escape);
    if !escaped && (contains_dunder(&literals) || contains_dunder(&reversed)) {
        found.push((
            Risk::Escape,
            "string literals that join into a dunder name".into(),
        ));
    } else if !escaped && underscore_piece {
        found.push((
            Risk::Escape,
            "underscores assembled into a name by concatenation or repetition".into(),
        ));
    }
    // A tag that escapes is reported as such; its merely suspicious parts add nothing.
    if found.iter().any(|f| f.0 == Risk::Escape) {
        found.retain(|f| f.0 == Risk::Escape);
    }
    flags.extend(
        found
            .into_iter()
            .map(|(risk, what)| Flag { risk, offset, what }),
    );
}

fn statement(
    toks: &[Tok],
    offset: usize,
    blocks: &mut Vec<(&'static str, usize)>,
    max_nesting: usize,
    flags: &mut Vec<Flag>,
) -> Result<(), ParseError> {
    let err = |reason: String| ParseError { offset, reason };
    let Some(Tok::Ident(keyword)) = toks.first() else {
        return Err(err("a statement must start with a keyword".into()));
    };
    let keyword = keyword.as_str();
    const OPENERS: &[&str] = &[
        "for",
        "if",
        "macro",
        "call",
        "filter",
        "with",
        "block",
        "autoescape",
        "raw",
        "generation",
    ];
    if let Some(opener) = OPENERS.iter().find(|o| **o == keyword) {
        if blocks.len() >= max_nesting {
            return Err(err(format!(
                "blocks nested deeper than the limit of {max_nesting}"
            )));
        }
        blocks.push((opener, offset));
        return Ok(());
    }
    if keyword == "set" {
        // `{% set x = ... %}` is a statement; `{% set x %}...{% endset %}` opens a block.
        if !toks.contains(&Tok::Op("=")) {
            if blocks.len() >= max_nesting {
                return Err(err(format!(
                    "blocks nested deeper than the limit of {max_nesting}"
                )));
            }
            blocks.push(("set", offset));
        }
        return Ok(());
    }
    if let Some(name) = keyword.strip_prefix("end") {
        return match blocks.pop() {
            Some((open, _)) if open == name => Ok(()),
            Some((open, _)) => Err(err(format!("`{keyword}` closes a `{open}` block"))),
            None => Err(err(format!("`{keyword}` without an open block"))),
        };
    }
    match keyword {
        "elif" => match blocks.last() {
            Some(("if", _)) => Ok(()),
            _ => Err(err("`elif` outside an `if` block".into())),
        },
        "else" => match blocks.last() {
            Some(("if" | "for", _)) => Ok(()),
            _ => Err(err("`else` outside an `if` or `for` block".into())),
        },
        "break" | "continue" => match blocks.iter().any(|b| b.0 == "for") {
            true => Ok(()),
            false => Err(err(format!("`{keyword}` outside a `for` loop"))),
        },
        "do" => Ok(()),
        k if LOADING_STATEMENTS.contains(&k) => {
            flags.push(Flag {
                risk: Risk::Suspicious,
                offset,
                what: format!("`{k}` statement, which loads another template"),
            });
            Ok(())
        }
        other => Err(err(format!("unknown statement `{other}`"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn risks(t: &str) -> Vec<Risk> {
        let a = analyze(t, 32);
        assert_eq!(a.error, None, "{t}");
        a.flags.iter().map(|f| f.risk).collect()
    }

    #[test]
    fn ordinary_templates_are_clean() {
        let chatml = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
        assert_eq!(risks(chatml), vec![]);
        let ns = "{%- set ns = namespace(found=false) -%}{%- for m in messages -%}{%- if m.role == 'system' -%}{%- set ns.found = true -%}{%- endif -%}{%- endfor -%}{{ raise_exception('x') if not ns.found }}{% raw %}{{ not parsed }}{% endraw %}{# c #}";
        assert_eq!(risks(ns), vec![]);
    }

    #[test]
    fn data_words_are_not_code_names() {
        let t = "{% set system = messages[0] %}{{ system.content }}{{ message.system }}{% for m in messages|selectattr('role', 'equalto', 'system') %}{{ m.content|tojson }}{% endfor %}";
        assert_eq!(risks(t), vec![]);
    }

    #[test]
    fn escapes_are_flagged() {
        for t in [
            "{{ self.__init__.__globals__.__builtins__ }}",
            "{{ cycler.__init__.__globals__.os.popen('echo ward-fixture').read() }}",
            "{{ ''['__cla' + 'ss__'] }}",
            "{{ ''|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
            "{{ (''|attr('_'*2 ~ 'class' ~ '_'*2)) }}",
            "{{ ['__cl', 'ass__']|join }}",
            "{{ namespace.__init__ }}",
            "{{ lipsum.__globals__['os'] }}",
            "{% set x = joiner.x %}",
        ] {
            assert!(risks(t).contains(&Risk::Escape), "{t}");
        }
        assert_eq!(risks("{% include 'other.j2' %}"), vec![Risk::Suspicious]);
    }

    #[test]
    fn malformed_templates_are_errors() {
        for t in [
            "{{ x ",
            "{% if x %}",
            "{% endfor %}",
            "{{ 'abc }}",
            "{{ (x] }}",
            "{% frobnicate %}",
            "{{ x ; y }}",
            "{# never",
        ] {
            assert!(analyze(t, 32).error.is_some(), "{t}");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{{{{ {}1{} }}}}", "(".repeat(40), ")".repeat(40));
        assert!(
            analyze(&deep, 32)
                .error
                .is_some_and(|e| e.reason.contains("limit"))
        );
        assert!(analyze(&deep, 64).error.is_none());
        let blocks = format!("{}{}", "{% if x %}".repeat(40), "{% endif %}".repeat(40));
        assert!(
            analyze(&blocks, 32)
                .error
                .is_some_and(|e| e.reason.contains("limit"))
        );
        assert!(analyze(&blocks, 64).error.is_none());
    }
}
