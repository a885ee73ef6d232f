"""Writes the engine's DPO golden fixture: the independent PyTorch Llama (llama.py) with a hand-written LoRA
(golden_lora.py's LoraLinear) trained by the sigmoid DPO loss written out from the paper (Rafailov et al. 2023,
as TRL's loss_type="sigmoid"): three preference pairs laid out chosen rows first, then rejected rows, with the
prompt and padding masked out of the completions' log-probabilities; the reference is the base model (the
adapter off). Records the reference and policy log-probabilities, the chosen and rejected log-ratios, the loss,
the gradients of every A and B, and the adapter after two AdamW steps.
Usage: /usr/bin/python3 bench/torch/golden_dpo.py packages/engine/src/model/fixtures/dpo-golden.json"""
import json
import sys

import torch
import torch.nn.functional as F

from golden_lora import LoraLinear, peft_key, values
from llama import Llama

CONFIG = {
    "vocab_size": 37, "hidden_size": 16, "intermediate_size": 40, "num_hidden_layers": 2,
    "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 4, "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0, "max_position_embeddings": 32, "tie_word_embeddings": False, "attention_bias": False,
}
LORA = {"rank": 3, "alpha": 6.0, "rslora": False,
        "targets": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]}
BETA = 0.2
OPTIMIZER = {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.1, "steps": 2}
# (prompt length, chosen length, rejected length) of each pair: prompts and answers of unequal lengths.
PAIRS = [(4, 3, 5), (2, 6, 2), (5, 4, 4)]


def preference_batch():
    """inputs and targets [2·pairs, seq]: row i the chosen sequence of pair i, row pairs + i its rejected one."""
    rows = []
    for prompt_length, *answers in PAIRS:
        prompt = torch.randint(0, CONFIG["vocab_size"], (prompt_length,)).tolist()
        rows.append([prompt, answers])
    sequences = []
    for side in (0, 1):
        for prompt, answers in rows:
            answer = torch.randint(0, CONFIG["vocab_size"], (answers[side],)).tolist()
            sequences.append((prompt + answer, len(prompt)))
    seq = max(len(ids) for ids, _ in sequences) - 1
    inputs = torch.zeros(len(sequences), seq, dtype=torch.long)
    targets = torch.full((len(sequences), seq), -100, dtype=torch.long)
    for row, (ids, prompt_length) in enumerate(sequences):
        n = len(ids) - 1
        inputs[row, :n] = torch.tensor(ids[:-1])
        # Target t is token t + 1: scored only where it belongs to the answer.
        for t in range(prompt_length - 1, n):
            targets[row, t] = ids[t + 1]
    return inputs, targets


def sequence_log_probs(model, inputs, targets):
    logits = model(inputs)
    mask = targets != -100
    picked = torch.gather(F.log_softmax(logits, dim=-1), 2, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (picked * mask).sum(-1)


def dpo_loss(policy, reference):
    pairs = policy.shape[0] // 2
    chosen_ratio = policy[:pairs] - reference[:pairs]
    rejected_ratio = policy[pairs:] - reference[pairs:]
    return -F.logsigmoid(BETA * (chosen_ratio - rejected_ratio)).mean(), chosen_ratio, rejected_ratio


def main(path):
    torch.manual_seed(2468)
    model = Llama(CONFIG)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(1 + 0.2 * torch.randn_like(p) if p.dim() == 1 else 0.3 * torch.randn_like(p))
    base = {n: values(p) for n, p in model.named_parameters()}
    inputs, targets = preference_batch()
    with torch.no_grad():
        reference = sequence_log_probs(model, inputs, targets)

    for layer in model.model.layers:
        for parent in (layer.self_attn, layer.mlp):
            for target in LORA["targets"]:
                if hasattr(parent, target):
                    setattr(parent, target, LoraLinear(getattr(parent, target), LORA["rank"], LORA["alpha"], LORA["rslora"]))
    adapter = []
    for n, p in model.named_parameters():
        if ".lora_" in n:
            with torch.no_grad():
                # B random rather than zero, so the policy differs from the reference and every gradient is non-zero.
                p.copy_(0.3 * torch.randn_like(p))
            adapter.append((peft_key(n), p))
        else:
            p.requires_grad_(False)
    lora = {n: values(p) for n, p in adapter}

    policy = sequence_log_probs(model, inputs, targets)
    loss, chosen_ratio, rejected_ratio = dpo_loss(policy, reference)
    loss.backward()
    grads = {n: values(p.grad) for n, p in adapter}

    o = OPTIMIZER
    opt = torch.optim.AdamW([p for _, p in adapter], lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["eps"],
                            weight_decay=o["weight_decay"])
    for _, p in adapter:
        p.grad = None
    losses = []
    for _ in range(o["steps"]):
        step_loss = dpo_loss(sequence_log_probs(model, inputs, targets), reference)[0]
        losses.append(step_loss.item())
        step_loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    fixture = {
        "generator": "bench/torch/golden_dpo.py (torch %s)" % torch.__version__,
        "config": CONFIG, "lora": LORA, "beta": BETA, "optimizer": OPTIMIZER,
        "batch": inputs.shape[0], "seq": inputs.shape[1],
        "inputs": inputs.reshape(-1).tolist(), "targets": targets.reshape(-1).tolist(),
        "base": base, "adapter": lora,
        "referenceLogProbs": values(reference), "policyLogProbs": values(policy),
        "chosenLogRatios": values(chosen_ratio), "rejectedLogRatios": values(rejected_ratio),
        "loss": loss.item(), "grads": grads,
        "stepLosses": losses, "adapterAfterSteps": {n: values(p) for n, p in adapter},
    }
    with open(path, "w") as f:
        json.dump(fixture, f, separators=(",", ":"))


if __name__ == "__main__":
    main(sys.argv[1])
