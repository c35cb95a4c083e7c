"""Writes runtime/src/test/resources/quantize/int4-reference-pylm.json: how ONNX Runtime's own int4 quantizer does
on the trained LLaMA fixture, for QuantizeInt4TrainedLlamaTest to compare Stepwise's int4 with.

Run from the project root with a Python that has onnxruntime (1.30 made the committed file), onnx, numpy and
transformers, on a Stepwise export of the fixture:
    ./stepwise export --model ../shared/fixtures/pylm-llama-trained --output /tmp/pylm --no-validate
    python tools/int4_reference.py /tmp/pylm
ONNX Runtime's MatMulNBitsQuantizer (bits 4, block 32, symmetric, accuracy_level 4, the settings of issue 9's
measurement) quantizes model.onnx; the float and the quantized model then run on the quality gate's built-in
decoder prompts (EvalInputs.DECODER_PROMPTS, copied below), one prompt at a time with an empty past, and the figures
are the gate's: next-token top-1 agreement over every position, mean KL(float || int4) of the next-token
distributions, max |logit difference|. The Java tests never run this script; they read the JSON it wrote.
"""
import json
import os
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime
from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
from transformers import AutoTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "runtime", "src", "test", "resources", "quantize", "int4-reference-pylm.json")

# EvalInputs.DECODER_PROMPTS, in order
PROMPTS = [
    "def moving_average(values, window):\n    \"\"\"Return the averages of each run of `window` values.\"\"\"\n"
    "    if window <= 0:\n        raise ValueError(\"window must be positive\")\n    total = 0\n",
    "import os\nimport sys\n\n\ndef list_files(root):\n    result = []\n    for name in sorted(os.listdir(root)):\n"
    "        path = os.path.join(root, name)\n        if os.path.isfile(path):\n",
    "class Stack:\n    def __init__(self):\n        self._items = []\n\n    def push(self, item):\n"
    "        self._items.append(item)\n\n    def pop(self):\n        return self._items.pop()\n",
    "def parse_header(line):\n    key, sep, value = line.partition(':')\n    if not sep:\n"
    "        return None\n    return key.strip().lower(), value.strip()\n",
    "    for index, item in enumerate(items):\n        if item is None:\n            continue\n"
    "        if isinstance(item, str):\n            item = item.encode('utf-8')\n",
    "try:\n    with open(filename, 'rb') as f:\n        data = f.read()\nexcept OSError as e:\n"
    "    print('cannot read %s: %s' % (filename, e), file=sys.stderr)\n",
    "The weather was cold and the streets were empty, so we stayed inside and read books by the fire.",
    "To install the package, download the archive, unpack it and run the setup script from its folder.",
]

BLOCK_SIZE = 32
SYMMETRIC = True
ACCURACY_LEVEL = 4


def session(path):
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 2
    return onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def feed(s, ids):
    n = len(ids)
    inputs = {}
    for i in s.get_inputs():
        if i.name == "input_ids":
            inputs[i.name] = np.array([ids], np.int64)
        elif i.name == "attention_mask":
            inputs[i.name] = np.ones((1, n), np.int64)
        elif i.name == "position_ids":
            inputs[i.name] = np.arange(n, dtype=np.int64)[None, :]
        else:  # past_key_values.*: empty
            shape = [1 if isinstance(d, str) or d is None else d for d in i.shape]
            shape[0], shape[2] = 1, 0
            inputs[i.name] = np.zeros(shape, np.float32)
    return inputs


def log_softmax(x):
    x = x.astype(np.float64)
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def compare(float_path, quantized_path, rows):
    """The gate's figures for two decoders on the same rows: next-token top-1 agreement over every position, mean
    KL(float || quantized) of the next-token distributions, max |logit difference|."""
    f = session(float_path)
    q = session(quantized_path)
    positions = agreed = 0
    kl = max_diff = 0.0
    for ids in rows:
        a = f.run(["logits"], feed(f, ids))[0][0]
        b = q.run(["logits"], feed(q, ids))[0][0]
        agreed += int((a.argmax(-1) == b.argmax(-1)).sum())
        la, lb = log_softmax(a), log_softmax(b)
        kl += float(np.maximum(0, (np.exp(la) * (la - lb)).sum(-1)).sum())
        max_diff = max(max_diff, float(np.abs(a - b).max()))
        positions += len(ids)
    return {"positions": positions, "top1_agreement": agreed / positions, "mean_kl": kl / positions,
            "max_abs_logit_diff": max_diff}


def main():
    export = sys.argv[1]
    tokenizer = AutoTokenizer.from_pretrained(export)
    rows = [tokenizer(p)["input_ids"] for p in PROMPTS]
    model = onnx.load(os.path.join(export, "model.onnx"))
    quantizer = MatMulNBitsQuantizer(model, block_size=BLOCK_SIZE, is_symmetric=SYMMETRIC,
                                     accuracy_level=ACCURACY_LEVEL)
    quantizer.process()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model_int4.onnx")
        quantizer.model.save_model_to_file(path, use_external_data_format=True)
        counts = {}
        for n in onnx.load(path, load_external_data=False).graph.node:
            counts[n.op_type] = counts.get(n.op_type, 0) + 1
        figures_of_run = compare(os.path.join(export, "model.onnx"), path, rows)
    figures = {
        "tool": "onnxruntime.quantization.matmul_nbits_quantizer.MatMulNBitsQuantizer",
        "onnxruntime": onnxruntime.__version__,
        "model": "Stepwise export of ../shared/fixtures/pylm-llama-trained (model.onnx)",
        "block_size": BLOCK_SIZE,
        "symmetric": SYMMETRIC,
        "accuracy_level": ACCURACY_LEVEL,
        "matmulnbits_nodes": counts.get("MatMulNBits", 0),
        "matmul_nodes_left": counts.get("MatMul", 0),
        "eval": "EvalInputs.DECODER_PROMPTS, one row each, every position",
        **figures_of_run,
    }
    print(json.dumps(figures, indent=2))
    if os.environ.get("INT4_REFERENCE_DRY_RUN") != "1":
        with open(OUT, "w") as out:
            json.dump(figures, out, indent=2)
            out.write("\n")


if __name__ == "__main__":
    main()
