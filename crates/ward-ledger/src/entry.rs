//! The canonical leaf bytes of an entry.
//!
//! A leaf is the UTF-8 JSON object `{"entry":E,"seq":N,"time":"T"}`, keys in that
//! (byte-sorted) order, no white space, where `E` is the appended JSON value in canonical
//! form (object keys sorted by their UTF-8 bytes, no white space, strings escaped as
//! `serde_json` writes them, numbers as `serde_json` writes them), `N` the decimal
//! sequence number and `T` the RFC 3339 UTC time with microseconds. Verifiers never have
//! to re-serialize anything: the stored bytes are hashed as they are.

use std::time::SystemTime;

use serde_json::Value;

use crate::Error;

/// Largest canonical entry accepted by `append`, so one caller cannot fill memory or the
/// disk with a single line.
pub const MAX_ENTRY_BYTES: usize = 1024 * 1024;

/// Deepest nesting accepted in an entry, so canonicalization cannot exhaust the stack.
pub const MAX_ENTRY_DEPTH: usize = 64;

/// Serializes `value` canonically.
pub fn canonical_json(value: &Value) -> Result<String, Error> {
    let mut out = String::new();
    write_value(value, &mut out, 0)?;
    if out.len() > MAX_ENTRY_BYTES {
        return Err(Error::EntryTooLarge {
            size: out.len(),
            limit: MAX_ENTRY_BYTES,
        });
    }
    Ok(out)
}

fn write_value(value: &Value, out: &mut String, depth: usize) -> Result<(), Error> {
    if depth > MAX_ENTRY_DEPTH {
        return Err(Error::EntryTooDeep {
            limit: MAX_ENTRY_DEPTH,
        });
    }
    if out.len() > MAX_ENTRY_BYTES {
        return Err(Error::EntryTooLarge {
            size: out.len(),
            limit: MAX_ENTRY_BYTES,
        });
    }
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out, depth + 1)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            // Sorting here, rather than relying on the map type, keeps the bytes stable
            // even when another crate turns on serde_json's `preserve_order` feature.
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                if let Some(item) = map.get(key) {
                    write_value(item, out, depth + 1)?;
                }
            }
            out.push('}');
        }
    }
    Ok(())
}

fn write_string(s: &str, out: &mut String) {
    // Escaping a string cannot fail; the fallback only keeps this panic-free.
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned()));
}

/// RFC 3339 UTC time with microseconds, e.g. `2026-11-22T03:45:48.123456Z`.
///
/// A clock outside the years -9999 to 9999 cannot be written in this form; it is clamped to
/// the nearest end of that range rather than panicking, which shows in the log as the
/// obviously wrong time it is.
pub fn timestamp(now: SystemTime) -> String {
    let at = jiff::Timestamp::try_from(now).unwrap_or_else(|_| {
        if now < SystemTime::UNIX_EPOCH {
            jiff::Timestamp::MIN
        } else {
            jiff::Timestamp::MAX
        }
    });
    at.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Builds the leaf bytes from an already canonical entry.
pub fn leaf_bytes(canonical_entry: &str, seq: u64, time: &str) -> Vec<u8> {
    format!("{{\"entry\":{canonical_entry},\"seq\":{seq},\"time\":\"{time}\"}}").into_bytes()
}

/// A stored leaf, parsed back for verification and export.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Leaf {
    /// The appended JSON value.
    pub entry: Value,
    /// Sequence number.
    pub seq: u64,
    /// RFC 3339 UTC time of the append.
    pub time: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_and_drops_space() {
        let v: Value = serde_json::from_str(
            r#"{ "b": [1, 2.5, "x\n"], "a": {"z": null, "é": true, "Z": false} }"#,
        )
        .unwrap();
        assert_eq!(
            canonical_json(&v).unwrap(),
            r#"{"a":{"Z":false,"z":null,"é":true},"b":[1,2.5,"x\n"]}"#
        );
    }

    #[test]
    fn leaf_bytes_are_the_documented_object() {
        let bytes = leaf_bytes(r#"{"a":1}"#, 7, "2026-01-02T03:04:05.000006Z");
        assert_eq!(
            bytes,
            br#"{"entry":{"a":1},"seq":7,"time":"2026-01-02T03:04:05.000006Z"}"#
        );
        let leaf: Leaf = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(leaf.seq, 7);
    }

    #[test]
    fn deep_and_large_entries_are_refused() {
        let mut deep = Value::Null;
        for _ in 0..100 {
            deep = Value::Array(vec![deep]);
        }
        assert!(matches!(
            canonical_json(&deep),
            Err(Error::EntryTooDeep { .. })
        ));
        let large = Value::String("x".repeat(MAX_ENTRY_BYTES + 1));
        assert!(matches!(
            canonical_json(&large),
            Err(Error::EntryTooLarge { .. })
        ));
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_micros(1_700_000_000_123_456);
        assert_eq!(timestamp(t), "2023-11-14T22:13:20.123456Z");
        // Whole seconds keep six digits; nanoseconds are cut, not rounded.
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        assert_eq!(timestamp(t), "2023-11-14T22:13:20.000000Z");
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_nanos(1_700_000_000_999_999_999);
        assert_eq!(timestamp(t), "2023-11-14T22:13:20.999999Z");
        // Far outside the representable years: clamped, never a panic.
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1 << 40);
        assert!(timestamp(t).starts_with("9999-12-"), "{}", timestamp(t));
    }
}
