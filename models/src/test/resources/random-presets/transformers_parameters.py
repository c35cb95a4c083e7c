"""Lists the parameters transformers creates for every random-checkpoint preset: an oracle, independent of Stepwise,
for the tensors a random checkpoint must hold.

Reads the presets' config.json objects from layouts-before-derivation.txt (the random layouts as they were written by
hand before the layout was derived from each forward) and writes transformers-parameters.txt: for each preset, every
parameter of the model transformers builds from that config, by name and shape, tied parameters once (what
save_pretrained saves). Models are built on the meta device, so even the 7B preset costs no memory.

    /work/V/bin/python transformers_parameters.py      # transformers 5.17, torch 2.13
"""
import json
import pathlib

import torch
import transformers

here = pathlib.Path(__file__).parent
text = (here / "layouts-before-derivation.txt").read_text()

out = [f"# transformers {transformers.__version__}, torch {torch.__version__}; made by transformers_parameters.py"]
for block in text.split("== ")[1:]:
    header, rest = block.split("\n", 1)
    config_text = rest[: rest.index("\n}\n") + 2]
    config = json.loads(config_text)
    model_type = config.pop("model_type")
    config.pop("architectures", None)
    cfg = transformers.AutoConfig.for_model(model_type, **config)
    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(cfg)
    out.append("== " + header)
    for name, p in sorted(model.named_parameters()):
        out.append(f"{name} {list(p.shape)}")
(here / "transformers-parameters.txt").write_text("\n".join(out) + "\n")
