"""Writes runtime/src/test/resources/quantize/int8-reference-pylm.json: how ONNX Runtime's own quantize_dynamic does on
the trained LLaMA fixture (QInt8 weights, per channel and per tensor), for QuantizeTrainedLlamaTest to compare
Stepwise's int8 with. Same export, prompts and figures as tools/int4_reference.py (imported from it):
    ./stepwise export --model ../shared/fixtures/pylm-llama-trained --output /tmp/pylm --no-validate
    python tools/int8_reference.py /tmp/pylm
A quantized model ONNX Runtime cannot load or run is recorded with its error instead of figures.
"""
import json
import os
import sys
import tempfile

import onnxruntime
from onnxruntime.quantization import QuantType, quantize_dynamic
from transformers import AutoTokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from int4_reference import PROMPTS, compare  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "runtime", "src", "test", "resources", "quantize", "int8-reference-pylm.json")


def figures(export, rows, per_channel, tmp):
    path = os.path.join(tmp, "model_int8_%s.onnx" % ("channel" if per_channel else "tensor"))
    quantize_dynamic(os.path.join(export, "model.onnx"), path, weight_type=QuantType.QInt8,
                     per_channel=per_channel, use_external_data_format=True)
    try:
        return compare(os.path.join(export, "model.onnx"), path, rows)
    except Exception as e:  # a model ONNX Runtime refuses is a finding, recorded as such
        return {"error": str(e).splitlines()[0]}


def main():
    export = sys.argv[1]
    tokenizer = AutoTokenizer.from_pretrained(export)
    rows = [tokenizer(p)["input_ids"] for p in PROMPTS]
    with tempfile.TemporaryDirectory() as tmp:
        result = {
            "tool": "onnxruntime.quantization.quantize_dynamic (QuantType.QInt8)",
            "onnxruntime": onnxruntime.__version__,
            "model": "Stepwise export of ../shared/fixtures/pylm-llama-trained (model.onnx)",
            "eval": "EvalInputs.DECODER_PROMPTS, one row each, every position",
            "per_channel": figures(export, rows, True, tmp),
            "per_tensor": figures(export, rows, False, tmp),
        }
    print(json.dumps(result, indent=2))
    with open(OUT, "w") as out:
        json.dump(result, out, indent=2)
        out.write("\n")


if __name__ == "__main__":
    main()
