"""Goldens for BertForSequenceClassification on the all-MiniLM-L6-v2 body with a seeded head.

The head (pooler.dense, classifier) comes from a 64-bit LCG that BertClassifierCheckpoint.java repeats exactly, so
Java builds the same checkpoint from the fixture without committing 90 MB of weights. transformers' own model and
tokenizer give the ids and probabilities written to
models/src/test/resources/dev/stepwise/models/bert-classifier-golden.json.

Run: /work/V/bin/python tools/bert_classifier_goldens.py   (from the project root; ../shared/fixtures beside it)
"""
import json
import pathlib

import numpy as np
import torch
import transformers
from safetensors.torch import load_file

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURE = ROOT.parent / "shared" / "fixtures" / "all-minilm-l6-v2"
OUT = ROOT / "models/src/test/resources/dev/stepwise/models/bert-classifier-golden.json"

LABELS = ["negative", "neutral", "positive"]
SEED = 20261203
# (tensor, shape, scale): values are (u - 0.5) * scale with u uniform in [0, 1) from the LCG, in this order
HEAD = [("bert.pooler.dense.weight", (384, 384), 0.2), ("bert.pooler.dense.bias", (384,), 0.2),
        ("classifier.weight", (3, 384), 1.0), ("classifier.bias", (3,), 0.2)]
SENTENCES = [
    "I loved this film, the acting was wonderful.",
    "The service was slow and the food arrived cold.",
    "It is a train timetable.",
    "Absolutely terrible.",
    "A quiet afternoon by the lake, reading a book while the sun went down over the hills.",
    "ok",
]


class Lcg:
    """state = state * 6364136223846793005 + 1442695040888963407 (mod 2^64); u = (state >> 40) / 2^24."""

    def __init__(self, seed):
        self.state = seed & (2**64 - 1)

    def values(self, n, scale):
        out = np.empty(n, dtype=np.float32)
        for i in range(n):
            self.state = (self.state * 6364136223846793005 + 1442695040888963407) & (2**64 - 1)
            u = (self.state >> 40) / float(1 << 24)
            out[i] = np.float32((u - 0.5) * scale)
        return out


def main():
    torch.manual_seed(0)
    config = transformers.BertConfig.from_pretrained(FIXTURE)
    config.architectures = ["BertForSequenceClassification"]
    config.id2label = dict(enumerate(LABELS))
    config.label2id = {l: i for i, l in enumerate(LABELS)}
    model = transformers.BertForSequenceClassification(config).eval()
    state = {"bert." + k: v for k, v in load_file(FIXTURE / "model.safetensors").items()}
    lcg = Lcg(SEED)
    for name, shape, scale in HEAD:
        state[name] = torch.from_numpy(lcg.values(int(np.prod(shape)), scale).reshape(shape))
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected, unexpected
    assert all("position_ids" in m for m in missing), missing

    tokenizer = transformers.AutoTokenizer.from_pretrained(FIXTURE)
    batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits
    probs = torch.softmax(logits, dim=-1)
    rows = [tokenizer(s)["input_ids"] for s in SENTENCES]
    golden = {
        "made_by": f"tools/bert_classifier_goldens.py, transformers {transformers.__version__}, torch {torch.__version__}",
        "seed": SEED,
        "head": [[n, list(s), sc] for n, s, sc in HEAD],
        "labels": LABELS,
        "sentences": SENTENCES,
        "input_ids": rows,
        "logits": logits.tolist(),
        "probabilities": probs.tolist(),
    }
    OUT.write_text(json.dumps(golden, indent=1) + "\n")
    print(OUT, probs)


if __name__ == "__main__":
    main()
