#!/usr/bin/env python3
"""Builds the large, benign inputs of the scan benchmark (never committed; written on demand).

    gen_large.py OUTDIR

writes
  OUTDIR/torch-1g.pt        a 1 GiB PyTorch-style zip checkpoint (16 float32 tensors of
                            64 MiB each), laid out byte for byte like `torch.save` (protocol 2
                            `data.pkl` with persistent storage ids, stored `data/N` members,
                            `version`, `byteorder`);
  OUTDIR/pickle-1g.pkl      a 1 GiB raw pickle of a flat list of ints, floats and short
                            strings (for raw parsing throughput and peak memory);
  OUTDIR/small/NNNNN.pkl    10,000 small pickles of plain Python containers.

torch is not needed: the generator names `torch.FloatStorage` and
`torch._utils._rebuild_tensor_v2` through stand-in objects registered under those names for
the pickler, exactly as `torch.save` writes them. Nothing here is ever unpickled.
"""

import collections
import os
import pickle
import random
import struct
import sys
import types
import zipfile

GIB = 1 << 30
TENSORS = 16
TENSOR_BYTES = GIB // TENSORS


def torch_standins():
    """Registers just enough of `torch` for the pickler to name its globals."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    FloatStorage.__module__ = "torch"
    FloatStorage.__qualname__ = "FloatStorage"

    def _rebuild_tensor_v2(*args):
        raise RuntimeError("never called")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    torch.FloatStorage = FloatStorage
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    torch._utils = utils
    sys.modules["torch"] = torch
    sys.modules["torch._utils"] = utils
    return FloatStorage, _rebuild_tensor_v2


class StorageRef:
    def __init__(self, key, numel):
        self.key = key
        self.numel = numel


class Tensor:
    def __init__(self, rebuild, key, numel):
        self.rebuild = rebuild
        self.storage = StorageRef(key, numel)
        self.shape = (numel // 1024, 1024)

    def __reduce_ex__(self, protocol):
        stride = (self.shape[1], 1)
        return (
            self.rebuild,
            (self.storage, 0, self.shape, stride, False, collections.OrderedDict()),
        )


class TorchPickler(pickle.Pickler):
    def __init__(self, file, storage_type):
        super().__init__(file, protocol=2)
        self.storage_type = storage_type

    def persistent_id(self, obj):
        if isinstance(obj, StorageRef):
            return ("storage", self.storage_type, obj.key, "cpu", obj.numel)
        return None


def torch_checkpoint(path):
    storage_type, rebuild = torch_standins()
    numel = TENSOR_BYTES // 4
    state = collections.OrderedDict(
        (f"layers.{i}.weight", Tensor(rebuild, str(i), numel)) for i in range(TENSORS)
    )
    import io

    buf = io.BytesIO()
    TorchPickler(buf, storage_type).dump(state)
    chunk = bytes(range(256)) * 4096  # 1 MiB of non-zero bytes
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        zf.writestr("torch-1g/data.pkl", buf.getvalue())
        zf.writestr("torch-1g/byteorder", "little")
        for i in range(TENSORS):
            with zf.open(f"torch-1g/data/{i}", "w", force_zip64=True) as member:
                for _ in range(TENSOR_BYTES // len(chunk)):
                    member.write(chunk)
        zf.writestr("torch-1g/version", "3\n")


def raw_pickle(path, size=GIB):
    # Protocol 4 header, an empty list, then batches of 1,000 appended items, then STOP.
    items = []
    rng = random.Random(7)
    for i in range(1000):
        kind = i % 3
        if kind == 0:
            items.append(b"J" + struct.pack("<i", rng.randrange(-(2**31), 2**31)))
        elif kind == 1:
            items.append(b"G" + struct.pack(">d", rng.random()))
        else:
            text = f"feature_{rng.randrange(10**6):06d}".encode()
            items.append(b"\x8c" + bytes([len(text)]) + text)
    batch = b"(" + b"".join(items) + b"e"
    with open(path, "wb") as out:
        out.write(b"\x80\x04]")
        written = 3
        while written + len(batch) + 1 <= size:
            out.write(batch)
            written += len(batch)
        out.write(b".")


def small_pickles(directory, count=10_000):
    os.makedirs(directory, exist_ok=True)
    rng = random.Random(11)
    for i in range(count):
        obj = {
            "id": i,
            "name": f"item-{i}",
            "weights": [rng.random() for _ in range(rng.randrange(16, 512))],
            "tags": tuple(f"t{rng.randrange(100)}" for _ in range(rng.randrange(1, 8))),
            "nested": {"a": [1, 2, 3], "b": {"c": None, "d": True}},
        }
        with open(os.path.join(directory, f"{i:05d}.pkl"), "wb") as out:
            pickle.dump(obj, out, protocol=rng.choice([2, 3, 4, 5]))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen_large.py OUTDIR")
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    steps = [
        ("torch-1g.pt", torch_checkpoint),
        ("pickle-1g.pkl", raw_pickle),
        ("small", small_pickles),
    ]
    for name, make in steps:
        path = os.path.join(outdir, name)
        if os.path.exists(path):
            continue
        print(f"gen_large: writing {path}", file=sys.stderr)
        make(path + ".partial")
        os.rename(path + ".partial", path)


if __name__ == "__main__":
    main()
