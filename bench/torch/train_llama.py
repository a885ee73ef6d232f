"""Training throughput of the PyTorch Llama peer: forward + backward + AdamW on random tokens, fp32 on the CPU.
Usage: train_llama.py CONFIG_JSON BATCH SEQ STEPS WARMUP THREADS. Prints one JSON line."""
import json
import resource
import sys
import time

import torch

from llama import Llama


def main():
    config = json.loads(sys.argv[1])
    batch, seq, steps, warmup, threads = (int(x) for x in sys.argv[2:7])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = Llama(config)
    decay = [p for n, p in model.named_parameters() if p.dim() == 2 and "embed_tokens" not in n]
    other = [p for n, p in model.named_parameters() if not (p.dim() == 2 and "embed_tokens" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}], lr=3e-4)
    ids = torch.randint(0, config["vocab_size"], (batch, seq + 1))
    inputs, targets = ids[:, :-1].contiguous(), ids[:, 1:].contiguous()
    times = []
    for step in range(warmup + steps):
        start = time.perf_counter()
        loss = model.loss(inputs, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if step >= warmup:
            times.append(time.perf_counter() - start)
    times.sort()
    median = times[len(times) // 2]
    print(json.dumps({
        "tokensPerSecond": batch * seq / median,
        "stepSeconds": median,
        "loss": loss.item(),
        "peakRssBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
