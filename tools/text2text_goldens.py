"""Goldens for `stepwise pipeline text2text-generation` (cli Seq2SeqCliTest).

The seq2seq fixtures that are trained (`seq2seq/t5-reverse-trained`: output the input reversed, then its first token)
have no tokenizer, so this script writes one for t5-reverse-trained: a word-level tokenizer.json over its 256 ids
(`<pad>` 0, `</s>` 1, `<unk>` 2, then `w3` ... `w255`; whitespace split, `</s>` appended), built with Hugging Face
tokenizers. Text in, text out: "w5 w77 w12" comes back as "w12 w77 w5 w5".

transformers 5 removed `pipeline("text2text-generation")`; what its last version (4.53) did is done here with
transformers 5.17's tokenizer and `generate`, step by step:
  - generation settings: the pipeline's defaults (max_new_tokens 256, num_beams 4) under what the model's
    generation_config.json sets (values equal to transformers' defaults do not count; a max_length other than 20 there
    drops the default max_new_tokens), then the entry of config.json's task_specific_params for the chosen task, if any;
  - prefix: the task entry's `prefix`, else config.json's top-level `prefix`, else none, prepended to each text;
  - each text tokenized alone (no padding, no truncation) and generated alone (the pipeline's batch size 1);
  - `{"generated_text": tokenizer.decode(ids, skip_special_tokens=True)}` (clean_up_tokenization_spaces False).

Three cases, as the test builds them: the fixture as it is; config.json with a top-level `prefix`; config.json with
task_specific_params and the task chosen.

Run: /work/V/bin/python tools/text2text_goldens.py   (writes cli/src/test/resources/text2text/)
"""
import json
import os
import shutil
import tempfile

import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import AutoModelForSeq2SeqLM, GenerationConfig, PreTrainedTokenizerFast

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE = os.path.join(ROOT, "..", "shared", "fixtures", "seq2seq", "t5-reverse-trained")
OUT = os.path.join(ROOT, "cli", "src", "test", "resources", "text2text")

INPUTS = ["w5 w77 w12 w250 w31 w9", "w8 w199 w45", "w100 w101 w102 w103 w104 w105 w106 w107"]
PREFIX = "w7 w8 "
TASK = "summarization"
TASK_PARAMS = {"prefix": "w3 w4 ", "num_beams": 1, "max_new_tokens": 4}


def write_tokenizer():
    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    for i in range(3, 256):
        vocab[f"w{i}"] = i
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    tok.add_special_tokens(["<pad>", "</s>", "<unk>"])
    tok.save(os.path.join(OUT, "tokenizer.json"))
    with open(os.path.join(OUT, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "pad_token": "<pad>", "eos_token": "</s>",
                   "unk_token": "<unk>", "model_max_length": 512}, f, indent=1)


def checkpoint(tmp, name, config_update):
    d = os.path.join(tmp, name)
    os.makedirs(d)
    for f in os.listdir(FIXTURE):
        shutil.copy(os.path.join(FIXTURE, f), d)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(OUT, f), d)
    with open(os.path.join(d, "config.json")) as f:
        config = json.load(f)
    config.update(config_update)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    return d


def text2text(folder, task=None):
    """What transformers 4.53's Text2TextGenerationPipeline returned for each input."""
    tokenizer = PreTrainedTokenizerFast.from_pretrained(folder)
    model = AutoModelForSeq2SeqLM.from_pretrained(folder, attn_implementation="eager").eval()
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(folder, "generation_config.json")) as f:
        model_generation = json.load(f)
    settings = {"max_new_tokens": 256, "num_beams": 4}
    if model_generation.get("max_length", 20) != 20 and "max_new_tokens" not in model_generation:
        del settings["max_new_tokens"]
    # as _prepare_generation_config(use_model_defaults=True): only the model's values that differ from transformers'
    # defaults win over the pipeline's
    global_defaults = GenerationConfig().to_dict()
    settings.update({k: v for k, v in model_generation.items()
                     if k != "transformers_version" and global_defaults.get(k) != v})
    prefix = config.get("prefix") or ""
    task_params = dict((config.get("task_specific_params") or {}).get(task) or {})
    if "prefix" in task_params:
        prefix = task_params.pop("prefix")
    settings.update(task_params)
    generation = GenerationConfig(**settings)
    results = []
    for text in INPUTS:
        enc = tokenizer(prefix + text, return_tensors="pt")
        with torch.no_grad():
            ids = model.generate(**enc, generation_config=generation)[0]
        results.append({"generated_text": tokenizer.decode(ids, skip_special_tokens=True)})
    return {"task": task, "prefix": prefix, "settings": settings, "results": results}


def main():
    os.makedirs(OUT, exist_ok=True)
    write_tokenizer()
    with tempfile.TemporaryDirectory() as tmp:
        goldens = {
            "made_by": "tools/text2text_goldens.py: transformers 5.17 tokenizer and generate, as transformers 4.53's"
                       " text2text-generation pipeline ran them",
            "inputs": INPUTS,
            "plain": text2text(checkpoint(tmp, "plain", {})),
            "prefix": dict(text2text(checkpoint(tmp, "prefix", {"prefix": PREFIX})), config_prefix=PREFIX),
            "task": dict(text2text(checkpoint(tmp, "task", {"task_specific_params": {TASK: TASK_PARAMS}}), TASK),
                         task_specific_params={TASK: TASK_PARAMS}),
        }
    with open(os.path.join(OUT, "goldens.json"), "w") as f:
        json.dump(goldens, f, indent=1)
    print(json.dumps(goldens, indent=1))


if __name__ == "__main__":
    main()
