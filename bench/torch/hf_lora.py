"""PyTorch side of the suite's `hf-lora` workload (bench/src/hf-lora.ts writes the inputs and calls this).

A plain PyTorch LoRA training loop on a Hugging Face model folder: the frozen base's weights as
packages/train/reference/hf_reference.py loads them (float32), the adapters as leaf tensors with requires_grad
(PEFT's LoRA: y = W x + (alpha / r) B A x, A [r, in], B [out, r], on every projection), a batched float32 forward
pass built from the reference's helpers (imported, not copied), the next-token loss on the target positions only
(the output head on those positions, as distill-gate's training graph computes it), autograd and torch.optim.Adam
on the adapters. Threads: torch.set_num_threads(spec["threads"]); the OpenBLAS pool is set by OPENBLAS_NUM_THREADS,
which hf-lora.ts sets before starting this process.

Usage: python3 hf_lora.py SPEC.json
SPEC.json: {"model": DIR, "records": FILE.json ([[ids...], ...], all of one length), "init": FILE.f32 (A then B of
each adapter, row-major float32), "adapters": [{"projection", "in", "out"}, ...], "rank", "alpha", "learningRate",
"firstTarget" (targets on positions firstTarget .. T-2, each predicting the next token), "batch", "epochs", "threads"}
Prints one JSON object: {"loadMs", "stepMs": [...], "losses": [...] (each step's loss before its update), "totalMs"
(from nothing loaded to the last step's update), "peakMiB"}.
"""

import json
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "packages", "train", "reference"))
import hf_reference as ref  # noqa: E402  (the reference's model code and helpers)


def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def attention(q, k, v, masked, scale):
    """Eager attention of [B, heads, T, D] queries, keys and values: masked scores get the dtype's minimum."""
    scores = (q @ k.transpose(-1, -2)) * scale
    scores = scores.masked_fill(masked, torch.finfo(torch.float32).min)
    return torch.softmax(scores, dim=-1, dtype=torch.float32) @ v


def gpt2_hidden(cfg, w, ids, lora):
    """hf_reference.gpt2_forward on a [B, T] batch, up to the final LayerNorm: [B, T, E]."""
    B, T = ids.shape
    E = cfg["n_embd"]
    H = cfg["n_head"]
    D = E // H
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    inner = cfg.get("n_inner") or 4 * E
    act = ref.GPT2_ACTIVATIONS[cfg.get("activation_function", "gelu_new")]
    scale = (D**-0.5) if cfg.get("scale_attn_weights", True) else 1.0
    x = w["wte.weight"][ids] + w["wpe.weight"][torch.arange(T)]
    masked = ~ref.causal_mask(T)

    def ln(x, p):
        return F.layer_norm(x, (E,), w[p + ".weight"], w[p + ".bias"], eps)

    def conv1d(x, p, n_in, n_out):
        y = x @ ref.expect_shape(w[p + ".weight"], [n_in, n_out], p + ".weight") + w[p + ".bias"]
        return y + ref.lora_delta(lora, p, x)

    def heads(t):
        return t.view(B, T, H, D).transpose(1, 2)

    for i in range(cfg["n_layer"]):
        p = f"h.{i}"
        q, k, v = conv1d(ln(x, p + ".ln_1"), p + ".attn.c_attn", E, 3 * E).split(E, dim=-1)
        layer_scale = scale / (i + 1) if cfg.get("scale_attn_by_inverse_layer_idx", False) else scale
        o = attention(heads(q), heads(k), heads(v), masked, layer_scale).transpose(1, 2).reshape(B, T, E)
        x = x + conv1d(o, p + ".attn.c_proj", E, E)
        m = ln(x, p + ".ln_2")
        x = x + conv1d(act(conv1d(m, p + ".mlp.c_fc", E, inner)), p + ".mlp.c_proj", inner, E)
    return ln(x, "ln_f")


def llama_hidden(cfg, w, ids, lora):
    """hf_reference.llama_forward (Llama, Qwen2, Qwen3) on a [B, T] batch, up to the final RMSNorm: [B, T, E]."""
    model_type = cfg["model_type"]
    B, T = ids.shape
    E = cfg["hidden_size"]
    H = cfg["num_attention_heads"]
    KV = cfg.get("num_key_value_heads") or H
    D = cfg.get("head_dim") or E // H
    inner = cfg["intermediate_size"]
    eps = cfg.get("rms_norm_eps", 1e-6)
    if cfg.get("use_sliding_window") or cfg.get("hidden_act", "silu") not in ("silu", "swish"):
        raise ref.RefusedError("sliding windows and activations other than silu are not implemented")
    if model_type == "qwen2":
        qkv_bias, o_bias, mlp_bias = True, False, False
    else:
        qkv_bias = o_bias = bool(cfg.get("attention_bias", False))
        mlp_bias = bool(cfg.get("mlp_bias", False)) if model_type == "llama" else False
    qk_norm = model_type == "qwen3"

    freqs = torch.arange(T, dtype=torch.float32)[:, None] * ref.rope_inv_freq(cfg, D)[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    masked = ~ref.causal_mask(T)

    def linear(x, p, n_in, n_out, bias):
        y = x @ ref.expect_shape(w[p + ".weight"], [n_out, n_in], p + ".weight").T
        return (y + w[p + ".bias"] if bias else y) + ref.lora_delta(lora, p, x)

    x = w["embed_tokens.weight"][ids]
    for i in range(cfg["num_hidden_layers"]):
        p = f"layers.{i}"
        a = ref.rms_norm(x, w[p + ".input_layernorm.weight"], eps)
        q = linear(a, p + ".self_attn.q_proj", E, H * D, qkv_bias).view(B, T, H, D)
        k = linear(a, p + ".self_attn.k_proj", E, KV * D, qkv_bias).view(B, T, KV, D)
        v = linear(a, p + ".self_attn.v_proj", E, KV * D, qkv_bias).view(B, T, KV, D)
        if qk_norm:
            q = ref.rms_norm(q, w[p + ".self_attn.q_norm.weight"], eps)
            k = ref.rms_norm(k, w[p + ".self_attn.k_norm.weight"], eps)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # [B, heads, T, D]
        q = q * cos + ref.rotate_half(q) * sin
        k = k * cos + ref.rotate_half(k) * sin
        k = k.repeat_interleave(H // KV, dim=1)
        v = v.repeat_interleave(H // KV, dim=1)
        o = attention(q, k, v, masked, D**-0.5).transpose(1, 2).reshape(B, T, H * D)
        x = x + linear(o, p + ".self_attn.o_proj", H * D, E, o_bias)
        m = ref.rms_norm(x, w[p + ".post_attention_layernorm.weight"], eps)
        gate = linear(m, p + ".mlp.gate_proj", E, inner, mlp_bias)
        up = linear(m, p + ".mlp.up_proj", E, inner, mlp_bias)
        x = x + linear(F.silu(gate) * up, p + ".mlp.down_proj", inner, E, mlp_bias)
    return ref.rms_norm(x, w["norm.weight"], eps)


HIDDEN = {"gpt2": (gpt2_hidden, "wte.weight"), "llama": (llama_hidden, "embed_tokens.weight")}
HIDDEN["qwen2"] = HIDDEN["qwen3"] = HIDDEN["llama"]


def read_adapters(spec):
    """The initial adapters as leaf tensors: {projection: (A [r, in], B [out, r])}, and the parameter list."""
    with open(spec["init"], "rb") as f:
        flat = torch.frombuffer(bytearray(f.read()), dtype=torch.float32)
    rank = spec["rank"]
    adapters = {}
    params = []
    at = 0
    for s in spec["adapters"]:
        pair = []
        for rows, cols in ((rank, s["in"]), (s["out"], rank)):
            pair.append(flat[at : at + rows * cols].view(rows, cols).clone().requires_grad_())
            at += rows * cols
        adapters[s["projection"]] = tuple(pair)
        params += pair
    if at != flat.numel():
        raise ValueError(f"{spec['init']}: {flat.numel()} values, the adapters take {at}")
    return adapters, params


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    torch.set_num_threads(spec["threads"])
    with open(spec["records"]) as f:
        records = torch.tensor(json.load(f), dtype=torch.int64)
    T = records.shape[1]
    positions = torch.arange(spec["firstTarget"], T - 1)

    t0 = time.perf_counter()
    with open(os.path.join(spec["model"], "config.json")) as f:
        cfg = json.load(f)
    model_type = cfg.get("model_type")
    if model_type not in HIDDEN:
        print(f"hf_lora: refused: model_type {model_type!r} is not implemented", file=sys.stderr)
        sys.exit(3)
    to_weights, _ = ref.FAMILIES[model_type]
    hidden, embed = HIDDEN[model_type]
    w = to_weights(ref.load_weights(spec["model"]))
    adapters, params = read_adapters(spec)
    lora = {"scale": spec["alpha"] / spec["rank"], "adapters": adapters}
    optimiser = torch.optim.Adam(params, lr=spec["learningRate"], betas=(0.9, 0.999), eps=1e-8)
    load_ms = (time.perf_counter() - t0) * 1000

    step_ms = []
    losses = []
    for _ in range(spec["epochs"]):
        for b in range(0, records.shape[0], spec["batch"]):
            ids = records[b : b + spec["batch"]]
            t = time.perf_counter()
            optimiser.zero_grad(set_to_none=True)
            # The head on the target positions only: [B, targets, vocab] logits.
            logits = ref.lm_head(cfg, w, hidden(cfg, w, ids, lora)[:, positions], embed)
            targets = ids[:, positions + 1]
            # Each target's share of the batch loss: 1 / (targets in the batch), hard targets (probability 1).
            weight = 1.0 / targets.numel()
            per_target = torch.logsumexp(logits, dim=-1) - logits.gather(-1, targets[..., None])[..., 0]
            loss = weight * per_target.sum()
            loss.backward()
            optimiser.step()
            step_ms.append((time.perf_counter() - t) * 1000)
            losses.append(float(loss))
    total_ms = (time.perf_counter() - t0) * 1000
    print(json.dumps({"loadMs": load_ms, "stepMs": step_ms, "losses": losses, "totalMs": total_ms,
                      "peakMiB": peak_mib()}))


if __name__ == "__main__":
    main()
