"""Goldens for forced_bos_token_id / forced_eos_token_id in seq2seq generation (Seq2SeqForcedTokensTest).

transformers' own generate on the shared bart-reverse-trained and t5-reverse-trained fixtures, with
forced_bos_token_id and forced_eos_token_id set, greedy and num_beams=3 (length_penalty 1.0, early_stopping False),
max_new_tokens=8, on the fixtures' own right-padded rows. Run once with /work/V/bin/python; the numbers are committed.
"""
import json
import sys

import torch
from transformers import AutoModelForSeq2SeqLM

FIXTURES = "../shared/fixtures/seq2seq"
OUT = "models/src/test/resources/dev/stepwise/models/seq2seq-forced-goldens.json"
FORCED = {"bart-reverse-trained": (5, 2), "t5-reverse-trained": (7, 1)}

result = {"made_by": f"transformers generate (eager attention), max_new_tokens=8, greedy and num_beams=3,"
                     f" length_penalty=1.0, early_stopping=False; {sys.argv[0]}"}
for name, (bos, eos) in FORCED.items():
    d = f"{FIXTURES}/{name}"
    model = AutoModelForSeq2SeqLM.from_pretrained(d, attn_implementation="eager").eval()
    rows = json.load(open(f"{d}/goldens.json"))["rows"]
    width = max(len(r) for r in rows)
    pad = model.config.pad_token_id
    ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
    entry = {"forced_bos_token_id": bos, "forced_eos_token_id": eos, "rows": rows}
    with torch.no_grad():
        for key, beams in (("greedy", 1), ("beam3", 3)):
            out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=8, num_beams=beams,
                                 do_sample=False, length_penalty=1.0, early_stopping=False,
                                 forced_bos_token_id=bos, forced_eos_token_id=eos)
            entry[key] = out.tolist()
    result[name] = entry
json.dump(result, open(OUT, "w"), indent=1)
print(json.dumps(result))
