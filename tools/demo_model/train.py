"""Trains the model that `./stepwise demo` runs: a small LLaMA-architecture causal LM (transformers' LlamaForCausalLM,
so Stepwise's `llama` architecture exports it) with its own byte-level BPE tokenizer, on Python source code.

Training text: the top-level `*.py` files of the CPython 3.11 standard library, as installed in this machine's Python
(`/root/.pyenv/versions/3.11.7/lib/python3.11/*.py`, sub-packages and `site-packages` excluded). They are under the
Python Software Foundation License Version 2 (https://docs.python.org/3/license.html), which permits redistribution
and derived works. The files in HELDOUT are not trained on; the validation loss is measured on them.

    /work/V/bin/python tools/demo_model/train.py            # writes cli/src/main/resources/dev/stepwise/cli/demo/

Deterministic on one machine: fixed seeds, one thread (torch.set_num_threads(1)), files read in sorted order.
Writes config.json, generation_config.json, model.safetensors (fp16: the Java reader widens it to fp32 exactly),
tokenizer.json, tokenizer_config.json and training.json (hyper-parameters, steps, losses, time, and continuations by
transformers' generate on the saved fp16 weights widened to fp32, as Stepwise runs them; DemoCommandTest checks the
demo's text against the generation_config ones). `--refresh` rewrites generation_config.json and those samples from the
saved model without training.
"""
import argparse
import glob
import json
import math
import os
import random
import sys
import time

import numpy as np
import tokenizers
import torch
import transformers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "cli", "src", "main", "resources", "dev", "stepwise", "cli", "demo")
STDLIB = "/root/.pyenv/versions/3.11.7/lib/python3.11"
# Held out for the validation loss: a spread of sizes and styles, about 5% of the text.
HELDOUT = ["bisect.py", "calendar.py", "colorsys.py", "fnmatch.py", "heapq.py", "shlex.py", "textwrap.py",
           "uuid.py", "zipapp.py"]
SPECIALS = ["<s>", "</s>", "<pad>"]  # ids 0, 1, 2: bos, eos, pad
# Prompts end where a token ends: "def " would end on a lone space token that byte-level BPE almost never puts before
# a name (" name" is one token), so the model would be asked about a context it has not seen.
PROMPTS = ["def fib(n):", "import os\n", "class Stack:", "    for i in range("]
# The settings `stepwise demo` generates with (generation_config.json): greedy with transformers' repetition penalty,
# which keeps a model this small from looping on its most likely line.
GENERATION = dict(max_new_tokens=48, do_sample=False, repetition_penalty=1.2)

VOCAB = 3072
MODEL = dict(hidden_size=192, intermediate_size=512, num_hidden_layers=4, num_attention_heads=6, num_key_value_heads=2,
             head_dim=32, max_position_embeddings=512, rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=True)
TRAIN = dict(seq=256, batch=16, steps=540, lr=3e-3, min_lr=3e-4, warmup=30, weight_decay=0.1, clip=1.0, seed=0)


def read_corpus():
    files = sorted(glob.glob(os.path.join(STDLIB, "*.py")))
    if not files:
        sys.exit(STDLIB + ": no .py files (this script reads CPython 3.11's standard library there)")
    missing = [h for h in HELDOUT if not os.path.isfile(os.path.join(STDLIB, h))]
    if missing:
        sys.exit("held-out files not found in %s: %s" % (STDLIB, missing))
    train, held = [], []
    for f in files:
        with open(f, encoding="utf-8") as fh:
            text = fh.read()
        (held if os.path.basename(f) in HELDOUT else train).append((os.path.basename(f), text))
    return train, held


def train_tokenizer(texts):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    # Prompts get BOS as every training file does, the way transformers' LLaMA tokenizers add it.
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 0)])
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=SPECIALS, min_frequency=2,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def stream(tok, docs):
    """One token stream: each file as <s> text </s>."""
    ids = []
    for _, text in docs:
        ids.append(0)
        ids.extend(tok.encode(text, add_special_tokens=False).ids)
        ids.append(1)
    return torch.tensor(ids, dtype=torch.long)


@torch.no_grad()
def heldout_loss(model, data, seq):
    model.eval()
    total, count = 0.0, 0
    n = (len(data) - 1) // seq
    for i in range(0, n, 16):
        rows = torch.stack([data[j * seq:(j + 1) * seq + 1] for j in range(i, min(n, i + 16))])
        out = model(input_ids=rows, labels=rows)  # transformers shifts the labels itself
        k = rows.shape[0] * seq
        total += out.loss.item() * k
        count += k
    model.train()
    return total / count


def lr_at(step):
    t = TRAIN
    if step < t["warmup"]:
        return t["lr"] * (step + 1) / t["warmup"]
    p = (step - t["warmup"]) / max(1, t["steps"] - t["warmup"])
    return t["min_lr"] + 0.5 * (t["lr"] - t["min_lr"]) * (1 + math.cos(math.pi * p))


def samples(out_dir):
    """transformers' own continuations from the saved files (fp16 weights widened to fp32): with generation_config.json
    (greedy, repetition penalty), plain greedy, and sampled."""
    tokenizer = PreTrainedTokenizerFast.from_pretrained(out_dir)
    model = LlamaForCausalLM.from_pretrained(out_dir, dtype=torch.float32).eval()
    result = []
    for prompt in PROMPTS:
        ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            configured = model.generate(ids)  # generation_config.json
            greedy = model.generate(ids, max_new_tokens=48, do_sample=False, repetition_penalty=1.0)
            torch.manual_seed(0)
            sampled = model.generate(ids, max_new_tokens=48, do_sample=True, temperature=0.7, top_k=40)
        n = ids.shape[1]
        result.append({"prompt": prompt, "prompt_ids": ids[0].tolist(),
                       "generation_config_ids": configured[0, n:].tolist(),
                       "generation_config": tokenizer.decode(configured[0, n:], skip_special_tokens=True),
                       "greedy": tokenizer.decode(greedy[0, n:], skip_special_tokens=True),
                       "sampled_t0.7_k40_seed0": tokenizer.decode(sampled[0, n:], skip_special_tokens=True)})
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=OUT)
    ap.add_argument("--steps", type=int, default=TRAIN["steps"])
    ap.add_argument("--refresh", action="store_true",
                    help="no training: rewrite generation_config.json and the samples in training.json of --out")
    args = ap.parse_args()
    if args.refresh:
        return refresh(args.out)
    TRAIN["steps"] = args.steps
    torch.set_num_threads(1)
    random.seed(TRAIN["seed"])
    np.random.seed(TRAIN["seed"])
    torch.manual_seed(TRAIN["seed"])
    started = time.time()

    train_docs, held_docs = read_corpus()
    tok = train_tokenizer([t for _, t in train_docs])
    train_ids, held_ids = stream(tok, train_docs), stream(tok, held_docs)
    print("corpus: %d train files (%d tokens), %d held out (%d tokens), vocab %d"
          % (len(train_docs), len(train_ids), len(held_docs), len(held_ids), tok.get_vocab_size()), flush=True)

    config = LlamaConfig(vocab_size=VOCAB, bos_token_id=0, eos_token_id=1, pad_token_id=2, **MODEL)
    model = LlamaForCausalLM(config)
    params = sum(p.numel() for p in model.parameters())
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": TRAIN["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}], lr=TRAIN["lr"], betas=(0.9, 0.95))
    gen = torch.Generator().manual_seed(TRAIN["seed"])
    seq, batch = TRAIN["seq"], TRAIN["batch"]
    log = []
    train_started = time.time()
    initial = heldout_loss(model, held_ids, seq)
    print("params %d, initial held-out loss %.4f" % (params, initial), flush=True)
    model.train()
    for step in range(TRAIN["steps"]):
        starts = torch.randint(0, len(train_ids) - seq - 1, (batch,), generator=gen)
        rows = torch.stack([train_ids[s:s + seq + 1] for s in starts.tolist()])
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        loss = model(input_ids=rows, labels=rows).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), TRAIN["clip"])
        opt.step()
        if step % 50 == 0 or step == TRAIN["steps"] - 1:
            entry = {"step": step, "train_loss": round(loss.item(), 4), "seconds": round(time.time() - train_started, 1)}
            if step == 0 or step == TRAIN["steps"] - 1:  # held-out loss at the start and the end
                entry["heldout_loss"] = round(heldout_loss(model, held_ids, seq), 4)
            log.append(entry)
            print(json.dumps(entry), flush=True)
    train_seconds = time.time() - train_started
    final = heldout_loss(model, held_ids, seq)

    os.makedirs(args.out, exist_ok=True)
    model.to(torch.float16)
    model.save_pretrained(args.out)
    PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                            model_max_length=MODEL["max_position_embeddings"]).save_pretrained(args.out)
    GenerationConfig(bos_token_id=0, eos_token_id=1, pad_token_id=2, **GENERATION).save_pretrained(args.out)
    # the fp16 file as Stepwise reads it (widened to fp32): its loss too
    reloaded = LlamaForCausalLM.from_pretrained(args.out, dtype=torch.float32)
    final_fp16 = heldout_loss(reloaded, held_ids, seq)

    report = {
        "what": "LLaMA-architecture causal LM trained from scratch for `stepwise demo` (tools/demo_model/train.py)",
        "data": {"source": STDLIB + "/*.py (CPython 3.11.7 standard library, top-level modules only)",
                 "license": "Python Software Foundation License Version 2",
                 "train_files": len(train_docs), "train_tokens": len(train_ids),
                 "heldout_files": HELDOUT, "heldout_tokens": len(held_ids)},
        "tokenizer": {"type": "byte-level BPE (tokenizers %s)" % tokenizers.__version__, "vocab_size": VOCAB,
                      "specials": SPECIALS, "post_processor": "<s> $A"},
        "model": dict(MODEL, vocab_size=VOCAB, params=params, stored_dtype="float16",
                      safetensors_bytes=os.path.getsize(os.path.join(args.out, "model.safetensors"))),
        "training": dict(TRAIN, tokens_seen=TRAIN["steps"] * batch * seq, optimizer="AdamW betas (0.9, 0.95), cosine lr",
                         threads=1, seconds=round(train_seconds, 1), cpu=cpu_name()),
        "losses": {"initial_heldout": round(initial, 4), "final_train": log[-1]["train_loss"],
                   "final_heldout": round(final, 4), "final_heldout_fp16": round(final_fp16, 4),
                   "final_heldout_perplexity": round(math.exp(final), 2), "log": log},
        "generation_config": GENERATION,
        "samples_transformers_fp32": samples(args.out),
        "made_by": "transformers %s, torch %s, tokenizers %s" % (transformers.__version__, torch.__version__,
                                                                 tokenizers.__version__),
        "total_seconds": round(time.time() - started, 1),
    }
    with open(os.path.join(args.out, "training.json"), "w") as fh:
        json.dump(report, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
    for s in report["samples_transformers_fp32"]:
        print(repr(s["prompt"]), "->", repr(s["greedy"]))
    print("held-out loss %.4f (fp16 file %.4f), %.1f s training" % (final, final_fp16, train_seconds))


def refresh(out_dir):
    """The parts of the output that do not depend on training, recomputed from the saved model."""
    torch.set_num_threads(1)
    GenerationConfig(bos_token_id=0, eos_token_id=1, pad_token_id=2, **GENERATION).save_pretrained(out_dir)
    path = os.path.join(out_dir, "training.json")
    with open(path) as fh:
        report = json.load(fh)
    report["generation_config"] = GENERATION
    report["samples_transformers_fp32"] = samples(out_dir)
    with open(path, "w") as fh:
        json.dump(report, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
    for s in report["samples_transformers_fp32"]:
        print(repr(s["prompt"]), "->", repr(s["generation_config"]))


def cpu_name():
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    main()
