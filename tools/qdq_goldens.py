"""Writes runtime/src/test/resources/quantize/qdq-tiny/: a tiny decoder-shaped float model (input_ids -> Gather ->
MatMul -> Relu -> MatMul -> Gemm(transB) -> logits, 2-D float weights), id rows to calibrate on, and what ONNX Runtime's
own static quantizer (quantize_static, QDQ, MinMax, per-channel, reduce_range, QUInt8 activations / QInt8 weights, MatMul and Gemm
outputs left unquantized) makes of it: every scale, zero point and int8 weight, for QdqGoldenTest to match exactly.
Run once with the Python oracle (/work/V/bin/python tools/qdq_goldens.py); never at test time."""
import base64, json, os
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto
import onnxruntime as ort
from onnxruntime.quantization import quantize_static, QuantFormat, QuantType, CalibrationDataReader, CalibrationMethod

out = os.path.join(os.path.dirname(__file__), "..", "runtime", "src", "test", "resources", "quantize", "qdq-tiny")
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(7)
V, H, F = 40, 24, 32
E = rng.standard_normal((V, H)).astype(np.float32)
W1 = (rng.standard_normal((H, F)) * 0.3).astype(np.float32)
W2 = (rng.standard_normal((F, H)) * 0.2).astype(np.float32)
W3 = (rng.standard_normal((V, H)) * 0.5).astype(np.float32)
nodes = [
    helper.make_node("Gather", ["embed", "input_ids"], ["hidden"], name="embed"),
    helper.make_node("MatMul", ["hidden", "up.weight"], ["up"], name="up"),
    helper.make_node("Relu", ["up"], ["act"], name="relu"),
    helper.make_node("MatMul", ["act", "down.weight"], ["down"], name="down"),
    helper.make_node("Gemm", ["down_2d", "head.weight"], ["logits_2d"], name="head", transB=1),
]
# Gemm is 2-D: reshape [1, S, H] -> [S, H] and back
nodes.insert(4, helper.make_node("Reshape", ["down", "shape_2d"], ["down_2d"], name="to2d"))
nodes.append(helper.make_node("Reshape", ["logits_2d", "shape_3d"], ["logits"], name="to3d"))
graph = helper.make_graph(nodes, "qdq-tiny",
    [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"])],
    [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, "sequence", V])],
    [numpy_helper.from_array(E, "embed"), numpy_helper.from_array(W1, "up.weight"),
     numpy_helper.from_array(W2, "down.weight"), numpy_helper.from_array(W3, "head.weight"),
     numpy_helper.from_array(np.array([-1, H], np.int64), "shape_2d"),
     numpy_helper.from_array(np.array([1, -1, V], np.int64), "shape_3d")])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="qdq_goldens")
model.ir_version = 8
onnx.save(model, os.path.join(out, "model.onnx"))

rows = [rng.integers(0, V, size=int(n)).tolist() for n in (7, 12, 5, 9)]
with open(os.path.join(out, "calibration.txt"), "w") as f:
    for r in rows:
        f.write(" ".join(map(str, r)) + "\n")

class Rows(CalibrationDataReader):
    def __init__(self):
        self.it = iter([{"input_ids": np.array([r], np.int64)} for r in rows])
    def get_next(self):
        return next(self.it, None)

qpath = os.path.join(out, "..", "qdq-tiny-ort.onnx")
# reduce_range: 7-bit weights, Stepwise's default, so ONNX Runtime's u8 x s8 kernels cannot saturate on CPUs without VNNI
quantize_static(os.path.join(out, "model.onnx"), qpath, Rows(), quant_format=QuantFormat.QDQ, per_channel=True,
                reduce_range=True,
                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"],
                calibrate_method=CalibrationMethod.MinMax,
                extra_options={"OpTypesToExcludeOutputQuantization": ["MatMul", "Gemm"]})
q = onnx.load(qpath)
os.remove(qpath)
expected = {}
for t in q.graph.initializer:
    if t.name.endswith(("_scale", "_zero_point", "_quantized")):
        a = numpy_helper.to_array(t)
        expected[t.name] = {"data_type": t.data_type, "dims": list(t.dims),
                            "raw": base64.b64encode(np.ascontiguousarray(a).tobytes()).decode()}
ops = {}
for n in q.graph.node:
    ops[n.op_type] = ops.get(n.op_type, 0) + 1
with open(os.path.join(out, "expected.json"), "w") as f:
    json.dump({"onnxruntime": ort.__version__, "op_counts": ops, "initializers": expected}, f, indent=1, sort_keys=True)
print(ops, sorted(expected))
