"""A tiny random DistilBertForSequenceClassification and transformers' outputs on it, as committed test data.

Writes models/src/test/resources/dev/stepwise/models/distilbert-tiny/: config.json and model.safetensors
(save_pretrained; dim 16, 2 layers, 2 heads, vocab 100, 3 labels, initializer_range 0.4 and perturbed biases and
norms, so the outputs differ between rows) and goldens.json: for right-padded id rows, transformers' last_hidden_state (the DistilBertModel body)
and classification logits.

Run: /work/V/bin/python tools/distilbert_tiny.py   (from the project root)
"""
import json
import pathlib

import torch
import transformers

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "models/src/test/resources/dev/stepwise/models/distilbert-tiny"
ROWS = [[1, 17, 42, 99, 5, 23, 8, 2], [1, 64, 3, 2], [1, 2]]


def main():
    torch.manual_seed(1234)
    config = transformers.DistilBertConfig(vocab_size=100, max_position_embeddings=64, dim=16, n_layers=2,
                                           n_heads=2, hidden_dim=40, pad_token_id=0, initializer_range=0.4,
                                           id2label={0: "a", 1: "b", 2: "c"}, label2id={"a": 0, "b": 1, "c": 2})
    model = transformers.DistilBertForSequenceClassification(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name or "layer_norm" in name:
                p.add_(torch.randn_like(p) * 0.2)
            elif p.dim() == 1:
                p.add_(torch.randn_like(p) * 0.1)
    model.save_pretrained(OUT)
    length = max(len(r) for r in ROWS)
    ids = torch.tensor([r + [0] * (length - len(r)) for r in ROWS])
    mask = torch.tensor([[1] * len(r) + [0] * (length - len(r)) for r in ROWS])
    with torch.no_grad():
        hidden = model.distilbert(input_ids=ids, attention_mask=mask).last_hidden_state
        logits = model(input_ids=ids, attention_mask=mask).logits
    golden = {
        "made_by": f"tools/distilbert_tiny.py, transformers {transformers.__version__}, torch {torch.__version__}",
        "input_ids": ids.tolist(),
        "attention_mask": mask.tolist(),
        "last_hidden_state": hidden.tolist(),
        "logits": logits.tolist(),
    }
    (OUT / "goldens.json").write_text(json.dumps(golden) + "\n")
    print(logits)


if __name__ == "__main__":
    main()
