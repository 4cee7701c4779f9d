//! The text arguments of protocol 0 opcodes, parsed exactly as CPython's C unpickler
//! (`Modules/_pickle.c`) parses them.
//!
//! Other scanners parse `I0x10\n` or `I010\n` with Python's `int()` and either fail or read
//! another number than the real unpickler; a reader that disagrees with `_pickle` about
//! where an argument ends or whether it is valid can be steered past a payload. ward reads
//! the same bytes the same way, so its view of the stream is the one `pickle.load` acts on.

/// The value of an `INT` opcode argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntArg {
    /// `I00\n` and `I01\n` (and any two-character spelling of 0 or 1): a boolean.
    Bool(bool),
    /// An integer that fits in 64 bits.
    Small(i64),
    /// A valid integer too large for 64 bits.
    Big,
}

/// Parses an `INT` line (newline included) like `load_int`: C `strtol(s, &end, 0)` first
/// and, when that fails or stops early, Python's `int(s, 0)`.
pub(crate) fn parse_int_line(line: &[u8]) -> Option<IntArg> {
    if line.len() < 2 {
        return None;
    }
    if let Some((value, rest)) = strtol_base0(line)
        && matches!(rest, [] | [b'\n', ..] | [0, ..])
    {
        if line.len() == 3 && (value == 0 || value == 1) {
            return Some(IntArg::Bool(value == 1));
        }
        return Some(IntArg::Small(value));
    }
    py_int_base0(line).map(|v| v.map_or(IntArg::Big, IntArg::Small))
}

/// Parses a `LONG` line like `load_long`: one trailing `L` before the newline is dropped,
/// then Python's `int(s, 0)`. Returns the value when it fits in 64 bits.
pub(crate) fn parse_long_line(line: &[u8]) -> Option<Option<i64>> {
    if line.len() < 2 {
        return None;
    }
    let body = line.get(..line.len() - 1)?;
    // C overwrites the `L` with NUL, which ends the string there.
    let body = match body.split_last() {
        Some((b'L', rest)) => rest,
        _ => body,
    };
    // An embedded NUL ends a C string: what follows is ignored by `PyLong_FromString`.
    let body = body.split(|&b| b == 0).next().unwrap_or_default();
    py_int_base0(body)
}

/// Parses a text memo index (`PUT`/`GET`) like `PyLong_FromString(s, NULL, 10)`.
pub(crate) fn parse_memo_index(line: &[u8]) -> Option<u64> {
    let body = line.strip_suffix(b"\n").unwrap_or(line);
    let body = body.split(|&b| b == 0).next().unwrap_or_default();
    let (neg, digits) = split_sign(trim_ascii_ws(body));
    let value = parse_digits(digits, 10)?;
    if neg && value != 0 {
        // CPython rejects negative PUT/GET arguments.
        return None;
    }
    u64::try_from(value).ok()
}

/// Parses a `FLOAT` line like `PyOS_string_to_double`: no leading whitespace, the whole
/// line must be the number.
pub(crate) fn parse_float_line(line: &[u8]) -> Option<f64> {
    let body = line.strip_suffix(b"\n").unwrap_or(line);
    let body = body.split(|&b| b == 0).next().unwrap_or_default();
    let text = std::str::from_utf8(body).ok()?;
    if text.is_empty() || text.starts_with(|c: char| c.is_ascii_whitespace()) {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    let unsigned = lower.trim_start_matches(['+', '-']);
    if matches!(unsigned, "inf" | "infinity" | "nan") {
        return Some(f64::NAN);
    }
    if !unsigned.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return None;
    }
    text.parse::<f64>().ok()
}

/// Decodes the argument of a protocol 0 `STRING` opcode like `load_string`: the line must
/// be quoted with matching `'` or `"`, and the inside is decoded with Python 2 bytes escapes
/// (`PyBytes_DecodeEscape`).
pub(crate) fn decode_string_line(line: &[u8]) -> Option<Vec<u8>> {
    let body = line.strip_suffix(b"\n").unwrap_or(line);
    let (&first, rest) = body.split_first()?;
    let (&last, inner) = rest.split_last()?;
    if first != last || !(first == b'\'' || first == b'"') {
        return None;
    }
    decode_bytes_escape(inner)
}

/// Python's bytes escape decoding.
fn decode_bytes_escape(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut it = s.iter().copied().peekable();
    while let Some(b) = it.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let Some(esc) = it.next() else {
            // A trailing lone backslash is an error ("Trailing \ in string").
            return None;
        };
        match esc {
            b'\n' => {}
            b'\\' => out.push(b'\\'),
            b'\'' => out.push(b'\''),
            b'"' => out.push(b'"'),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b't' => out.push(b'\t'),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b'v' => out.push(11),
            b'a' => out.push(7),
            b'0'..=b'7' => {
                let mut v = u32::from(esc - b'0');
                for _ in 0..2 {
                    match it.peek() {
                        Some(&d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            it.next();
                        }
                        _ => break,
                    }
                }
                // Octal escapes above 0o377 wrap to a byte in CPython (with a warning).
                out.push((v & 0xff) as u8);
            }
            b'x' => {
                let hi = it.next().and_then(hex_val)?;
                let lo = it.next().and_then(hex_val)?;
                out.push(hi * 16 + lo);
            }
            other => {
                // Unknown escapes are kept with their backslash.
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    Some(out)
}

/// Decodes the argument of a protocol 0 `UNICODE` opcode (`raw-unicode-escape`): bytes are
/// Latin-1 characters except `\uXXXX` and `\UXXXXXXXX` after an odd run of backslashes.
pub(crate) fn decode_raw_unicode_escape(s: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut i = 0usize;
    let mut backslashes = 0usize;
    while let Some(&b) = s.get(i) {
        if b == b'\\' && backslashes.is_multiple_of(2) {
            let width = match s.get(i + 1) {
                Some(b'u') => Some(4),
                Some(b'U') => Some(8),
                _ => None,
            };
            if let Some(width) = width {
                let digits = s.get(i + 2..i + 2 + width)?;
                let mut v = 0u32;
                for &d in digits {
                    v = v.checked_mul(16)?.checked_add(u32::from(hex_val(d)?))?;
                }
                // Lone surrogates are legal here in CPython; keep a replacement instead.
                out.push(char::from_u32(v).unwrap_or(char::REPLACEMENT_CHARACTER));
                if v > 0x10FFFF {
                    return None;
                }
                i += 2 + width;
                backslashes = 0;
                continue;
            }
        }
        backslashes = if b == b'\\' { backslashes + 1 } else { 0 };
        out.push(char::from(b));
        i += 1;
    }
    Some(out)
}

fn hex_val(d: u8) -> Option<u8> {
    match d {
        b'0'..=b'9' => Some(d - b'0'),
        b'a'..=b'f' => Some(d - b'a' + 10),
        b'A'..=b'F' => Some(d - b'A' + 10),
        _ => None,
    }
}

fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn trim_ascii_ws(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_c_space(b)).unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|&b| !is_c_space(b))
        .map_or(start, |e| e + 1);
    s.get(start..end).unwrap_or_default()
}

fn split_sign(s: &[u8]) -> (bool, &[u8]) {
    match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, s),
    }
}

/// C `strtol(s, &end, 0)` on a 64-bit `long`: returns the value and the unparsed rest, or
/// `None` when nothing was parsed or the value overflowed (`errno` set).
fn strtol_base0(s: &[u8]) -> Option<(i64, &[u8])> {
    let start = s.iter().position(|&b| !is_c_space(b)).unwrap_or(s.len());
    let (neg, body) = split_sign(s.get(start..).unwrap_or_default());
    let (radix, digits) = match body {
        [b'0', b'x' | b'X', d, ..] if hex_val(*d).is_some() => (16, body.get(2..)?),
        [b'0', ..] => (8, body),
        _ => (10, body),
    };
    let n = digits
        .iter()
        .take_while(|&&d| hex_val(d).is_some_and(|v| u32::from(v) < radix))
        .count();
    if n == 0 {
        return None;
    }
    let mut magnitude: u64 = 0;
    for &d in digits.get(..n)? {
        magnitude = magnitude
            .checked_mul(u64::from(radix))?
            .checked_add(u64::from(hex_val(d)?))?;
    }
    let value = if neg {
        0i64.checked_sub_unsigned(magnitude)?
    } else {
        i64::try_from(magnitude).ok()?
    };
    Some((value, digits.get(n..)?))
}

/// Python `int(s, 0)` (`PyLong_FromString` with base 0): surrounding whitespace, a sign, a
/// `0x`/`0o`/`0b` prefix, single underscores between digits, and no leading zeros on a
/// nonzero decimal. Returns `Some(Some(v))` when it fits in 64 bits, `Some(None)` for a
/// valid larger number, `None` when invalid.
fn py_int_base0(s: &[u8]) -> Option<Option<i64>> {
    let (neg, body) = split_sign(trim_ascii_ws(s));
    let (radix, digits, prefixed) = match body {
        [b'0', b'x' | b'X', rest @ ..] => (16u32, rest, true),
        [b'0', b'o' | b'O', rest @ ..] => (8, rest, true),
        [b'0', b'b' | b'B', rest @ ..] => (2, rest, true),
        _ => (10, body, false),
    };
    // After a prefix, one underscore may come before the first digit.
    let digits = if prefixed {
        digits.strip_prefix(b"_").unwrap_or(digits)
    } else {
        digits
    };
    let value = parse_digits(digits, radix)?;
    if radix == 10 && digits.first() == Some(&b'0') && value != 0 {
        return None;
    }
    let value = if neg {
        value.checked_neg()
    } else {
        Some(value)
    };
    Some(value.and_then(|v| i64::try_from(v).ok()))
}

/// Digits with single underscores between them. Values beyond `i128` saturate: the caller
/// only needs to know they are large.
fn parse_digits(digits: &[u8], radix: u32) -> Option<i128> {
    if digits.is_empty() || digits.first() == Some(&b'_') || digits.last() == Some(&b'_') {
        return None;
    }
    let mut value: i128 = 0;
    let mut prev_underscore = false;
    for &d in digits {
        if d == b'_' {
            if prev_underscore {
                return None;
            }
            prev_underscore = true;
            continue;
        }
        prev_underscore = false;
        let v = u32::from(hex_val(d)?);
        if v >= radix {
            return None;
        }
        value = value
            .saturating_mul(i128::from(radix))
            .saturating_add(i128::from(v));
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_lines_follow_strtol_then_python_int() {
        assert_eq!(parse_int_line(b"0x10\n"), Some(IntArg::Small(16)));
        assert_eq!(parse_int_line(b"010\n"), Some(IntArg::Small(8)));
        assert_eq!(parse_int_line(b"01\n"), Some(IntArg::Bool(true)));
        assert_eq!(parse_int_line(b"00\n"), Some(IntArg::Bool(false)));
        assert_eq!(parse_int_line(b"-0\n"), Some(IntArg::Bool(false)));
        assert_eq!(parse_int_line(b"1\n"), Some(IntArg::Small(1)));
        assert_eq!(parse_int_line(b" 42\n"), Some(IntArg::Small(42)));
        assert_eq!(parse_int_line(b"1_000\n"), Some(IntArg::Small(1000)));
        assert_eq!(parse_int_line(b"0b101\n"), Some(IntArg::Small(5)));
        assert_eq!(parse_int_line(b"99999999999999999999\n"), Some(IntArg::Big));
        assert_eq!(parse_int_line(b"12x\n"), None);
        assert_eq!(parse_int_line(b"\n"), None);
        assert_eq!(parse_int_line(b"09\n"), None);
    }

    #[test]
    fn long_lines_drop_one_l() {
        assert_eq!(parse_long_line(b"12L\n"), Some(Some(12)));
        assert_eq!(parse_long_line(b"12\n"), Some(Some(12)));
        assert_eq!(parse_long_line(b"0x1fL\n"), Some(Some(31)));
        assert_eq!(parse_long_line(b"12LL\n"), None);
        assert_eq!(parse_long_line(b"L\n"), None);
    }

    #[test]
    fn strings_are_quoted_and_unescaped() {
        assert_eq!(
            decode_string_line(b"'o\\x73'\n").as_deref(),
            Some(&b"os"[..])
        );
        assert_eq!(
            decode_string_line(b"\"a\\101\"\n").as_deref(),
            Some(&b"aA"[..])
        );
        assert_eq!(decode_string_line(b"'a\"\n"), None);
        assert_eq!(decode_string_line(b"'\\x4'\n"), None);
        assert_eq!(
            decode_raw_unicode_escape(b"sys\\u0074em").as_deref(),
            Some("system")
        );
        assert_eq!(
            decode_raw_unicode_escape(b"a\\\\u0041").as_deref(),
            Some("a\\\\u0041")
        );
    }

    #[test]
    fn memo_indices_and_floats() {
        assert_eq!(parse_memo_index(b"12\n"), Some(12));
        assert_eq!(parse_memo_index(b"-1\n"), None);
        assert_eq!(parse_float_line(b"1.5\n"), Some(1.5));
        assert_eq!(parse_float_line(b" 1.5\n"), None);
        assert!(parse_float_line(b"inf\n").is_some());
    }
}
