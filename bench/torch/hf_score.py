"""PyTorch side of the suite's `hf-score` workload (bench/src/hf-score.ts writes the inputs and calls this).

It loads a Hugging Face model folder and computes per-token log-probabilities of given token ids with the model code
of packages/train/reference/hf_reference.py (imported, not copied: the same reference the tests check distill-gate
against), in float32 as that reference computes. Threads: torch.set_num_threads(spec["threads"]); the OpenBLAS pool
is set by OPENBLAS_NUM_THREADS, which hf-score.ts sets before starting this process.

Usage: python3 hf_score.py SPEC.json
SPEC.json: {"model": DIR, "ids": FILE.json ([[ids...], ...]), "threads": N, "repeats": R, "out": FILE.json}
Prints one JSON object: {"loadMs", "loadPeakMiB", "forwardMs": [R values], "tokens", "peakMiB"}; writes the last
repeat's log-probs ([[null, lp1, ...], ...]) to "out".
"""

import json
import os
import resource
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "packages", "train", "reference"))
import hf_reference  # noqa: E402  (the reference's model code: load_weights, FAMILIES, RefusedError)


def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    torch.set_num_threads(spec["threads"])
    with open(spec["ids"]) as f:
        sequences = json.load(f)

    t0 = time.perf_counter()
    with open(os.path.join(spec["model"], "config.json")) as f:
        cfg = json.load(f)
    model_type = cfg.get("model_type")
    if model_type not in hf_reference.FAMILIES:
        print(f"hf_score: refused: model_type {model_type!r} is not implemented", file=sys.stderr)
        sys.exit(3)
    to_weights, forward = hf_reference.FAMILIES[model_type]
    w = to_weights(hf_reference.load_weights(spec["model"]))
    load_ms = (time.perf_counter() - t0) * 1000
    load_peak = peak_mib()

    times = []
    logprobs = []
    with torch.no_grad():
        for _ in range(spec.get("repeats", 1)):
            logprobs = []
            t = time.perf_counter()
            # The reference's forward pass takes one sequence at a time ([T] ids -> [T, vocab] logits).
            for seq in sequences:
                ids = torch.tensor(seq, dtype=torch.int64)
                logits = forward(cfg, w, ids)
                lp = torch.log_softmax(logits[:-1], dim=-1).gather(1, ids[1:, None])[:, 0]
                logprobs.append([None] + lp.tolist())
            times.append((time.perf_counter() - t) * 1000)
    with open(spec["out"], "w") as f:
        json.dump(logprobs, f)
    tokens = sum(len(s) for s in sequences)
    print(json.dumps({"loadMs": load_ms, "loadPeakMiB": load_peak, "forwardMs": times, "tokens": tokens,
                      "peakMiB": peak_mib()}))


if __name__ == "__main__":
    main()
