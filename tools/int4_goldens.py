"""Writes runtime/src/test/resources/quantize/int4-goldens.json: what ONNX Runtime's own int4 quantizer makes.

Run from the project root with a Python that has onnxruntime (1.30 made the committed file), onnx, onnx-ir and numpy:
    python tools/int4_goldens.py
Each case is a seeded float matrix W [K, N] put into a one-MatMul model Y = X @ W as an initializer; ONNX Runtime's
MatMulNBitsQuantizer (bits 4, QOperator, accuracy_level 4) turns it into a com.microsoft.MatMulNBits node, whose
B / scales / zero_points initializers are read back. The quantized model is then run on a fixed X and Y recorded.
Int4BlockQuantizerTest must produce the same bytes and, in ONNX Runtime Java, the same Y. The Java tests never run this
script; they read the JSON it wrote. Arrays are base64 of their little-endian bytes (float32 / uint8), so every bit
round-trips.
"""
import base64
import json
import os

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "runtime", "src", "test", "resources", "quantize", "int4-goldens.json")
M = 3  # rows of X


def normal(seed, k, n):
    return np.random.default_rng(seed).standard_normal((k, n)).astype(np.float32)


def zero_column():
    w = normal(5, 64, 8)
    w[:, 3] = 0.0
    w[32:, 5] = -0.0  # a whole block of negative zeros
    return w


def ties():
    # values whose w/scale lands exactly on .5: rounding half away from zero vs. to even shows here
    w = np.zeros((32, 4), np.float32)
    for j in range(4):
        w[:, j] = (np.arange(32, dtype=np.float32) % 17 - 8) * 0.5 * (j + 1)
        w[0, j] = -8.0 * (j + 1)  # pins the symmetric scale to (j + 1)
    return w


def extreme():
    # huge, tiny (normal and subnormal), signed zeros, one-sign blocks; not run (sums overflow float)
    rng = np.random.default_rng(7)
    w = rng.standard_normal((48, 6)).astype(np.float32)
    w[:, 0] *= np.float32(1e38)
    w[:16, 1] = np.float32(3.0e38)
    w[16:32, 1] = -np.float32(3.4e38)
    w[:, 2] *= np.float32(1e-38)
    w[:, 3] = np.float32(1e-45) * rng.integers(-3, 4, 48).astype(np.float32)
    w[:, 4] = np.abs(w[:, 4]) + 1.0  # all positive: symmetric scale is negative
    w[:16, 5] = -0.0
    w[16:, 5] = np.float32(1e-40)
    return w


# name, W, block_size, symmetric, run the quantized model
CASES = [
    ("sym_64x32_b32", normal(1, 64, 32), 32, True, True),
    ("asym_96x40_b32", normal(2, 96, 40), 32, False, True),
    ("sym_70x24_b16_ragged", normal(3, 70, 24), 16, True, True),
    ("asym_70x24_b16_ragged", normal(3, 70, 24), 16, False, True),
    ("sym_128x16_b128", normal(4, 128, 16), 128, True, True),
    ("sym_zero_column_b32", zero_column(), 32, True, True),
    ("asym_zero_column_b32", zero_column(), 32, False, True),
    ("sym_odd_k_19x3_b16", normal(8, 19, 3), 16, True, True),
    ("asym_odd_k_47x6_b16", normal(9, 47, 6), 16, False, True),
    ("asym_odd_k_33x2_b16", normal(10, 33, 2), 16, False, True),
    ("sym_130x5_b64", normal(11, 130, 5), 64, True, True),
    ("asym_300x4_b256", normal(12, 300, 4), 256, False, True),
    ("sym_ties_b32", ties(), 32, True, True),
    ("asym_ties_b16", ties(), 16, False, True),
    ("sym_extreme_b16", extreme(), 16, True, False),
    ("asym_extreme_b16", extreme(), 16, False, False),
]


def table(seed, rows, cols):
    e = normal(seed, rows, cols)
    e[1, :] = 0.0  # a zero row
    e[2, :] = (np.arange(cols, dtype=np.float32) % 17 - 8) * 0.5  # ties: value / scale lands on .5
    e[2, 0] = -8.0
    return e


# GatherBlockQuantized (quantize_axis 1): name, table E [rows, cols], block_size, symmetric
GATHER_CASES = [
    ("gather_sym_40x64_b32", table(20, 40, 64), 32, True),
    ("gather_asym_40x64_b32", table(20, 40, 64), 32, False),
    ("gather_sym_7x45_b16_ragged", table(21, 7, 45), 16, True),
    ("gather_asym_7x45_b16_ragged", table(21, 7, 45), 16, False),
]
IDS = [3, 0, 2, 1, 6]


def b64(a):
    return base64.b64encode(np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes()).decode("ascii")


def matmul_model(w):
    k, n = w.shape
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["Y"], name="matmul")],
        "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [M, k])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [M, n])],
        [numpy_helper.from_array(w, "W")],
    )
    # IR 8 = opset 17; onnx would stamp its newest IR version, which ONNX Runtime may not read yet
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def quantize(w, block, symmetric):
    q = MatMulNBitsQuantizer(matmul_model(w), bits=4, block_size=block, is_symmetric=symmetric, accuracy_level=4)
    q.process()
    model = q.model.model
    (node,) = model.graph.node
    assert node.op_type == "MatMulNBits" and node.domain == "com.microsoft", node
    inits = {t.name: t for t in model.graph.initializer}
    arrays = [numpy_helper.to_array(inits[name]) if name else None for name in node.input[1:]]
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    return model, arrays, attrs


def case(name, w, block, symmetric, run):
    k, n = w.shape
    model, arrays, attrs = quantize(w, block, symmetric)
    b, scales = arrays[0], arrays[1]
    zp = arrays[2] if len(arrays) > 2 else None
    assert attrs == {"K": k, "N": n, "bits": 4, "block_size": block, "accuracy_level": 4}, attrs
    assert b.dtype == np.uint8 and scales.dtype == np.float32
    assert (zp is None) == symmetric
    out = {"name": name, "K": k, "N": n, "block_size": block, "symmetric": symmetric,
           "W": b64(w), "B": b64(b), "B_dims": list(b.shape),
           "scales": b64(scales), "scales_dims": list(scales.shape)}
    if zp is not None:
        assert zp.dtype == np.uint8
        out["zero_points"] = b64(zp)
        out["zero_points_dims"] = list(zp.shape)
    if run:
        x = np.random.default_rng(100 + k + n).standard_normal((M, k)).astype(np.float32)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        (y,) = session.run(None, {"X": x})
        out["M"] = M
        out["X"] = b64(x)
        out["Y"] = b64(y.astype(np.float32))
    return out


def gather_case(name, e, block, symmetric):
    rows, cols = e.shape
    graph = helper.make_graph(
        [helper.make_node("Gather", ["E", "ids"], ["Y"], name="gather", axis=0)],
        "g",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, [len(IDS)])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [len(IDS), cols])],
        [numpy_helper.from_array(e, "E")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    q = MatMulNBitsQuantizer(model, bits=4, block_size=block, is_symmetric=symmetric, accuracy_level=4,
                             op_types_to_quantize=("Gather",), quant_axes=(("Gather", 1),))
    q.process()
    model = q.model.model
    (node,) = model.graph.node
    assert node.op_type == "GatherBlockQuantized" and node.domain == "com.microsoft", node
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    assert attrs == {"gather_axis": 0, "quantize_axis": 1, "block_size": block}, attrs
    inits = {t.name: t for t in model.graph.initializer}
    data, scales = inits[node.input[0]], inits[node.input[2]]
    assert data.data_type == (TensorProto.INT4 if symmetric else TensorProto.UINT4) and list(data.dims) == [rows, cols]
    out = {"name": name, "rows": rows, "cols": cols, "block_size": block, "symmetric": symmetric,
           "E": b64(e), "data": base64.b64encode(data.raw_data).decode("ascii"),
           "scales": b64(numpy_helper.to_array(scales)), "scales_dims": list(scales.dims)}
    if len(node.input) > 3:
        zp = inits[node.input[3]]
        assert zp.data_type == TensorProto.UINT4 and list(zp.dims) == list(scales.dims)
        out["zero_points"] = base64.b64encode(zp.raw_data).decode("ascii")
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"ids": np.array(IDS, np.int64)})
    out["ids"] = IDS
    out["Y"] = b64(y.astype(np.float32))
    return out


def main():
    cases = [case(*c) for c in CASES]
    gather = [gather_case(*c) for c in GATHER_CASES]
    doc = {"generator": "tools/int4_goldens.py",
           "onnxruntime": onnxruntime.__version__, "onnx": onnx.__version__, "numpy": np.__version__,
           "quantizer": "onnxruntime.quantization.matmul_nbits_quantizer.MatMulNBitsQuantizer"
                        "(bits=4, block_size, is_symmetric, accuracy_level=4)",
           "M": M, "cases": cases, "gather_cases": gather}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} MatMulNBits and {len(gather)} GatherBlockQuantized cases to {os.path.relpath(OUT, ROOT)}")


if __name__ == "__main__":
    main()
