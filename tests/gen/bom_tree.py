#!/usr/bin/env python3
"""A project tree for `ward bom`, written by the real libraries.

Usage: bom_tree.py OUTDIR

Writes OUTDIR/project/ (models, datasets, prompts, lock files, a Hugging Face cache and an
Ollama store) and OUTDIR/expected.json, which lists every asset file with the SHA-256
Python's hashlib computes for it and the metadata each model must show, so the Rust tests
compare ward's BOM with an independent reading.

Everything is benign except `models/unsafe/evil.pkl`, a pickle that would call
`os.system` with a harmless `echo`, built from bytes (it is never loaded).
"""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import gguf
import joblib
import onnx
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import save_file
from sklearn.linear_model import LogisticRegression

HERE = Path(__file__).resolve().parent
TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n"
    "{{ message['content'] }}{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
REVISION = "3f1a9c0d5e7b2a4c6e8f0a1b3c5d7e9f1a2b3c4d"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def hf_model(root: Path, expected: dict) -> None:
    """A Hugging Face style model folder: two safetensors shards and an index, config,
    card, tokenizer config with a chat template."""
    d = root / "models" / "tiny-llama"
    d.mkdir(parents=True)
    rng = np.random.default_rng(7)
    shard1 = {"model.embed_tokens.weight": rng.standard_normal((32, 8)).astype(np.float16),
              "model.norm.weight": np.ones(8, dtype=np.float32)}
    shard2 = {"lm_head.weight": rng.standard_normal((32, 8)).astype(np.float16)}
    save_file(shard1, str(d / "model-00001-of-00002.safetensors"), metadata={"format": "pt"})
    save_file(shard2, str(d / "model-00002-of-00002.safetensors"), metadata={"format": "pt"})
    weight_map = {k: "model-00001-of-00002.safetensors" for k in shard1}
    weight_map.update({k: "model-00002-of-00002.safetensors" for k in shard2})
    write(d / "model.safetensors.index.json", json.dumps({"metadata": {"total_size": 1056}, "weight_map": weight_map}))
    write(d / "config.json", json.dumps({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "max_position_embeddings": 2048, "hidden_size": 8, "vocab_size": 32,
    }))
    write(d / "tokenizer_config.json", json.dumps({"chat_template": TEMPLATE, "bos_token": "<s>"}))
    write(d / "README.md", "---\nlicense: apache-2.0\nlanguage:\n- en\n- fr\ndatasets:\n- hf_dataset\n"
          "- example-org/instructions\nbase_model: meta-llama/Llama-3.2-1B\npipeline_tag: text-generation\n"
          "tags:\n- ward-fixture\n---\n# tiny-llama\n\nA test model.\n")
    params = sum(int(np.prod(a.shape)) for a in list(shard1.values()) + list(shard2.values()))
    expected["models"]["model:models/tiny-llama"] = {
        "files": sorted(str(p.relative_to(root)) for p in d.iterdir()),
        "parameters": params,
        "tensors": 3,
        "architecture_family": "llama",
        "architectures": "LlamaForCausalLM",
        "context_length": 2048,
        "license": "Apache-2.0",
        "task": "text-generation",
        "languages": "en,fr",
        "chat_template_sha256": hashlib.sha256(TEMPLATE.encode()).hexdigest(),
        "trained_on": ["dataset:data/hf_dataset", "external:dataset:example-org/instructions"],
        "derived_from": ["external:model:meta-llama/Llama-3.2-1B"],
        "verdict": "clean",
    }
    expected["prompts"]["prompt:models/tiny-llama/tokenizer_config.json#chat_template"] = \
        hashlib.sha256(TEMPLATE.encode()).hexdigest()


def gguf_model(path: Path, expected: dict, key: str, root: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("tiny")
    w.add_context_length(4096)
    w.add_file_type(15)  # MOSTLY_Q4_K_M
    w.add_license("mit")
    w.add_uint32("general.base_model.count", 1)
    w.add_string("general.base_model.0.name", "TinyLlama/TinyLlama-1.1B-Chat-v1.0")
    w.add_chat_template(TEMPLATE)
    w.add_tensor("token_embd.weight", np.ones((16, 4), dtype=np.float32))
    w.add_tensor("output.weight", np.ones((16, 4), dtype=np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    if key:
        expected["models"][key] = {
            "files": [str(path.relative_to(root))],
            "parameters": 128,
            "tensors": 2,
            "architecture_family": "llama",
            "context_length": 4096,
            "quantization": "Q4_K_M",
            "license": "MIT",
            "chat_template_sha256": hashlib.sha256(TEMPLATE.encode()).hexdigest(),
            "derived_from": ["external:model:TinyLlama/TinyLlama-1.1B-Chat-v1.0"],
            "verdict": "clean",
        }


def onnx_model(root: Path, expected: dict) -> None:
    d = root / "models" / "onnx"
    d.mkdir(parents=True)
    w = numpy_helper.from_array(np.ones((4, 3), dtype=np.float32), name="W")
    node = helper.make_node("MatMul", ["x", "W"], ["y"])
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
        [w],
    )
    model = helper.make_model(graph, producer_name="ward-bom-test", opset_imports=[helper.make_opsetid("", 17)])
    onnx.save_model(model, str(d / "model.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
    expected["models"]["model:models/onnx/model.onnx"] = {
        "files": ["models/onnx/model.onnx", "models/onnx/weights.bin"],
        "opsets": "ai.onnx=17",
        "producer": "ward-bom-test",
        "inputs": ["x: float[batch, 4]"],
        "outputs": ["y: float[batch, 3]"],
        "verdict": "clean",
    }


def joblib_model(root: Path, expected: dict) -> None:
    d = root / "models" / "sklearn"
    d.mkdir(parents=True)
    clf = LogisticRegression().fit(np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1]))
    joblib.dump(clf, d / "classifier.joblib")
    expected["models"]["model:models/sklearn/classifier.joblib"] = {
        "files": ["models/sklearn/classifier.joblib"], "verdict": "clean",
    }


def evil_pickle(root: Path, expected: dict) -> None:
    # protocol 2: PROTO 2, GLOBAL 'os system', SHORT_BINUNICODE 'echo ward-fixture',
    # TUPLE1, REDUCE, STOP. Never loaded: ward must report it.
    payload = b"echo ward-fixture"
    data = (b"\x80\x02" + b"cos\nsystem\n" + b"\x8c" + bytes([len(payload)]) + payload
            + b"\x85" + b"R" + b".")
    p = root / "models" / "unsafe" / "evil.pkl"
    p.parent.mkdir(parents=True)
    p.write_bytes(data)
    expected["models"]["model:models/unsafe/evil.pkl"] = {
        "files": ["models/unsafe/evil.pkl"], "verdict": "findings",
    }


def datasets(root: Path, expected: dict) -> None:
    d = root / "data"
    subprocess.run([sys.executable, str(HERE / "bom_data.py"), str(d)], check=True)
    for p in sorted(d.rglob("*")):
        if not p.is_file():
            continue
        rel = str(p.relative_to(root))
        if rel.startswith("data/hf_dataset/"):
            expected["dataset_files"].setdefault("dataset:data/hf_dataset", []).append(rel)
        elif p.suffix in (".parquet", ".arrow", ".csv", ".tsv", ".jsonl", ".tfrecord"):
            expected["dataset_files"][f"dataset:{rel}"] = [rel]


def prompts(root: Path, expected: dict) -> None:
    system = write(root / "prompts" / "system.txt", "You are a careful assistant. Never reveal secrets.\n")
    summarize = write(root / "prompts" / "summarize.prompt", "Summarize the following text:\n{{ text }}\n")
    config = root / "app" / "config.yaml"
    write(config, "service:\n  name: helpdesk\n  system_prompt: \"You answer billing questions only.\"\n")
    agent = root / "app" / "agent.json"
    write(agent, json.dumps({"messages": [{"role": "system", "content": "Be brief."}]}))
    expected["prompts"]["prompt:prompts/system.txt"] = sha256(system)
    expected["prompts"]["prompt:prompts/summarize.prompt"] = sha256(summarize)
    expected["prompts"]["prompt:app/config.yaml#service.system_prompt"] = \
        hashlib.sha256(b"You answer billing questions only.").hexdigest()
    expected["prompts"]["prompt:app/agent.json#messages[0].content"] = hashlib.sha256(b"Be brief.").hexdigest()


LOCKS = {
    "Cargo.lock": """# This file is automatically @generated by Cargo.
version = 4

[[package]]
name = "app"
version = "0.1.0"
dependencies = ["serde"]

[[package]]
name = "serde"
version = "1.0.219"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "5f0e2c6ed6606019b4e29e69dbaba95b11854410e5347d525002456dbbb786b6"
""",
    "requirements.txt": "numpy==2.4.6 \\\n    --hash=sha256:0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0\nrequests>=2.31\n",
    "package-lock.json": json.dumps({
        "name": "ui", "version": "1.0.0", "lockfileVersion": 3, "requires": True,
        "packages": {
            "": {"name": "ui", "version": "1.0.0"},
            "node_modules/@types/node": {"version": "22.10.1", "resolved": "https://registry.npmjs.org/@types/node/-/node-22.10.1.tgz",
                                         "integrity": "sha512-qKgsUwfHZV2WCWLAnVP1JqnpE6Im6h3Y0+fYgMTasNQ7V++CBX5OT1as0g0f+OyubbFqhf6XVNIsmN4IIhEgGQ==", "dev": True},
            "node_modules/left-pad": {"version": "1.3.0", "integrity": "sha512-XI5MPzVNApjAyhQzphX8BkmKsKUxD4LdyK24iZeQ9wX+x5NPHJKqrPnQ7r0rjbmDMA4ZJ8yk+6ES2AGDFfnHzA=="},
        },
    }, indent=2),
}


def locks(root: Path, expected: dict) -> None:
    for name, text in LOCKS.items():
        write(root / name, text)
    expected["libraries"] = [
        "pkg:cargo/serde@1.0.219", "pkg:pypi/numpy@2.4.6", "pkg:pypi/requests",
        "pkg:npm/%40types/node@22.10.1", "pkg:npm/left-pad@1.3.0",
    ]


def hf_cache(root: Path, expected: dict) -> None:
    """The layout `huggingface_hub` writes: blobs named by their digest, snapshot files
    as relative links to them."""
    repo = root / "hf-cache" / "hub" / "models--example-org--tiny-bert"
    blobs = repo / "blobs"
    snap = repo / "snapshots" / REVISION
    blobs.mkdir(parents=True)
    snap.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(REVISION)
    tmp = root / "tmp-weights.safetensors"
    save_file({"w": np.arange(12, dtype=np.float32).reshape(3, 4)}, str(tmp))
    files = {
        "model.safetensors": tmp.read_bytes(),
        "config.json": json.dumps({"architectures": ["BertModel"], "model_type": "bert",
                                   "max_position_embeddings": 512}).encode(),
    }
    tmp.unlink()
    for name, data in files.items():
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        os.symlink(f"../../blobs/{digest}", snap / name)
    snap_rel = str(snap.relative_to(root))
    expected["models"][f"model:{snap_rel}"] = {
        "files": sorted(f"{snap_rel}/{n}" for n in files),
        "name": "example-org/tiny-bert",
        "version": REVISION,
        "purl": f"pkg:huggingface/example-org/tiny-bert@{REVISION}",
        "architecture_family": "bert",
        "parameters": 12,
        "verdict": "clean",
    }


def ollama_store(root: Path, expected: dict) -> None:
    store = root / "ollama" / "models"
    blobs = store / "blobs"
    blobs.mkdir(parents=True)
    gguf_path = root / "tmp.gguf"
    gguf_model(gguf_path, expected, "", root)
    layers = []

    def blob(data: bytes, media: str) -> str:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / f"sha256-{digest}").write_bytes(data)
        layers.append({"mediaType": media, "digest": f"sha256:{digest}", "size": len(data)})
        return digest

    model_digest = blob(gguf_path.read_bytes(), "application/vnd.ollama.image.model")
    gguf_path.unlink()
    template = b"{{ .System }}\n{{ .Prompt }}"
    blob(template, "application/vnd.ollama.image.template")
    blob(b"You are Tiny.", "application/vnd.ollama.image.system")
    blob(b'{"temperature":0.2}', "application/vnd.ollama.image.params")
    config = json.dumps({"model_format": "gguf", "model_family": "llama"}).encode()
    config_digest = hashlib.sha256(config).hexdigest()
    (blobs / f"sha256-{config_digest}").write_bytes(config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "digest": f"sha256:{config_digest}", "size": len(config)},
        "layers": layers,
    }
    mpath = store / "manifests" / "registry.ollama.ai" / "library" / "tiny" / "latest"
    write(mpath, json.dumps(manifest))
    rel = str(mpath.relative_to(root))
    expected["models"][f"model:{rel}"] = {
        "name": "tiny",
        "version": "latest",
        "files": sorted([rel] + [f"ollama/models/blobs/sha256-{l['digest'][7:]}" for l in layers]
                        + [f"ollama/models/blobs/sha256-{config_digest}"]),
        "quantization": "Q4_K_M",
        "verdict": "clean",
    }
    expected["prompts"][f"prompt:ollama/models/blobs/sha256-{hashlib.sha256(template).hexdigest()}"] = \
        hashlib.sha256(template).hexdigest()
    del model_digest


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: bom_tree.py OUTDIR")
    out = Path(sys.argv[1])
    root = out / "project"
    root.mkdir(parents=True)
    expected = {"models": {}, "prompts": {}, "dataset_files": {}, "libraries": [], "sha256": {}}
    hf_model(root, expected)
    gguf_model(root / "models" / "gguf" / "tiny-q4.gguf", expected, "model:models/gguf/tiny-q4.gguf", root)
    onnx_model(root, expected)
    joblib_model(root, expected)
    evil_pickle(root, expected)
    datasets(root, expected)
    prompts(root, expected)
    locks(root, expected)
    hf_cache(root, expected)
    ollama_store(root, expected)
    # Every file's SHA-256, as Python computes it, following links as a reader would.
    for p in sorted(root.rglob("*")):
        if p.is_file():
            expected["sha256"][str(p.relative_to(root))] = sha256(p)
    (out / "expected.json").write_text(json.dumps(expected, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
