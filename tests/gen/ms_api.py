"""Drives the `model_signing` Python API for the modes its command line lacks.

The command line of model-signing 1.1.x always hashes in files mode with SHA-256, so
shards mode and other hashes are exercised through the library, as users of the API do.

Usage:
  python ms_api.py sign-key KEY MODEL SIGNATURE HASH SHARD_SIZE   (SHARD_SIZE 0: files)
  python ms_api.py verify-key PUB MODEL SIGNATURE [HASH SHARD_SIZE]
  python ms_api.py digest MODEL          (prints the subject digest of the default hashing)

HASH is `sha256`, `blake2b` or `blake3`, as recorded in signatures. The library calls
BLAKE2b `blake2` in its configuration but records `blake2b`, and it cannot guess the
configuration back from a `blake2b` signature, so verification of those passes the
configuration explicitly.
"""

import sys

import model_signing


def hashing_config(hash_alg, shard_size, ignored):
    hashing = model_signing.hashing.Config()
    hashing.set_ignored_paths(paths=ignored, ignore_git_paths=True)
    algorithm = "blake2" if hash_alg == "blake2b" else hash_alg
    if int(shard_size) > 0:
        hashing.use_shard_serialization(
            hashing_algorithm=algorithm, shard_size=int(shard_size)
        )
    else:
        hashing.use_file_serialization(hashing_algorithm=algorithm)
    return hashing


def main():
    mode = sys.argv[1]
    if mode == "sign-key":
        key, model, signature, hash_alg, shard_size = sys.argv[2:7]
        hashing = hashing_config(hash_alg, shard_size, [signature])
        model_signing.signing.Config().use_elliptic_key_signer(
            private_key=key
        ).set_hashing_config(hashing).sign(model, signature)
    elif mode == "verify-key":
        public, model, signature = sys.argv[2:5]
        config = model_signing.verifying.Config().use_elliptic_key_verifier(
            public_key=public
        )
        if len(sys.argv) > 5:
            config.set_hashing_config(
                hashing_config(sys.argv[5], sys.argv[6], [signature])
            )
        # Without a hashing configuration the library reads it from the signature.
        config.verify(model, signature)
    elif mode == "digest":
        from model_signing._signing import signing

        manifest = model_signing.hashing.hash(sys.argv[2])
        payload = signing.Payload(manifest)
        print(payload.statement.pb.subject[0].digest["sha256"])
    else:
        raise SystemExit(f"unknown mode {mode}")
    print("ok")


if __name__ == "__main__":
    main()
