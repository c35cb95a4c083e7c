"""Goldens for `stepwise pipeline text-generation` (cli Seq2SeqCliTest's sibling TextGenerationPipelineTest).

transformers' own pipeline("text-generation") on the trained pylm-llama-trained fixture, greedy (do_sample=False, as
the test passes with --generate) so the text is deterministic; the pipeline's defaults otherwise (return_full_text:
the prompt followed by the decoded new tokens, special tokens skipped).
Run: V/bin/python tools/text_generation_goldens.py  (writes cli/src/test/resources/text_generation/goldens.json)
"""
import json
import pathlib

import transformers
from transformers import pipeline

root = pathlib.Path(__file__).resolve().parent.parent
fixture = root.parent / "shared" / "fixtures" / "pylm-llama-trained"
prompts = ["def fib(n):", "class Stack:", "import os\n"]
cases = [
    {"generate": {"do_sample": False, "max_new_tokens": 20}},
    {"generate": {"do_sample": False, "max_new_tokens": 12, "num_beams": 3}},
]
pipe = pipeline("text-generation", model=str(fixture), device="cpu")
for case in cases:
    case["outputs"] = [pipe(p, **case["generate"])[0]["generated_text"] for p in prompts]
out = {"made_by": "transformers " + transformers.__version__ + " pipeline('text-generation')", "prompts": prompts,
       "cases": cases}
target = root / "cli" / "src" / "test" / "resources" / "text_generation" / "goldens.json"
target.write_text(json.dumps(out, indent=1) + "\n")
print(json.dumps(out, indent=1))
