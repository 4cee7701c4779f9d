"""Benign pickle-based fixtures made by the real libraries: NumPy, scikit-learn with
joblib (plain and every compression), plain pickle at every protocol, and an emulation of
torch.save (zip and legacy formats).

Usage: benign_pickle.py OUTDIR

PyTorch is too large to install for the test suite, so torch.save is emulated: stand-in
`torch` and `torch._utils` modules are registered in `sys.modules`, and Python's own
pickler writes the data pickle exactly as torch.save does (protocol 2, persistent ids
`('storage', torch.FloatStorage, key, 'cpu', numel)`, tensors reduced to
`torch._utils._rebuild_tensor_v2`). The container layout follows torch's zip writer:
`<name>/data.pkl`, `<name>/.format_version`, `<name>/.storage_alignment`,
`<name>/byteorder`, `<name>/data/<key>`, `<name>/version`, `<name>/.data/serialization_id`,
every member stored with its data aligned to 64 bytes. Every file written here must scan
clean.
"""

import collections
import io
import os
import pickle
import struct
import sys
import types
import zipfile

import joblib
import numpy as np
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


# --- torch stand-ins -----------------------------------------------------------------


def install_torch_standins():
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    class FloatStorage:
        element_size = 4


    class LongStorage:
        element_size = 8


    def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks):
        raise RuntimeError("stand-in, never called")

    def _rebuild_parameter(data, requires_grad, hooks):
        raise RuntimeError("stand-in, never called")

    # Pickle names a global by `__module__` and `__qualname__`; make them torch's.
    for obj, module in [
        (FloatStorage, "torch"),
        (LongStorage, "torch"),
        (_rebuild_tensor_v2, "torch._utils"),
        (_rebuild_parameter, "torch._utils"),
    ]:
        obj.__module__ = module
        obj.__qualname__ = obj.__name__
    torch.FloatStorage = FloatStorage
    torch.LongStorage = LongStorage
    torch._utils = utils
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    utils._rebuild_parameter = _rebuild_parameter
    sys.modules["torch"] = torch
    sys.modules["torch._utils"] = utils
    return torch, utils


TORCH, TORCH_UTILS = install_torch_standins()


class Storage:
    """The untyped bytes of one tensor, referenced through a persistent id."""

    def __init__(self, key, storage_type, values):
        self.key = key
        self.storage_type = storage_type
        self.data = values.tobytes()
        self.numel = len(values)


class Tensor:
    def __init__(self, storage, size, parameter=False):
        self.storage = storage
        self.size = size
        self.parameter = parameter

    def __reduce_ex__(self, protocol):
        stride = []
        acc = 1
        for dim in reversed(self.size):
            stride.insert(0, acc)
            acc *= dim
        tensor = (
            TORCH_UTILS._rebuild_tensor_v2,
            (self.storage, 0, tuple(self.size), tuple(stride), False, collections.OrderedDict()),
        )
        if not self.parameter:
            return tensor
        return (TORCH_UTILS._rebuild_parameter, (_Reduced(tensor), True, collections.OrderedDict()))


class _Reduced:
    def __init__(self, reduced):
        self.reduced = reduced

    def __reduce_ex__(self, protocol):
        return self.reduced


def state_dict():
    """A small model state dict: two float tensors, one parameter, one int64 counter."""
    w = Storage("0", TORCH.FloatStorage, np.arange(6, dtype="<f4"))
    b = Storage("1", TORCH.FloatStorage, np.ones(3, dtype="<f4"))
    n = Storage("2", TORCH.LongStorage, np.array([7], dtype="<i8"))
    sd = collections.OrderedDict()
    sd["fc.weight"] = Tensor(w, [3, 2], parameter=True)
    sd["fc.bias"] = Tensor(b, [3])
    sd["bn.num_batches_tracked"] = Tensor(n, [])
    sd._metadata = collections.OrderedDict([("", {"version": 1}), ("fc", {"version": 1})])
    return sd, [w, b, n]


def torch_pickle(obj, legacy):
    buf = io.BytesIO()
    pickler = pickle.Pickler(buf, protocol=2)

    def persistent_id(o):
        if isinstance(o, Storage):
            pid = ("storage", o.storage_type, o.key, "cpu", o.numel)
            return pid + (None,) if legacy else pid
        return None

    pickler.persistent_id = persistent_id
    pickler.dump(obj)
    return buf.getvalue()


def aligned_zip(entries):
    """A stored zip whose member data starts at multiples of 64, as torch's writer pads
    local headers with an extra field."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as z:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            offset = buf.tell()
            header = 30 + len(name.encode()) + 4
            pad = (-(offset + header)) % 64
            info.extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
            z.writestr(info, data)
    return buf.getvalue()


def torch_save_zip(name):
    sd, storages = state_dict()
    entries = [
        (f"{name}/data.pkl", torch_pickle(sd, legacy=False)),
        (f"{name}/.format_version", b"1"),
        (f"{name}/.storage_alignment", b"64"),
        (f"{name}/byteorder", b"little"),
    ]
    entries += [(f"{name}/data/{s.key}", s.data) for s in storages]
    entries += [
        (f"{name}/version", b"3\n"),
        (f"{name}/.data/serialization_id", b"1234567890123456789012345678901234567890"),
    ]
    return aligned_zip(entries)


def torch_save_legacy():
    sd, storages = state_dict()
    out = io.BytesIO()
    pickle.dump(0x1950A86A20F9469CFC6C, out, protocol=2)
    pickle.dump(1001, out, protocol=2)
    sys_info = {
        "protocol_version": 1001,
        "little_endian": True,
        "type_sizes": {"short": 2, "int": 4, "long": 4},
    }
    pickle.dump(sys_info, out, protocol=2)
    out.write(torch_pickle(sd, legacy=True))
    pickle.dump([s.key for s in storages], out, protocol=2)
    for s in storages:
        out.write(struct.pack("<q", s.numel))
        out.write(s.data)
    return out.getvalue()


# --- the corpus ----------------------------------------------------------------------


def main(outdir):
    # Plain pickles of builtin containers at every protocol.
    data = {
        "weights": [1, 2.5, "x", b"bytes", None, True],
        "config": collections.OrderedDict(layers=2, name="net"),
        "nested": ({"a": (1, 2)}, frozenset({1}), {3}, bytearray(b"ab"), 3 + 4j),
        "counter": collections.Counter("hello"),
        "big": 2**100,
    }
    for proto in range(pickle.HIGHEST_PROTOCOL + 1):
        write(f"{outdir}/pickle/dict-protocol-{proto}.pkl", pickle.dumps(data, protocol=proto))
        write(
            f"{outdir}/pickle/list-protocol-{proto}.pickle",
            pickle.dumps([list(range(300)), "é" * 10, -1.5], protocol=proto),
        )

    # NumPy arrays without pickles.
    rng = np.random.default_rng(0)
    arrays = {
        "f8": rng.standard_normal((4, 5)),
        "f4": np.arange(10, dtype="<f4"),
        "i8": np.arange(7, dtype=">i8"),
        "b1": np.array([True, False]),
        "u1": np.zeros((2, 3, 4), dtype="u1"),
        "c16": np.array([1 + 2j]),
        "s5": np.array([b"abc", b"de"], dtype="S5"),
        "u3": np.array(["ab", "cde"], dtype="U3"),
        "scalar": np.float64(3.0),
        "empty": np.zeros((0, 3)),
        "fortran": np.asfortranarray(np.ones((3, 2))),
    }
    os.makedirs(f"{outdir}/numpy", exist_ok=True)
    for name, arr in arrays.items():
        np.save(f"{outdir}/numpy/{name}.npy", arr)
    np.savez(f"{outdir}/numpy/plain.npz", a=arrays["f8"], b=arrays["i8"])
    np.savez_compressed(f"{outdir}/numpy/compressed.npz", a=arrays["f4"], b=arrays["u3"])

    # scikit-learn models saved with joblib, plain and with every compressor.
    X, y = make_classification(n_samples=60, n_features=5, random_state=0)
    models = {
        "logreg": LogisticRegression(max_iter=200).fit(X, y),
        "forest": RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(X, y),
        "pipeline": Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())]).fit(X, y),
    }
    os.makedirs(f"{outdir}/joblib", exist_ok=True)
    for name, model in models.items():
        joblib.dump(model, f"{outdir}/joblib/{name}.joblib")
    for method in ["zlib", "gzip", "bz2", "xz", "lz4"]:
        joblib.dump(models["forest"], f"{outdir}/joblib/forest-{method}.joblib", compress=(method, 3))
    joblib.dump({"arrays": arrays, "model": models["logreg"]}, f"{outdir}/joblib/mixed.joblib")

    # torch.save emulations.
    write(f"{outdir}/torch/model.pt", torch_save_zip("model"))
    write(f"{outdir}/torch/checkpoint.pth", torch_save_zip("any_folder_name"))
    write(f"{outdir}/torch/legacy.pt", torch_save_legacy())


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: benign_pickle.py OUTDIR")
    main(sys.argv[1])
