#!/usr/bin/env python3
"""PyTorch reference for one LoRA training step on a Hugging Face causal-LM folder: the loss, the adapters'
gradients (autograd) and the adapters after one Adam step (torch.optim.Adam).

Tests run it to check the TypeScript training graph (packages/train/src/families/hf/lora.ts) and its host Adam. The
forward pass is hf_reference.py's (written from transformers' eager modeling code), with PEFT's LoRA added to the
adapted projections (hf_reference.lora_delta). Everything is float32.

    python3 lora_reference.py --model DIR --case FILE.json

FILE.json:
    {"rank": r, "alpha": a, "lr": lr,
     "adapters": {"layers.0.self_attn.q_proj": {"A": [r*in floats], "B": [out*r floats], "in": in, "out": out}, ...},
     "sequences": [[token ids], ...],
     "targets": [{"seq": s, "pos": t, "ids": [ids], "probs": [probs], "weight": w}, ...],
     "dropout": {"rate": p, "seed": s}}   (optional: LoRA dropout with the training graph's masks)
A target is the next token after position t of sequence s: the loss adds
    weight * sum_k probs[k] * (logsumexp(logits[s][t]) - logits[s][t][ids[k]]).
Prints {"loss": L, "grads": {param: [floats]}, "stepped": {param: [floats]}}, params named lora.<projection>.A/B.
With "full": true instead of adapters, every weight of the model is a parameter (named as hf_reference names them).
With "binary": true, the gradients and the stepped values go to CASE.grads.f32 and CASE.stepped.f32 (float32, the
tensors of "order" one after another) and the JSON holds only the loss and the order.
"""

import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_reference as ref  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="Hugging Face model folder")
    parser.add_argument("--case", required=True, help="JSON file: adapters, sequences, targets (see the docstring)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with open(args.case) as f:
        case = json.load(f)
    with open(os.path.join(args.model, "config.json")) as f:
        cfg = json.load(f)
    to_weights, forward = ref.FAMILIES[cfg["model_type"]]
    w = to_weights(ref.load_weights(args.model))
    params = {}
    adapters = {}
    if case.get("full"):
        # Full fine-tuning: every weight of the checkpoint is a parameter (F16/BF16 weights are upcast to float32).
        for name, t in w.tensors.items():
            w.tensors[name] = t.float().clone().requires_grad_()
            params[name] = w.tensors[name]
    rank = case.get("rank", 1)
    for name, spec in case.get("adapters", {}).items():
        a = torch.tensor(spec["A"], dtype=torch.float32).view(rank, spec["in"]).requires_grad_()
        b = torch.tensor(spec["B"], dtype=torch.float32).view(spec["out"], rank).requires_grad_()
        params[f"lora.{name}.A"] = a
        params[f"lora.{name}.B"] = b
        adapters[name] = (a, b)
    lora = {"scale": case.get("alpha", 1) / rank, "adapters": adapters, "index": {p: k for k, p in enumerate(adapters)}}
    dropout = case.get("dropout")
    padded = max(len(seq) for seq in case["sequences"])
    logits = []
    for s, seq in enumerate(case["sequences"]):
        if dropout:
            # The training graph runs the batch right-padded: sequence s's rows start at s * padded.
            lora["dropout"] = {"rate": dropout["rate"], "seed": dropout["seed"], "row0": s * padded}
        logits.append(forward(cfg, w, torch.tensor(seq, dtype=torch.int64), lora))
    loss = torch.zeros((), dtype=torch.float32)
    for t in case["targets"]:
        row = logits[t["seq"]][t["pos"]]
        lse = torch.logsumexp(row, dim=-1)
        ids = torch.tensor(t["ids"], dtype=torch.int64)
        probs = torch.tensor(t["probs"], dtype=torch.float32)
        loss = loss + t["weight"] * (probs * (lse - row[ids])).sum()
    loss.backward()
    order = case.get("order") or list(params)
    grads = [params[name].grad.flatten().clone() for name in order]
    optimiser = torch.optim.Adam(list(params.values()), lr=case["lr"], betas=(0.9, 0.999), eps=1e-8)
    optimiser.step()
    stepped = [params[name].detach().flatten() for name in order]
    if case.get("binary"):
        # Large parameter sets: raw little-endian float32, the tensors of `order` one after another.
        for suffix, values in (("grads", grads), ("stepped", stepped)):
            with open(f"{args.case}.{suffix}.f32", "wb") as f:
                f.write(torch.cat(values).numpy().astype("<f4").tobytes())
        json.dump({"loss": float(loss), "order": order}, sys.stdout)
    else:
        json.dump(
            {
                "loss": float(loss),
                "grads": {name: g.tolist() for name, g in zip(order, grads)},
                "stepped": {name: p.tolist() for name, p in zip(order, stepped)},
            },
            sys.stdout,
        )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
