//! Fixtures for safetensors, GGUF (with chat templates) and model folders, built from bytes.
//!
//! Every malformed file breaks exactly one rule so that each finding code is exercised on
//! its own. The malicious chat templates are the published sandbox-escape styles
//! (CVE-2024-34359 and its successors) with a harmless payload: they would run
//! `echo ward-fixture` if a non-sandboxed renderer ever rendered them. Benign files from the
//! real `safetensors`, `gguf` and `numpy` libraries are made by `tests/gen/benign_tensors.py`.

use crate::Fixture;

/// GGUF metadata value types used here.
const T_UINT32: u32 = 4;
const T_STRING: u32 = 8;
/// A ggml type id that was removed from the format (`Q4_2`).
const REMOVED_GGML_TYPE: u32 = 4;
const F32: u32 = 0;

/// The ChatML template, as models using it publish it.
const CHATML: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/// Sandbox-escape templates, one per published style, with the codes each must raise.
const ESCAPES: &[(&str, &str, &[&str])] = &[
    (
        "cycler-globals-popen",
        "{{ cycler.__init__.__globals__.os.popen('echo ward-fixture').read() }}",
        &["gguf-chat-template-escape"],
    ),
    (
        "mro-subclasses",
        "{% for m in messages %}{{ m.content }}{% endfor %}{{ ''.__class__.__mro__[1].__subclasses__() }}",
        &["gguf-chat-template-escape"],
    ),
    (
        "self-template-reference",
        "{{ self._TemplateReference__context.cycler.__init__.__globals__.os.popen('echo ward-fixture').read() }}",
        &["gguf-chat-template-escape"],
    ),
    (
        "attr-filter-hex-escapes",
        "{{ ()|attr('\\x5f\\x5fclass\\x5f\\x5f')|attr('\\x5f\\x5fbase\\x5f\\x5f') }}",
        &["gguf-chat-template-escape"],
    ),
    (
        "subscript-concatenation",
        "{{ joiner['__in' ~ 'it__']['__glo' + 'bals__']['o' ~ 's'].popen('echo ward-fixture').read() }}",
        &["gguf-chat-template-escape"],
    ),
    (
        "namespace-in-chatml",
        "{% set ns = namespace.__init__.__globals__ %}{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n'}}{% endfor %}",
        &["gguf-chat-template-escape"],
    ),
    (
        "joined-list-then-attr",
        "{% set n = ['__cla', 'ss__']|join %}{{ ''|attr(n) }}",
        &["gguf-chat-template-escape", "gguf-chat-template-suspicious"],
    ),
    (
        "underscores-multiplied",
        "{{ range|attr('_' * 2 ~ 'globals' ~ '_' * 2) }}",
        &["gguf-chat-template-escape"],
    ),
];

/// A minimal GGUF v3 writer.
struct Gguf {
    out: Vec<u8>,
}

impl Gguf {
    fn new(version: u32, tensors: u64, kvs: u64) -> Self {
        let mut out = b"GGUF".to_vec();
        out.extend_from_slice(&version.to_le_bytes());
        out.extend_from_slice(&tensors.to_le_bytes());
        out.extend_from_slice(&kvs.to_le_bytes());
        Self { out }
    }

    fn u32(mut self, v: u32) -> Self {
        self.out.extend_from_slice(&v.to_le_bytes());
        self
    }

    fn u64(mut self, v: u64) -> Self {
        self.out.extend_from_slice(&v.to_le_bytes());
        self
    }

    fn str(self, s: &str) -> Self {
        let mut this = self.u64(s.len() as u64);
        this.out.extend_from_slice(s.as_bytes());
        this
    }

    fn kv_str(self, key: &str, value: &str) -> Self {
        self.str(key).u32(T_STRING).str(value)
    }

    fn tensor(self, name: &str, dims: &[u64], ggml_type: u32, offset: u64) -> Self {
        let mut this = self.str(name).u32(dims.len() as u32);
        for d in dims {
            this = this.u64(*d);
        }
        this.u32(ggml_type).u64(offset)
    }

    /// Pads to the default alignment and appends `data` zero bytes of tensor data.
    fn data(mut self, data: usize) -> Vec<u8> {
        let len = self.out.len().next_multiple_of(32);
        self.out.resize(len + data, 0);
        self.out
    }

    fn bytes(self) -> Vec<u8> {
        self.out
    }
}

/// A safetensors file from a header (padded with spaces to 8 bytes, as the library does)
/// and `data` zero bytes.
fn safetensors(header: &str, data: usize) -> Vec<u8> {
    let mut json = header.as_bytes().to_vec();
    json.resize(json.len().next_multiple_of(8), b' ');
    let mut out = (json.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&json);
    out.resize(out.len() + data, 0);
    out
}

/// A well-formed GGUF with one tensor and `template` as its chat template.
fn gguf_with_template(key: &str, template: &str) -> Vec<u8> {
    Gguf::new(3, 1, 2)
        .kv_str("general.architecture", "llama")
        .kv_str(key, template)
        .tensor("token_embd.weight", &[8], F32, 0)
        .data(32)
}

fn st(name: &str, header: &str, data: usize, expect: &[&'static str]) -> Fixture {
    Fixture::file(
        format!("tensors/safetensors/{name}.safetensors"),
        safetensors(header, data),
        expect,
    )
}

fn gguf(name: &str, bytes: Vec<u8>, expect: &[&'static str]) -> Fixture {
    Fixture::file(format!("tensors/gguf/{name}.gguf"), bytes, expect)
}

fn text(name: &str, body: &str) -> (String, Vec<u8>) {
    (name.to_owned(), body.as_bytes().to_vec())
}

/// Every tensor-format and model-folder fixture.
pub fn fixtures() -> Vec<Fixture> {
    let f32x2 = |name: &str, begin: u64| {
        format!(
            r#""{name}":{{"dtype":"F32","shape":[2],"data_offsets":[{begin},{}]}}"#,
            begin + 8
        )
    };
    let mut all = vec![
        st(
            "valid",
            &format!(r#"{{"__metadata__":{{"format":"pt"}},{}}}"#, f32x2("w", 0)),
            8,
            &[],
        ),
        st(
            "duplicate-key",
            &format!("{{{},{}}}", f32x2("w", 0), f32x2("w", 0)),
            8,
            &["safetensors-duplicate-key"],
        ),
        st(
            "trailing-data",
            &format!("{{{}}} xx", f32x2("w", 0)),
            8,
            &["safetensors-trailing-data"],
        ),
        st(
            "nan",
            r#"{"__metadata__":{"scale":NaN}}"#,
            0,
            &["safetensors-invalid-json"],
        ),
        st(
            "bad-entry",
            r#"{"w":{"dtype":"F32","shape":"2","data_offsets":[0,0]}}"#,
            0,
            &["safetensors-bad-tensor-entry"],
        ),
        st(
            "unknown-dtype",
            r#"{"w":{"dtype":"Q9","shape":[1],"data_offsets":[0,1]}}"#,
            1,
            &["safetensors-unknown-dtype"],
        ),
        st(
            "size-mismatch",
            r#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#,
            8,
            &["safetensors-size-mismatch"],
        ),
        st(
            "overlap",
            &format!("{{{},{}}}", f32x2("a", 0), f32x2("b", 4)),
            12,
            &["safetensors-overlapping-tensors"],
        ),
        st(
            "hidden-bytes",
            &format!("{{{}}}", f32x2("w", 0)),
            24,
            &["safetensors-uncovered-data"],
        ),
        st(
            "offsets-out-of-bounds",
            &format!("{{{}}}", f32x2("w", 0)),
            4,
            &["safetensors-offsets-out-of-bounds"],
        ),
        st(
            "bad-metadata",
            r#"{"__metadata__":{"epochs":3}}"#,
            0,
            &["safetensors-bad-metadata"],
        ),
        gguf(
            "valid",
            Gguf::new(3, 2, 3)
                .kv_str("general.architecture", "llama")
                .str("llama.context_length")
                .u32(T_UINT32)
                .u32(4096)
                .kv_str("tokenizer.chat_template", CHATML)
                .tensor("a", &[8], F32, 0)
                .tensor("b", &[64], 8, 32)
                .data(32 + 68),
            &[],
        ),
        gguf(
            "v1",
            Gguf::new(1, 0, 0).bytes(),
            &["gguf-unsupported-version"],
        ),
        gguf(
            "count-larger-than-file",
            Gguf::new(3, 1 << 40, 0).data(64),
            &["gguf-count-exceeds-file"],
        ),
        gguf(
            "string-length-overflow",
            Gguf::new(3, 0, 1).u64(u64::MAX - 3).u32(T_STRING).data(64),
            &["gguf-length-exceeds-file"],
        ),
        gguf(
            "unknown-value-type",
            Gguf::new(3, 0, 1)
                .str("general.name")
                .u32(99)
                .u64(0)
                .data(32),
            &["gguf-unknown-value-type"],
        ),
        gguf(
            "bad-alignment",
            Gguf::new(3, 0, 1)
                .str("general.alignment")
                .u32(T_UINT32)
                .u32(33)
                .data(0),
            &["gguf-bad-alignment"],
        ),
        gguf(
            "misaligned-tensor",
            Gguf::new(3, 1, 0).tensor("a", &[8], F32, 8).data(64),
            &["gguf-bad-alignment"],
        ),
        gguf(
            "overlapping-tensors",
            Gguf::new(3, 2, 0)
                .tensor("a", &[8], F32, 0)
                .tensor("b", &[8], F32, 0)
                .data(32),
            &["gguf-overlapping-tensors"],
        ),
        gguf(
            "tensor-out-of-bounds",
            Gguf::new(3, 1, 0).tensor("a", &[1 << 20], F32, 0).data(64),
            &["gguf-tensor-out-of-bounds"],
        ),
        gguf(
            "unknown-tensor-type",
            Gguf::new(3, 1, 0)
                .tensor("a", &[32], REMOVED_GGML_TYPE, 0)
                .data(64),
            &["gguf-unknown-tensor-type"],
        ),
        gguf(
            "too-many-dims",
            Gguf::new(3, 1, 0)
                .tensor("a", &[1, 1, 1, 1, 1], F32, 0)
                .data(32),
            &["gguf-bad-tensor-info"],
        ),
        gguf(
            "duplicate-key",
            Gguf::new(3, 0, 2)
                .kv_str("general.name", "a")
                .kv_str("general.name", "b")
                .data(0),
            &["gguf-duplicate-name"],
        ),
        gguf(
            "truncated",
            Gguf::new(3, 0, 1).str("general.name").bytes(),
            &["gguf-truncated"],
        ),
        gguf(
            "template-unparseable",
            gguf_with_template(
                "tokenizer.chat_template",
                "{% for m in messages %}{{ m.content }}",
            ),
            &["gguf-chat-template-unparseable"],
        ),
        gguf(
            "template-include",
            gguf_with_template(
                "tokenizer.chat_template",
                "{% include 'system.j2' %}{{ messages[0]['content'] }}",
            ),
            &["gguf-chat-template-suspicious"],
        ),
        gguf(
            "template-lipsum-named",
            gguf_with_template(
                "tokenizer.chat_template.tool_use",
                "{{ lipsum.__globals__['os'].popen('echo ward-fixture').read() }}",
            ),
            &["gguf-chat-template-escape"],
        ),
    ];
    // Header lengths that lie: past the end of the file, and past the header limit.
    for (name, claimed, code) in [
        (
            "header-out-of-bounds",
            1000u64,
            "safetensors-header-out-of-bounds",
        ),
        (
            "header-too-large",
            200 << 20,
            "safetensors-header-too-large",
        ),
    ] {
        let mut bytes = claimed.to_le_bytes().to_vec();
        bytes.extend_from_slice(br#"{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#);
        all.push(Fixture::file(
            format!("tensors/safetensors/{name}.safetensors"),
            bytes,
            &[code],
        ));
    }
    for (name, template, expect) in ESCAPES {
        all.push(gguf(
            &format!("template-{name}"),
            gguf_with_template("tokenizer.chat_template", template),
            expect,
        ));
    }

    let weights = safetensors(&format!("{{{}}}", f32x2("w", 0)), 8);
    let clean_config =
        r#"{"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":8}"#;
    all.extend([
        Fixture::tree(
            "tensors/folders/clean",
            vec![
                text("config.json", clean_config),
                text("tokenizer.json", r#"{"version":"1.0","model":{"type":"BPE","vocab":{}}}"#),
                text("tokenizer_config.json", &format!(r#"{{"tokenizer_class":"LlamaTokenizer","chat_template":{}}}"#, json_string(CHATML))),
                ("model.safetensors".into(), weights.clone()),
            ],
            &[],
        ),
        Fixture::tree(
            "tensors/folders/auto-map",
            vec![
                text("config.json", r#"{"model_type":"custom","auto_map":{"AutoModelForCausalLM":"modeling_custom.CustomModel"}}"#),
                text("modeling_custom.py", "import os\n\nclass CustomModel:\n    def __init__(self):\n        os.system('echo ward-fixture')\n"),
                ("model.safetensors".into(), weights.clone()),
            ],
            &["hf-remote-code"],
        ),
        Fixture::tree(
            "tensors/folders/python-beside-weights",
            vec![
                text("config.json", clean_config),
                text("helpers.py", "print('ward-fixture')\n"),
                ("model.safetensors".into(), weights.clone()),
            ],
            &["hf-remote-code"],
        ),
        Fixture::tree(
            "tensors/folders/custom-tokenizer",
            vec![
                text("config.json", clean_config),
                text(
                    "tokenizer_config.json",
                    r#"{"tokenizer_class":"FixtureTokenizer","auto_map":{"AutoTokenizer":["tokenization_fixture.FixtureTokenizer",null]}}"#,
                ),
                text("tokenization_fixture.py", "class FixtureTokenizer:\n    pass\n"),
                ("model.safetensors".into(), weights.clone()),
            ],
            &["hf-remote-code"],
        ),
        Fixture::tree(
            "tensors/folders/template-escape",
            vec![
                text("config.json", clean_config),
                text(
                    "tokenizer_config.json",
                    &format!(r#"{{"chat_template":{}}}"#, json_string("{{ cycler.__init__.__globals__.os.popen('echo ward-fixture').read() }}")),
                ),
                ("model.safetensors".into(), weights),
            ],
            &["hf-chat-template-escape"],
        ),
        // A cache-shaped tree whose weight file is named `.bin` but holds a GGUF with a
        // malicious template: detection is by content, whatever the name.
        Fixture::tree(
            "tensors/folders/hub-cache",
            vec![
                text("hub/models--org--name/refs/main", "0123abcd"),
                text("hub/models--org--name/snapshots/0123abcd/config.json", clean_config),
                (
                    "hub/models--org--name/snapshots/0123abcd/pytorch_model.bin".into(),
                    gguf_with_template("tokenizer.chat_template", "{{ self.__init__.__globals__.__builtins__ }}"),
                ),
            ],
            &["gguf-chat-template-escape"],
        ),
    ]);
    all
}

/// A JSON string literal for `s` (quotes and backslashes escaped, newlines as `\n`).
fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
