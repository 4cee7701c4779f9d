//! The OpenAI API shape: where the text lives in requests, responses and stream events,
//! and the error body clients expect.

use serde_json::{Value, json};

use crate::keys::Endpoint;

/// Calls `f` on every prompt text of a request; the flag says whether it is a system (or
/// developer) instruction.
pub fn visit_request_texts(
    endpoint: Endpoint,
    body: &mut Value,
    f: &mut dyn FnMut(&mut String, bool),
) {
    match endpoint {
        Endpoint::Chat => {
            if let Some(messages) = body.get_mut("messages").and_then(Value::as_array_mut) {
                for m in messages {
                    let system = is_system(m);
                    if let Some(c) = m.get_mut("content") {
                        visit_content(c, system, f);
                    }
                }
            }
        }
        Endpoint::Completions => {
            if let Some(p) = body.get_mut("prompt") {
                visit_strings(p, f);
            }
        }
        Endpoint::Embeddings => {
            if let Some(p) = body.get_mut("input") {
                visit_strings(p, f);
            }
        }
        Endpoint::Responses => {
            if let Some(Value::String(s)) = body.get_mut("instructions") {
                f(s, true);
            }
            match body.get_mut("input") {
                Some(Value::String(s)) => f(s, false),
                Some(Value::Array(items)) => {
                    for item in items {
                        let system = is_system(item);
                        if let Some(c) = item.get_mut("content") {
                            visit_content(c, system, f);
                        }
                    }
                }
                _ => {}
            }
        }
        Endpoint::Models => {}
    }
}

/// Calls `f` on every generated text of a complete (not streamed) response.
pub fn visit_response_texts(
    endpoint: Endpoint,
    body: &mut Value,
    f: &mut dyn FnMut(&mut String, bool),
) {
    match endpoint {
        Endpoint::Chat | Endpoint::Completions => {
            if let Some(choices) = body.get_mut("choices").and_then(Value::as_array_mut) {
                for c in choices {
                    if let Some(Value::String(s)) = c.get_mut("text") {
                        f(s, false);
                    }
                    if let Some(m) = c.get_mut("message") {
                        for field in ["content", "refusal"] {
                            if let Some(v) = m.get_mut(field) {
                                visit_content(v, false, f);
                            }
                        }
                    }
                }
            }
        }
        Endpoint::Responses => {
            if let Some(items) = body.get_mut("output").and_then(Value::as_array_mut) {
                for item in items {
                    if let Some(c) = item.get_mut("content") {
                        visit_content(c, false, f);
                    }
                }
            }
        }
        Endpoint::Embeddings | Endpoint::Models => {}
    }
}

/// Calls `f` on the generated text of one streamed event (chat and completion chunks,
/// and the Responses API's `*.delta` and `*.done` text events).
pub fn visit_event_texts(event: &mut Value, f: &mut dyn FnMut(&mut String, bool)) {
    if let Some(choices) = event.get_mut("choices").and_then(Value::as_array_mut) {
        for c in choices {
            if let Some(Value::String(s)) = c.get_mut("text") {
                f(s, false);
            }
            if let Some(d) = c.get_mut("delta") {
                for field in ["content", "refusal"] {
                    if let Some(Value::String(s)) = d.get_mut(field) {
                        f(s, false);
                    }
                }
            }
        }
        return;
    }
    let is_text_delta = event
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.ends_with("_text.delta") || t.ends_with("refusal.delta"));
    if is_text_delta && let Some(Value::String(s)) = event.get_mut("delta") {
        f(s, false);
    }
}

fn is_system(message: &Value) -> bool {
    matches!(
        message.get("role").and_then(Value::as_str),
        Some("system" | "developer")
    )
}

fn visit_content(c: &mut Value, system: bool, f: &mut dyn FnMut(&mut String, bool)) {
    match c {
        Value::String(s) => f(s, system),
        Value::Array(parts) => {
            for p in parts {
                if let Some(Value::String(s)) = p.get_mut("text") {
                    f(s, system);
                }
            }
        }
        _ => {}
    }
}

fn visit_strings(v: &mut Value, f: &mut dyn FnMut(&mut String, bool)) {
    match v {
        Value::String(s) => f(s, false),
        Value::Array(items) => {
            for i in items {
                if let Value::String(s) = i {
                    f(s, false);
                }
            }
        }
        _ => {}
    }
}

/// Token counts reported by the upstream in `usage`, under either API's names.
pub fn usage(body: &Value) -> Option<(u64, u64)> {
    let u = body
        .get("usage")
        .or_else(|| body.get("response").and_then(|r| r.get("usage")))?;
    let input = u
        .get("prompt_tokens")
        .or_else(|| u.get("input_tokens"))
        .and_then(Value::as_u64)?;
    let output = u
        .get("completion_tokens")
        .or_else(|| u.get("output_tokens"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    Some((input, output))
}

/// An OpenAI-style error body: `{"error":{"message","type","param","code"}}`.
pub fn error_body(message: &str, kind: &str, code: &str) -> Vec<u8> {
    let v = json!({"error": {"message": message, "type": kind, "param": null, "code": code}});
    serde_json::to_vec(&v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(endpoint: Endpoint, v: &mut Value, request: bool) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        let mut f = |s: &mut String, sys: bool| out.push((s.clone(), sys));
        if request {
            visit_request_texts(endpoint, v, &mut f);
        } else {
            visit_response_texts(endpoint, v, &mut f);
        }
        out
    }

    #[test]
    fn request_texts_are_found_in_every_endpoint() {
        let mut chat = json!({"messages":[{"role":"system","content":"S"},{"role":"user","content":[{"type":"text","text":"U"}]}]});
        assert_eq!(
            texts(Endpoint::Chat, &mut chat, true),
            vec![("S".into(), true), ("U".into(), false)]
        );
        let mut comp = json!({"prompt":["a","b"]});
        assert_eq!(texts(Endpoint::Completions, &mut comp, true).len(), 2);
        let mut emb = json!({"input":"e"});
        assert_eq!(
            texts(Endpoint::Embeddings, &mut emb, true),
            vec![("e".into(), false)]
        );
        let mut resp = json!({"instructions":"I","input":[{"role":"user","content":[{"type":"input_text","text":"x"}]}]});
        assert_eq!(
            texts(Endpoint::Responses, &mut resp, true),
            vec![("I".into(), true), ("x".into(), false)]
        );
    }

    #[test]
    fn response_and_event_texts_are_found() {
        let mut chat = json!({"choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":3,"completion_tokens":1}});
        assert_eq!(
            texts(Endpoint::Chat, &mut chat, false),
            vec![("hi".into(), false)]
        );
        assert_eq!(usage(&chat), Some((3, 1)));
        let mut out = Vec::new();
        let mut ev = json!({"type":"response.output_text.delta","delta":"d"});
        visit_event_texts(&mut ev, &mut |s, _| out.push(s.clone()));
        let mut ev = json!({"choices":[{"delta":{"content":"c"}}]});
        visit_event_texts(&mut ev, &mut |s, _| out.push(s.clone()));
        assert_eq!(out, vec!["d", "c"]);
    }
}
