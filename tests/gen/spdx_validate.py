#!/usr/bin/env python3
"""Validate SPDX 3.0.1 JSON-LD documents offline.

Usage: spdx_validate.py FILE [FILE ...]

Each document is checked three ways, and every problem found is printed:

1. Structure: the official SPDX 3.0.1 JSON schema (the file spdx.org serves at
   https://spdx.org/schema/3.0.1/spdx-json-schema.json). The lib4sbom package on PyPI
   ships a byte-identical copy; its SHA-256 is checked below, so a different file is an
   error rather than a silent change of the rules.
2. Semantics: spdx-python-model, the SPDX project's Python bindings generated from the
   3.0.1 OWL/SHACL model by shacl2code. Reading a document through them checks every
   property name, value type, pattern, enumeration and the class of every referenced
   element; linking reports references to elements the document does not define; and
   writing it back enforces every minimum and maximum count of the model.
3. What the bindings let pass silently: an element id defined twice (they keep the
   first), a document without exactly one SpdxDocument, and an enumeration value that
   is also a term of the SPDX context (the bindings read `"extension"` in
   `profileConformance` as the profile, but JSON-LD expands it to the `extension`
   property, so an RDF reader such as pyshacl sees a value outside the enumeration).

The SHACL shapes themselves (spdx-model.ttl) are not on PyPI or npm, and the tests
never reach the network, so pyshacl is not run here.

Exit status: 0 when every document is valid, 1 when any is not, 2 when the tools are
missing or a file cannot be read.
"""

import hashlib
import importlib.util
import io
import json
import pathlib
import sys

SCHEMA_SHA256 = "582c64e809d5b3ef9bd0c4de13a32391b47b0284a3e8d199569fb96f649234b1"
CONTEXT = "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"
MAX_ERRORS = 50


def fail_setup(message):
    print(f"error: {message}", file=sys.stderr)
    print(
        "hint: install the pinned test tools: "
        "python -m pip install -r tests/requirements.txt",
        file=sys.stderr,
    )
    sys.exit(2)


def official_schema():
    # find_spec locates the package without importing it: only its data file is used.
    spec = importlib.util.find_spec("lib4sbom")
    if spec is None or not spec.submodule_search_locations:
        fail_setup("the lib4sbom package (which ships the SPDX 3.0.1 schema) is missing")
    path = pathlib.Path(list(spec.submodule_search_locations)[0]) / "schemas/spdx/3.0-schema.json"
    try:
        raw = path.read_bytes()
    except OSError as error:
        fail_setup(f"cannot read the SPDX 3.0.1 schema at `{path}`: {error}")
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SCHEMA_SHA256:
        fail_setup(
            f"`{path}` is not the official SPDX 3.0.1 JSON schema "
            f"(SHA-256 `{digest}`, expected `{SCHEMA_SHA256}`)"
        )
    return json.loads(raw)


def schema_errors(validator, document):
    """The schema is one large `anyOf` of `if type is X then ... else "Not a X"` branches,
    so the useful messages are the deepest ones outside the branches for other classes."""

    def leaves(error):
        if not error.context:
            yield error
        for child in error.context:
            yield from leaves(child)

    def other_class(error):
        return error.validator == "const" and str(error.validator_value).startswith("Not a ")

    out = []
    for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path)):
        relevant = [leaf for leaf in leaves(error) if not other_class(leaf)]
        relevant.sort(key=lambda leaf: -len(leaf.absolute_path))
        for leaf in relevant[:4] or [error]:
            out.append(f"schema: {leaf.json_path}: {leaf.message}")
    return out


def model_errors(text):
    from spdx_python_model import v3_0_1 as spdx

    out = []
    objects = spdx.SHACLObjectSet()
    try:
        spdx.JSONLDDeserializer().deserialize_data(json.loads(text), objects)
    except Exception as error:  # the bindings raise plain TypeError/ValueError/KeyError
        return [f"model: reading failed: {type(error).__name__}: {error}"]
    try:
        missing = objects.link()
    except Exception as error:
        return [f"model: linking failed: {type(error).__name__}: {error}"]
    for spdx_id in sorted(missing):
        out.append(f"model: `{spdx_id}` is referenced but not defined in the document")
    try:
        spdx.JSONLDSerializer().write(objects, io.BytesIO())
    except Exception as error:
        out.append(f"model: {type(error).__name__}: {error}")
    return out


def graph_errors(document):
    out = []
    graph = document.get("@graph") if isinstance(document, dict) else None
    if not isinstance(graph, list):
        return ["graph: the document has no `@graph` array"]
    seen = set()
    documents = 0
    for node in graph:
        if not isinstance(node, dict):
            continue
        if node.get("type") == "SpdxDocument":
            documents += 1
        node_id = node.get("spdxId", node.get("@id"))
        if isinstance(node_id, str):
            if node_id in seen:
                out.append(f"graph: `{node_id}` is defined more than once")
            seen.add(node_id)
    if documents != 1:
        out.append(f"graph: {documents} SpdxDocument elements, expected exactly one")
    return out


def vocabulary_errors(document):
    from spdx_python_model.bindings.v3_0_1 import model

    classes = {c._COMPACT_TYPE: c for c in model.SHACLObject.CLASSES.values() if c._COMPACT_TYPE}
    terms = set(classes)
    for cls in classes.values():
        terms.update(cls._OBJ_COMPACT_PROPS)
    out = []
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        stack.extend(node.values())
        cls = classes.get(node.get("type"))
        if cls is None or cls.IS_ABSTRACT:
            continue
        cls()  # the bindings resolve a class's property types on first use
        for key, value in node.items():
            prop = cls._OBJ_COMPACT_PROPS.get(key)
            if prop is None:
                continue
            kind = getattr(prop.prop, "prop", prop.prop)  # a list's item type
            if not isinstance(kind, model.EnumProp):
                continue
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, str) and item in terms:
                    out.append(
                        f"vocabulary: `{key}` value `{item}` is also a term of the SPDX "
                        "context, so JSON-LD does not expand it to the enumeration value"
                    )
    return sorted(set(out))


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    try:
        import jsonschema
        import spdx_python_model  # noqa: F401
    except ImportError as error:
        fail_setup(f"a validation tool is missing: {error}")
    schema = official_schema()
    cls = jsonschema.Draft202012Validator
    cls.check_schema(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)

    status = 0
    for name in argv[1:]:
        try:
            text = pathlib.Path(name).read_text(encoding="utf-8")
            document = json.loads(text)
        except (OSError, ValueError) as error:
            print(f"error: cannot read `{name}` as JSON: {error}", file=sys.stderr)
            return 2
        if not isinstance(document, dict) or document.get("@context") != CONTEXT:
            errors = [f"context: `@context` must be `{CONTEXT}`"]
        else:
            errors = schema_errors(validator, document) + graph_errors(document)
            errors += vocabulary_errors(document) + model_errors(text)
        if errors:
            status = 1
            print(f"{name}: {len(errors)} problem(s)")
            for error in errors[:MAX_ERRORS]:
                print(f"  {error}")
        else:
            print(f"{name}: valid SPDX 3.0.1")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
