"""Writes runtime/src/test/resources/tokenizer/transformers-ids.json: the ids transformers' AutoTokenizer gives.

Run from the project root with the oracle venv:  /work/V/bin/python tools/tokenizer_goldens.py
Each case is a shared fixture's tokenizer files, optionally with keys of tokenizer_config.json / tokenizer.json
replaced (value null = key removed), copied into a temporary folder. TextTokenizerGoldenTest builds the same folders
and must produce the same ids. The Java tests never run this script; they read the JSON it wrote.
"""
import json
import os
import re
import shutil
import sys
import tempfile

import tokenizers
import transformers
from transformers import AutoTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.normpath(os.path.join(ROOT, "..", "shared", "fixtures"))
OUT = os.path.join(ROOT, "runtime", "src", "test", "resources", "tokenizer", "transformers-ids.json")
FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "config.json"]

LONG = " ".join(f"word{i} and, more: text!" for i in range(70))  # > 512 tokens: nothing may truncate
PROMPTS = [
    "Hello, my name is",
    " leading space",
    "",
    " ",
    "\n",
    "héllo wörld ✓ 日本語 🙂 Ωμέγα",
    "  two  spaces\nnew line\ttab ",
    "def __init__(self",
    "<s> literal </s> specials <|endoftext|> <pad>",
    LONG,
]

CASES = [
    {"name": "llama", "fixture": "llama-tiny-random-fp16"},
    {"name": "pylm", "fixture": "pylm-llama-trained"},
    {"name": "gpt2", "fixture": "gpt2-fake-tokenizer-50k"},
    {"name": "llama-add-eos", "fixture": "llama-tiny-random-fp16", "tokenizer_config": {"add_eos_token": True}},
    {"name": "llama-no-bos", "fixture": "llama-tiny-random-fp16", "tokenizer_config": {"add_bos_token": False}},
    {"name": "llama-not-legacy", "fixture": "llama-tiny-random-fp16", "tokenizer_config": {"legacy": False}},
    {"name": "llama-no-prefix-space", "fixture": "llama-tiny-random-fp16", "tokenizer_config": {"add_prefix_space": False}},
    {"name": "llama-fast-class", "fixture": "llama-tiny-random-fp16",
     "tokenizer_config": {"tokenizer_class": "LlamaTokenizerFast"}},
    {"name": "llama-generic-class", "fixture": "llama-tiny-random-fp16",
     "tokenizer_config": {"tokenizer_class": "PreTrainedTokenizerFast"}},
    {"name": "llama-no-class", "fixture": "llama-tiny-random-fp16", "tokenizer_config": {"tokenizer_class": None}},
    {"name": "gpt2-no-class", "fixture": "gpt2-fake-tokenizer-50k", "tokenizer_config": {"tokenizer_class": None}},
    {"name": "gpt2-prefix-space", "fixture": "gpt2-fake-tokenizer-50k", "tokenizer_config": {"add_prefix_space": True}},
    {"name": "gpt2-add-bos-eos", "fixture": "gpt2-fake-tokenizer-50k",
     "tokenizer_config": {"add_bos_token": True, "add_eos_token": True}},
    {"name": "pylm-add-eos", "fixture": "pylm-llama-trained", "tokenizer_config": {"add_eos_token": True}},
    {"name": "pylm-add-eos-no-post-processor", "fixture": "pylm-llama-trained",
     "tokenizer_config": {"add_bos_token": True, "add_eos_token": True}, "tokenizer_json": {"post_processor": None}},
]


def apply(path, overrides):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    for key, value in overrides.items():
        if value is None:
            data.pop(key, None) if key != "post_processor" else data.__setitem__(key, None)
        else:
            data[key] = value
    os.chmod(path, 0o644)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False)


def build(case, folder):
    src = os.path.join(FIXTURES, case["fixture"])
    for name in FILES:
        if os.path.exists(os.path.join(src, name)):
            shutil.copy(os.path.join(src, name), folder)
    if "tokenizer_config" in case:
        apply(os.path.join(folder, "tokenizer_config.json"), case["tokenizer_config"])
    if "tokenizer_json" in case:
        apply(os.path.join(folder, "tokenizer.json"), case["tokenizer_json"])


def main():
    out = {
        "made_by": f"transformers {transformers.__version__}, tokenizers {tokenizers.__version__}: "
                   "AutoTokenizer.from_pretrained(folder)(prompt)['input_ids'] (tools/tokenizer_goldens.py)",
        "files": FILES,
        "cases": [],
    }
    for case in CASES:
        with tempfile.TemporaryDirectory() as folder:
            build(case, folder)
            tok = AutoTokenizer.from_pretrained(folder)
            entry = dict(case)
            entry["transformers_class"] = type(tok).__name__
            entry["prompts"] = [{"text": p, "ids": tok(p)["input_ids"]} for p in PROMPTS]
            out["cases"].append(entry)
            print(case["name"], type(tok).__name__, [len(p["ids"]) for p in entry["prompts"]], file=sys.stderr)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    text = json.dumps(out, ensure_ascii=False, indent=1)
    text = re.sub(r"\[[\d,\s]*\]", lambda m: json.dumps(json.loads(m.group(0))), text)  # one line per id list
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
