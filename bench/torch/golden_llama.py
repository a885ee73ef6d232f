"""Writes the engine's golden-numbers fixture from the independent PyTorch Llama (llama.py): weights, a batch,
logits, loss, every gradient, and the weights after three clipped AdamW steps.
Usage: python3 bench/torch/golden_llama.py packages/engine/src/model/fixtures/llama-golden.json"""
import json
import sys

import torch

from llama import Llama

CONFIG = {
    "vocab_size": 37, "hidden_size": 16, "intermediate_size": 40, "num_hidden_layers": 2,
    "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 4, "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0, "max_position_embeddings": 32, "tie_word_embeddings": False, "attention_bias": True,
}
OPTIMIZER = {"lr": 0.01, "beta1": 0.9, "beta2": 0.95, "eps": 1e-8, "weight_decay": 0.1, "clip": 1.0, "steps": 3}


def values(t):
    return [float(x) for x in t.detach().reshape(-1).tolist()]


def main(path):
    torch.manual_seed(1234)
    model = Llama(CONFIG)
    with torch.no_grad():
        for p in model.parameters():
            # Well away from the 0.02 init so every path moves the loss visibly; norms stay near one.
            p.copy_(1 + 0.2 * torch.randn_like(p) if p.dim() == 1 and p.shape[0] == CONFIG["hidden_size"] else 0.3 * torch.randn_like(p))
    batch, seq = 2, 9
    ids = torch.randint(0, CONFIG["vocab_size"], (batch, seq + 1))
    inputs, targets = ids[:, :-1].contiguous(), ids[:, 1:].contiguous()
    targets[0, 2] = -100
    targets[1, 7] = -100
    names = [n for n, _ in model.named_parameters()]
    weights = {n: values(p) for n, p in model.named_parameters()}

    logits = model(inputs)
    loss = model.loss(inputs, targets)
    loss.backward()
    grads = {n: values(p.grad) for n, p in model.named_parameters()}

    decay = [p for n, p in model.named_parameters() if p.dim() == 2 and "embed_tokens" not in n]
    other = [p for n, p in model.named_parameters() if not (p.dim() == 2 and "embed_tokens" not in n)]
    o = OPTIMIZER
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": o["weight_decay"]}, {"params": other, "weight_decay": 0.0}],
                            lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["eps"])
    losses = []
    model.zero_grad(set_to_none=True)
    for _ in range(o["steps"]):
        step_loss = model.loss(inputs, targets)
        losses.append(step_loss.item())
        step_loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), o["clip"])
        opt.step()
        opt.zero_grad(set_to_none=True)

    fixture = {
        "generator": "bench/torch/golden_llama.py (torch %s)" % torch.__version__,
        "config": CONFIG, "optimizer": OPTIMIZER, "batch": batch, "seq": seq,
        "inputs": inputs.reshape(-1).tolist(), "targets": targets.reshape(-1).tolist(),
        "parameterOrder": names, "weights": weights,
        "logits": values(logits), "loss": loss.item(), "grads": grads,
        "stepLosses": losses, "weightsAfterSteps": {n: values(p) for n, p in model.named_parameters()},
    }
    with open(path, "w") as f:
        json.dump(fixture, f, separators=(",", ":"))


if __name__ == "__main__":
    main(sys.argv[1])
