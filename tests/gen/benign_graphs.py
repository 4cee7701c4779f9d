"""Benign graph-format models made with the real libraries, for ward's tests.

Usage: benign_graphs.py OUTDIR

Writes ONNX models built with `onnx.helper` (plain, and with If and Loop subgraphs), Keras 3 models saved as `.keras` and `.h5`
with several ordinary layer types, and TensorFlow protobuf files (a frozen GraphDef and a
SavedModel) serialized with the compiled TensorFlow protos that `tensorboard` ships. Every
file must scan clean.

It also writes `onnx-external/`, a model whose weights live in `model.onnx.data` next to
it: the model claims that file as raw tensor bytes, so a directory walk must report neither
the model nor its data file.

TensorFlow itself is not installed (it is very large); `tensorboard.compat.proto` has no
`SavedModel` message, so the two-field `SavedModel` wrapper (schema version 1, then the
`MetaGraphDef`) is written by hand around a `MetaGraphDef` serialized by the library.
"""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "numpy")

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def onnx_models(out):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])
    w = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(4, 3), "w")
    b = numpy_helper.from_array(np.zeros(3, dtype=np.float32), "b")
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["xw"], name="matmul"),
        helper.make_node("Add", ["xw", "b"], ["h"], name="add"),
        helper.make_node("Relu", ["h"], ["y"], name="relu"),
    ]
    graph = helper.make_graph(nodes, "mlp", [x], [y], [w, b])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save_model(model, os.path.join(out, "onnx-mlp.onnx"))

    # If with two branches, and a Loop whose body is a subgraph.
    cond = helper.make_tensor_value_info("cond", TensorProto.BOOL, [])
    then_out = helper.make_tensor_value_info("then_out", TensorProto.FLOAT, [1])
    else_out = helper.make_tensor_value_info("else_out", TensorProto.FLOAT, [1])
    then_graph = helper.make_graph(
        [helper.make_node("Constant", [], ["then_out"], value=numpy_helper.from_array(np.ones(1, np.float32)))],
        "then_branch", [], [then_out],
    )
    else_graph = helper.make_graph(
        [helper.make_node("Constant", [], ["else_out"], value=numpy_helper.from_array(np.zeros(1, np.float32)))],
        "else_branch", [], [else_out],
    )
    res = helper.make_tensor_value_info("res", TensorProto.FLOAT, [1])
    if_node = helper.make_node("If", ["cond"], ["res"], then_branch=then_graph, else_branch=else_graph, name="if")
    iter_in = helper.make_tensor_value_info("i", TensorProto.INT64, [])
    cond_in = helper.make_tensor_value_info("c", TensorProto.BOOL, [])
    acc_in = helper.make_tensor_value_info("acc", TensorProto.FLOAT, [1])
    cond_out = helper.make_tensor_value_info("c_out", TensorProto.BOOL, [])
    acc_out = helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, [1])
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["c"], ["c_out"]),
            helper.make_node("Add", ["acc", "acc"], ["acc_out"]),
        ],
        "loop_body", [iter_in, cond_in, acc_in], [cond_out, acc_out],
    )
    trip = numpy_helper.from_array(np.array(3, dtype=np.int64), "trip")
    loop_node = helper.make_node("Loop", ["trip", "cond", "res"], ["final"], body=body, name="loop")
    final = helper.make_tensor_value_info("final", TensorProto.FLOAT, [1])
    graph = helper.make_graph([if_node, loop_node], "control", [cond], [final], [trip])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save_model(model, os.path.join(out, "onnx-control-flow.onnx"))


def onnx_external(out):
    # External data inside the model's own folder.
    big = numpy_helper.from_array(np.ones((64, 64), dtype=np.float32), "big")
    xin = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])
    yout = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "big"], ["y"])], "ext", [xin], [yout], [big])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    folder = os.path.join(out, "onnx-external")
    os.makedirs(folder, exist_ok=True)
    onnx.save_model(
        model, os.path.join(folder, "model.onnx"),
        save_as_external_data=True, all_tensors_to_one_file=True,
        location="model.onnx.data", size_threshold=0,
    )


def keras_models(out):
    import keras
    from keras import layers

    seq = keras.Sequential([
        keras.Input((8,)),
        layers.Dense(16, activation="relu", kernel_regularizer=keras.regularizers.L2(1e-4)),
        layers.BatchNormalization(),
        layers.Dropout(0.2),
        layers.Dense(4, activation="softmax"),
    ])
    seq.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy", metrics=["accuracy"])

    image = keras.Input((16, 16, 3))
    h = layers.Conv2D(4, 3, padding="same", activation="relu")(image)
    h = layers.MaxPooling2D()(h)
    h = layers.Flatten()(h)
    h = layers.Dense(8, activation="gelu")(h)
    tokens = keras.Input((10,), dtype="int32")
    t = layers.Embedding(50, 8)(tokens)
    t = layers.LSTM(8)(t)
    merged = layers.Concatenate()([h, t])
    merged = layers.LayerNormalization()(merged)
    output = layers.Dense(1, activation="sigmoid")(merged)
    functional = keras.Model([image, tokens], output)
    functional.compile(optimizer="sgd", loss=keras.losses.BinaryCrossentropy(), metrics=[keras.metrics.AUC()])

    for name, model in [("keras-sequential", seq), ("keras-functional", functional)]:
        model.save(os.path.join(out, name + ".keras"))
        model.save(os.path.join(out, name + ".h5"))

    # The same config in an HDF5 file of the newest layout (superblock version 3, version 2
    # object headers), which Keras itself does not choose but h5py users may.
    import h5py

    with h5py.File(os.path.join(out, "keras-sequential.h5"), "r") as src:
        with h5py.File(os.path.join(out, "keras-sequential-latest.h5"), "w", libver="latest") as dst:
            for key in ("backend", "keras_version", "model_config", "training_config"):
                if key in src.attrs:
                    dst.attrs[key] = src.attrs[key]
            dst.create_dataset("weights", data=np.zeros((4, 4), dtype=np.float32))


def tf_graphs(out):
    from tensorboard.compat.proto import (
        attr_value_pb2, function_pb2, graph_pb2, meta_graph_pb2, node_def_pb2,
        op_def_pb2, tensor_pb2, tensor_shape_pb2, types_pb2,
    )

    def node(name, op, inputs=(), **attrs):
        n = node_def_pb2.NodeDef(name=name, op=op, input=list(inputs))
        for k, v in attrs.items():
            n.attr[k].CopyFrom(v)
        return n

    def dtype(t):
        return attr_value_pb2.AttrValue(type=t)

    def const(name, values):
        arr = np.asarray(values, dtype=np.float32)
        shape = tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in arr.shape]
        )
        t = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_shape=shape, tensor_content=arr.tobytes())
        return node(name, "Const", value=attr_value_pb2.AttrValue(tensor=t), dtype=dtype(types_pb2.DT_FLOAT))

    nodes = [
        node("x", "Placeholder", dtype=dtype(types_pb2.DT_FLOAT)),
        const("w", np.ones((4, 3))),
        const("b", np.zeros(3)),
        node("matmul", "MatMul", ["x", "w"], T=dtype(types_pb2.DT_FLOAT)),
        node("bias", "BiasAdd", ["matmul", "b"], T=dtype(types_pb2.DT_FLOAT)),
        node("relu", "Relu", ["bias"], T=dtype(types_pb2.DT_FLOAT)),
        node("softmax", "Softmax", ["relu"], T=dtype(types_pb2.DT_FLOAT)),
        node("output", "Identity", ["softmax"], T=dtype(types_pb2.DT_FLOAT)),
    ]
    frozen = graph_pb2.GraphDef(node=nodes)
    frozen.versions.producer = 1994
    with open(os.path.join(out, "tf-frozen-graph.pb"), "wb") as f:
        f.write(frozen.SerializeToString())

    # A SavedModel as TensorFlow 2 writes it: the serving function and the checkpoint saver
    # live in the function library; the main graph holds variables and calls.
    def function(name, fnodes):
        fd = function_pb2.FunctionDef(node_def=fnodes)
        fd.signature.CopyFrom(op_def_pb2.OpDef(name=name))
        return fd

    serve = function("__inference_serving_default_120", [
        node("matmul/ReadVariableOp", "ReadVariableOp", ["w"]),
        node("matmul", "MatMul", ["x", "matmul/ReadVariableOp:value:0"]),
        node("relu", "Relu", ["matmul:product:0"]),
        node("Identity", "Identity", ["relu:activations:0"]),
    ])
    save = function("__inference__traced_save_200", [
        node("StaticRegexFullMatch", "StaticRegexFullMatch", ["file_prefix"]),
        node("Const", "Const", value=attr_value_pb2.AttrValue(
            tensor=tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, string_val=[b".part"]))),
        node("Select", "Select", ["StaticRegexFullMatch:output:0", "Const:output:0"]),
        node("StringJoin", "StringJoin", ["file_prefix", "Select:output:0"]),
        node("ShardedFilename", "ShardedFilename", ["StringJoin:output:0"]),
        node("SaveV2", "SaveV2", ["ShardedFilename:filename:0"]),
        node("MergeV2Checkpoints", "MergeV2Checkpoints", ["file_prefix"]),
        node("Identity", "Identity", ["file_prefix"]),
        node("NoOp", "NoOp"),
    ])
    restore = function("__inference__traced_restore_230", [
        node("RestoreV2", "RestoreV2", ["file_prefix"]),
        node("AssignVariableOp", "AssignVariableOp", ["w", "RestoreV2:tensors:0"]),
        node("NoOp", "NoOp"),
    ])
    graph = graph_pb2.GraphDef(node=[
        node("w", "VarHandleOp", dtype=dtype(types_pb2.DT_FLOAT)),
        node("serving_default_x", "Placeholder", dtype=dtype(types_pb2.DT_FLOAT)),
        node("StatefulPartitionedCall", "StatefulPartitionedCall", ["serving_default_x", "w"],
             f=attr_value_pb2.AttrValue(func=attr_value_pb2.NameAttrList(name="__inference_serving_default_120"))),
        node("saver_filename", "Placeholder", dtype=dtype(types_pb2.DT_STRING)),
        node("StatefulPartitionedCall_1", "StatefulPartitionedCall", ["saver_filename", "w"],
             f=attr_value_pb2.AttrValue(func=attr_value_pb2.NameAttrList(name="__inference__traced_save_200"))),
        node("StatefulPartitionedCall_2", "StatefulPartitionedCall", ["saver_filename", "w"],
             f=attr_value_pb2.AttrValue(func=attr_value_pb2.NameAttrList(name="__inference__traced_restore_230"))),
    ])
    graph.library.function.extend([serve, save, restore])
    graph.versions.producer = 1994
    meta = meta_graph_pb2.MetaGraphDef(graph_def=graph)
    meta.meta_info_def.tags.append("serve")
    meta.meta_info_def.tensorflow_version = "2.17.0"
    body = meta.SerializeToString()
    saved = b"\x08\x01" + b"\x12" + varint(len(body)) + body
    folder = os.path.join(out, "tf-saved-model")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "saved_model.pb"), "wb") as f:
        f.write(saved)


def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def main():
    args = sys.argv[1:]
    if len(args) != 1:
        sys.exit("usage: benign_graphs.py OUTDIR")
    out = args[0]
    os.makedirs(out, exist_ok=True)
    onnx_models(out)
    onnx_external(out)
    keras_models(out)
    tf_graphs(out)


if __name__ == "__main__":
    main()
