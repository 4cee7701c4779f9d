//! Fuzzes the card front matter reader: no panic and bounded time and memory on any
//! UTF-8 text (as is, and wrapped in `---` lines so that most inputs reach the YAML
//! reader); raising the nesting limit never changes a reading that succeeded; and what
//! was read survives a write as YAML and a re-read unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_formats::Limits;
use ward_formats::frontmatter::{Value, parse};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let small = Limits {
        max_header_bytes: 1 << 20,
        max_nesting: 8,
        ..Limits::default()
    };
    let large = Limits {
        max_header_bytes: 1 << 20,
        ..Limits::default()
    };
    let wrapped = format!("---\n{text}\n---\n");
    for input in [text, wrapped.as_str()] {
        let read = parse(input, &small);
        if read.is_ok() {
            assert_eq!(parse(input, &large), read);
        }
        if let Ok(Some(front)) = parse(input, &large) {
            let yaml = format!("---\n{}---\n", write_map(&front.entries, 0));
            let unbounded = Limits {
                max_header_bytes: u64::MAX,
                ..Limits::default()
            };
            let again = parse(&yaml, &unbounded);
            assert_eq!(again, Ok(Some(front.clone())), "rewritten as:\n{yaml}");
            for (key, _) in &front.entries {
                let _ = front.strings(key);
            }
        }
    }
});

/// Writes entries as block YAML with every scalar double-quoted; unsupported values
/// become aliases, which read back as unsupported.
fn write_map(entries: &[(String, Value)], indent: usize) -> String {
    let pad = " ".repeat(indent);
    let mut out = String::new();
    for (key, value) in entries {
        out.push_str(&format!("{pad}{}:", quote(key)));
        match value {
            Value::Str(s) => out.push_str(&format!(" {}\n", quote(s))),
            Value::List(items) if items.is_empty() => out.push_str(" []\n"),
            Value::List(items) => {
                out.push('\n');
                for item in items {
                    out.push_str(&format!("{pad}- {}\n", quote(item)));
                }
            }
            Value::Map(inner) => {
                out.push('\n');
                out.push_str(&write_map(inner, indent + 2));
            }
            Value::Unsupported => out.push_str(" *unsupported\n"),
        }
    }
    out
}

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                out.push_str(&format!("\\U{:08X}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
