"""LoRA fine-tuning throughput of the PyTorch peer: the Llama of llama.py with its base weights frozen and a
hand-written LoRA (PEFT's formula) on the target projections; forward + backward + clipping + AdamW on the
A/B matrices only, fp32 on the CPU. The weights, the LoRA matrices and the batch (inputs, targets with -100
on masked positions) are read from a safetensors file the engine wrote, so both sides start identical.
Usage: finetune_lora.py CONFIG_JSON LORA_JSON WEIGHTS_FILE STEPS WARMUP THREADS. Prints one JSON line."""
import json
import math
import resource
import struct
import sys
import time

import torch
from torch import nn

from llama import Llama

DTYPES = {"F32": torch.float32, "I32": torch.int32}
# PEFT's target names → the attribute path inside a decoder layer.
TARGETS = {"q_proj": "self_attn", "k_proj": "self_attn", "v_proj": "self_attn", "o_proj": "self_attn",
           "gate_proj": "mlp", "up_proj": "mlp", "down_proj": "mlp"}


class LoraLinear(nn.Module):
    """y = W·x + B·A·dropout(x) · scaling, with W frozen (PEFT's lora.Linear); golden_lora.py's layer plus the
    dropout the studio trains with."""

    def __init__(self, base, rank, alpha, dropout, rslora):
        super().__init__()
        self.base_layer = base
        self.lora_A = nn.Linear(base.in_features, rank, bias=False)
        self.lora_B = nn.Linear(rank, base.out_features, bias=False)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.scaling = alpha / (math.sqrt(rank) if rslora else rank)

    def forward(self, x):
        return self.base_layer(x) + self.lora_B(self.lora_A(self.dropout(x))) * self.scaling


def read_safetensors(path):
    """Yields (name, tensor) one tensor at a time, so the file never sits in memory whole."""
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
        header.pop("__metadata__", None)
        for name, info in header.items():
            begin, end = info["data_offsets"]
            f.seek(8 + length + begin)
            data = bytearray(f.read(end - begin))
            yield name, torch.frombuffer(data, dtype=DTYPES[info["dtype"]]).reshape(info["shape"])


def main():
    config, lora = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    path = sys.argv[3]
    steps, warmup, threads = (int(x) for x in sys.argv[4:7])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = Llama(config)
    model.requires_grad_(False)
    for layer in model.model.layers:
        for target in lora["targets"]:
            parent = getattr(layer, TARGETS[target])
            setattr(parent, target, LoraLinear(getattr(parent, target), lora["rank"], lora["alpha"],
                                               lora["dropout"], lora["rslora"]))
    # PEFT keys put the model under base_model.model and the LoRA matrices beside the wrapped Linear's weight.
    params = {n.replace(".base_layer.", "."): p for n, p in model.named_parameters()}
    batch = {}
    with torch.no_grad():
        for name, value in read_safetensors(path):
            key = name.replace("base_model.model.", "", 1)
            if key in ("inputs", "targets"):
                batch[key] = value.long()
            elif key in params:
                params.pop(key).copy_(value)
            else:
                sys.exit(f"{path}: tensor {name} matches no parameter of the PyTorch model")
    if params:
        sys.exit(f"{path}: no tensor for {', '.join(sorted(params))}")
    inputs, targets = batch["inputs"], batch["targets"]
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=lora["lr"], weight_decay=lora["weight_decay"])
    times, losses = [], []
    for step in range(warmup + steps):
        start = time.perf_counter()
        loss = model.loss(inputs, targets)
        losses.append(loss.item())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if step >= warmup:
            times.append(time.perf_counter() - start)
    times.sort()
    median = times[len(times) // 2]
    print(json.dumps({
        "tokensPerSecond": inputs.numel() / median,
        "stepSeconds": median,
        "losses": losses,
        "trainableParameters": sum(p.numel() for p in trainable),
        "peakRssBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }))


if __name__ == "__main__":
    main()
