#!/usr/bin/env python3
"""Benign safetensors, GGUF and model-folder fixtures, written by the real libraries.

Usage: benign_tensors.py OUTDIR

Everything written under OUTDIR/tensors/ must scan clean with `ward scan`:

- safetensors files of every dtype numpy can produce, written by `safetensors.numpy`;
- GGUF files written by the `gguf` package (the writer `llama.cpp`'s converters use), each
  embedding one real chat template, plus one with named templates;
- a Hugging Face style model folder (config.json without `auto_map`, tokenizer files, a
  real chat template, safetensors weights).

The chat templates are the real ones published with popular models. They are not copied
into this repository: they come from the `llama-cpp-python` source distribution on PyPI,
which vendors `llama.cpp`'s `models/templates/` and defines further templates (ChatML,
Mistral, Mixtral, Llama 3) in `llama_cpp/llama_chat_format.py`. The archive is downloaded
once with pip into a cache inside the virtual environment, and read without building,
importing or extracting it to disk.
"""

import ast
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import gguf
from safetensors.numpy import save_file

# The source distribution that carries the templates, pinned so that runs are reproducible.
TEMPLATES_SDIST = "llama-cpp-python==0.3.36"
TEMPLATES_DIR = "/vendor/llama.cpp/models/templates/"
CHAT_FORMAT_PY = "/llama_cpp/llama_chat_format.py"
# Templates must cover at least these families; a missing one fails the generator loudly.
REQUIRED = [
    "Llama-3", "Mistral", "Qwen", "gemma", "Phi-3", "DeepSeek", "command-r",
    "CHATML", "MIXTRAL",
]


def sdist_path() -> Path:
    cache = Path(sys.prefix) / "ward-cache" / "sdist"
    found = sorted(cache.glob("llama_cpp_python-*.tar.gz"))
    if found:
        return found[-1]
    cache.mkdir(parents=True, exist_ok=True)
    # Only the source archive is wanted; `--no-deps` keeps pip from resolving the
    # package's own dependencies.
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
         "--no-deps", "--no-binary", "llama-cpp-python", TEMPLATES_SDIST, "-d", str(cache)],
        check=True,
    )
    found = sorted(cache.glob("llama_cpp_python-*.tar.gz"))
    if not found:
        sys.exit(f"benign_tensors: pip did not leave an sdist of {TEMPLATES_SDIST} in {cache}")
    return found[-1]


def real_templates() -> dict[str, str]:
    """Template name -> text, read from the sdist in memory."""
    templates: dict[str, str] = {}
    with tarfile.open(sdist_path(), "r:gz") as tar:
        for member in tar:
            if not member.isfile():
                continue
            name = member.name
            data = None
            if TEMPLATES_DIR in name and name.endswith(".jinja"):
                data = tar.extractfile(member).read().decode("utf-8")
                templates[Path(name).stem] = data
            elif name.endswith(CHAT_FORMAT_PY):
                source = tar.extractfile(member).read().decode("utf-8")
                for node in ast.parse(source).body:
                    if (isinstance(node, ast.Assign) and len(node.targets) == 1
                            and isinstance(node.targets[0], ast.Name)
                            and node.targets[0].id.endswith("_CHAT_TEMPLATE")
                            and isinstance(node.value, ast.Constant)
                            and isinstance(node.value.value, str)):
                        templates[node.targets[0].id] = node.value.value
    lowered = " ".join(templates).lower()
    missing = [family for family in REQUIRED if family.lower() not in lowered]
    if len(templates) < 20 or missing:
        sys.exit(f"benign_tensors: expected real chat templates, got {len(templates)}; missing {missing}")
    return templates


def write_safetensors(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    dtypes = [np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64,
              np.uint8, np.uint16, np.uint32, np.uint64, np.bool_]
    for dtype in dtypes:
        name = np.dtype(dtype).name
        tensors = {
            "weight": (rng.standard_normal((4, 3)) * 10).astype(dtype),
            "bias": (rng.standard_normal(3) * 10).astype(dtype),
            "scalar": np.array(1, dtype=dtype),
            "empty": np.zeros((0, 3), dtype=dtype),
        }
        save_file(tensors, str(out / f"{name}.safetensors"), metadata={"format": "np", "dtype": name})
    mixed = {f"layers.{i}.weight": rng.standard_normal((8, 8)).astype(np.float32) for i in range(6)}
    mixed["embed.weight"] = rng.standard_normal((16, 8)).astype(np.float16)
    save_file(mixed, str(out / "mixed.safetensors"))


def write_gguf(path: Path, template, arch: str = "llama") -> None:
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_name("ward benign fixture")
    writer.add_license("apache-2.0")
    writer.add_context_length(4096)
    writer.add_embedding_length(32)
    writer.add_block_count(1)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    writer.add_base_model_count(1)
    writer.add_base_model_name(0, "fixture base")
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list(["<s>", "</s>", "hello", "world"])
    writer.add_token_scores([0.0, 0.0, -1.0, -2.0])
    writer.add_chat_template(template)
    rng = np.random.default_rng(3)
    writer.add_tensor("token_embd.weight", rng.standard_normal((4, 32)).astype(np.float32))
    writer.add_tensor("output_norm.weight", np.ones(32, dtype=np.float16))
    q8 = gguf.quants.quantize(rng.standard_normal((2, 64)).astype(np.float32), gguf.GGMLQuantizationType.Q8_0)
    writer.add_tensor("blk.0.attn_q.weight", q8, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def write_folder(out: Path, template: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    config = {
        "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 8,
        "num_hidden_layers": 1, "vocab_size": 4, "torch_dtype": "float32",
    }
    (out / "config.json").write_text(json.dumps(config, indent=2))
    (out / "generation_config.json").write_text(json.dumps({"bos_token_id": 0, "eos_token_id": 1}))
    tokenizer = {"version": "1.0", "model": {"type": "BPE", "vocab": {"<s>": 0, "</s>": 1, "a": 2, "b": 3}, "merges": []}}
    (out / "tokenizer.json").write_text(json.dumps(tokenizer))
    (out / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "Qwen2Tokenizer", "model_max_length": 4096, "chat_template": template}, indent=2))
    (out / "special_tokens_map.json").write_text(json.dumps({"bos_token": "<s>", "eos_token": "</s>"}))
    (out / "chat_template.jinja").write_text(template)
    (out / "README.md").write_text("# fixture\n\nA benign model folder.\n")
    rng = np.random.default_rng(5)
    save_file({"model.embed_tokens.weight": rng.standard_normal((4, 8)).astype(np.float32)},
              str(out / "model.safetensors"), metadata={"format": "pt"})


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: benign_tensors.py OUTDIR")
    root = Path(sys.argv[1]) / "tensors"
    write_safetensors(root / "safetensors")
    templates = real_templates()
    gguf_dir = root / "gguf"
    gguf_dir.mkdir(parents=True, exist_ok=True)
    for name, text in sorted(templates.items()):
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        write_gguf(gguf_dir / f"{safe}.gguf", text)
    named = sorted(templates)
    write_gguf(gguf_dir / "named-templates.gguf", [
        {"name": "default", "template": templates[named[0]]},
        {"name": "tool_use", "template": templates[named[1]]},
    ])
    qwen = next(text for name, text in sorted(templates.items()) if "Qwen2.5" in name)
    write_folder(root / "hf-folder", qwen)
    print(f"benign_tensors: wrote {len(templates)} real chat templates into GGUF files under {root}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
