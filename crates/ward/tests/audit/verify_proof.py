"""Independent check of `ward audit proof` output, written from RFC 9162 sections 2.1.3.2
and 2.1.4.2 with the Python standard library only.

Usage: verify_proof.py PROOF_JSON_FILE CHECKPOINT_ROOT_BASE64 [OLD_ROOT_BASE64]
Exits 0 when the proof verifies against the given root(s), 1 otherwise."""

import base64
import hashlib
import json
import sys


def h(*parts):
    return hashlib.sha256(b"".join(parts)).digest()


def verify_inclusion(index, size, leaf_hash, proof, root):
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = h(b"\x01", p, r)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = h(b"\x01", r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_hash, second_hash, proof):
    if first == 0 or first > second:
        return False
    if first == second:
        return not proof and first_hash == second_hash
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_hash)
    if not path:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = h(b"\x01", c, fr), h(b"\x01", c, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = h(b"\x01", sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_hash and sr == second_hash and sn == 0


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        p = json.load(f)
    root = base64.b64decode(sys.argv[2])
    proof = [base64.b64decode(x) for x in p["proof"]]
    if p["type"] == "inclusion":
        leaf = p["leaf"].encode("utf-8")
        assert json.loads(leaf)["seq"] == p["leaf_index"]
        ok = verify_inclusion(p["leaf_index"], p["tree_size"], h(b"\x00", leaf), proof, root)
    else:
        old_root = base64.b64decode(sys.argv[3])
        ok = verify_consistency(p["old_size"], p["new_size"], old_root, root, proof)
    print("verified" if ok else "FAILED")
    sys.exit(0 if ok else 1)


main()
