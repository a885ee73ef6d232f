"""Writes the engine's LoRA golden fixture: the independent PyTorch Llama (llama.py) with every projection
wrapped in a hand-written LoRA layer of PEFT's semantics (y = W x + scaling * B(A(x)), A [r, in], B [out, r],
base frozen), its logits, loss, the gradients of every A and B, and the adapter after two AdamW steps.
Usage: /usr/bin/python3 bench/torch/golden_lora.py packages/engine/src/model/fixtures/lora-golden.json"""
import json
import math
import sys

import torch
from torch import nn

from llama import Llama

CONFIG = {
    "vocab_size": 37, "hidden_size": 16, "intermediate_size": 40, "num_hidden_layers": 2,
    "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 4, "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0, "max_position_embeddings": 32, "tie_word_embeddings": False, "attention_bias": False,
}
LORA = {"rank": 3, "alpha": 5.0, "rslora": True,
        "targets": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]}
OPTIMIZER = {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.1, "steps": 2}


class LoraLinear(nn.Module):
    def __init__(self, base, rank, alpha, rslora):
        super().__init__()
        self.base_layer = base
        self.lora_A = nn.Linear(base.in_features, rank, bias=False)
        self.lora_B = nn.Linear(rank, base.out_features, bias=False)
        self.scaling = alpha / math.sqrt(rank) if rslora else alpha / rank

    def forward(self, x):
        return self.base_layer(x) + self.lora_B(self.lora_A(x)) * self.scaling


def values(t):
    return [float(x) for x in t.detach().reshape(-1).tolist()]


def peft_key(name):
    return "base_model.model." + name


def main(path):
    torch.manual_seed(4321)
    model = Llama(CONFIG)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(1 + 0.2 * torch.randn_like(p) if p.dim() == 1 else 0.3 * torch.randn_like(p))
    base = {n: values(p) for n, p in model.named_parameters()}
    for layer in model.model.layers:
        for parent in (layer.self_attn, layer.mlp):
            for target in LORA["targets"]:
                if hasattr(parent, target):
                    setattr(parent, target, LoraLinear(getattr(parent, target), LORA["rank"], LORA["alpha"], LORA["rslora"]))
    adapter = []
    for n, p in model.named_parameters():
        if ".lora_" in n:
            with torch.no_grad():
                # B random rather than zero, so the adapter changes every output and every gradient is non-zero.
                p.copy_(0.3 * torch.randn_like(p))
            adapter.append((peft_key(n), p))
        else:
            p.requires_grad_(False)

    batch, seq = 2, 7
    ids = torch.randint(0, CONFIG["vocab_size"], (batch, seq + 1))
    inputs, targets = ids[:, :-1].contiguous(), ids[:, 1:].contiguous()
    targets[1, 3] = -100
    lora = {n: values(p) for n, p in adapter}
    logits = model(inputs)
    loss = model.loss(inputs, targets)
    loss.backward()
    grads = {n: values(p.grad) for n, p in adapter}

    o = OPTIMIZER
    opt = torch.optim.AdamW([p for _, p in adapter], lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["eps"],
                            weight_decay=o["weight_decay"])
    for p in model.parameters():
        p.grad = None
    losses = []
    for _ in range(o["steps"]):
        step_loss = model.loss(inputs, targets)
        losses.append(step_loss.item())
        step_loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    fixture = {
        "generator": "bench/torch/golden_lora.py (torch %s)" % torch.__version__,
        "config": CONFIG, "lora": LORA, "optimizer": OPTIMIZER, "batch": batch, "seq": seq,
        "inputs": inputs.reshape(-1).tolist(), "targets": targets.reshape(-1).tolist(),
        "base": base, "adapter": lora, "logits": values(logits), "loss": loss.item(), "grads": grads,
        "stepLosses": losses, "adapterAfterSteps": {n: values(p) for n, p in adapter},
    }
    with open(path, "w") as f:
        json.dump(fixture, f, separators=(",", ":"))


if __name__ == "__main__":
    main(sys.argv[1])
