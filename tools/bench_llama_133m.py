"""The random Llama of README's `bench --matrix` figures (no `random-checkpoint` preset has this size).

hidden 1024, intermediate 2816, 6 layers, 16 heads / 4 KV heads, vocab 32000, untied head: 133M parameters, 532.7 MB
fp32. max_position_embeddings 4096 so a decode at past 2048 fits. No eos, so every bench row runs every step.
Usage: /work/V/bin/python tools/bench_llama_133m.py OUTPUT_DIR
"""
import sys

import torch
from transformers import LlamaConfig, LlamaForCausalLM

torch.manual_seed(0)
config = LlamaConfig(vocab_size=32000, hidden_size=1024, intermediate_size=2816, num_hidden_layers=6,
                     num_attention_heads=16, num_key_value_heads=4, max_position_embeddings=4096,
                     rms_norm_eps=1e-5, tie_word_embeddings=False, bos_token_id=None, eos_token_id=None)
model = LlamaForCausalLM(config).float()
model.save_pretrained(sys.argv[1], safe_serialization=True)
print(sum(p.numel() for p in model.parameters()), "parameters")
