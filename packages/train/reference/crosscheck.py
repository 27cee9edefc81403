#!/usr/bin/env python3
"""Checks hf_reference.py against independent formulations of the same models, so a mistake in the reference cannot
silently become the expected value of the TypeScript tests:

- GPT-2 through torch.nn.MultiheadAttention and torch's tanh GELU (weights converted from Conv1D's [in, out]);
- Llama/Qwen2/Qwen3 through Meta's original formulation of RoPE: interleaved pairs rotated as complex numbers, on
  q/k projection rows permuted back from the Hugging Face layout (the inverse of the permutation that
  convert_llama_weights_to_hf applies), attention written with einsum and a different GQA expansion.

    python3 crosscheck.py DIR [DIR...]    # prints {"DIR": max |logit difference|, ...}; exit 1 above 1e-4
"""

import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_reference as ref  # noqa: E402


def gpt2_alt(cfg, w, ids):
    E, H, L = cfg["n_embd"], cfg["n_head"], cfg["n_layer"]
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    T = len(ids)
    x = (w["wte.weight"][ids] + w["wpe.weight"][:T])[None]  # [1, T, E]
    # nn.MultiheadAttention's float mask is added to the scores: -inf above the diagonal.
    mask = torch.full((T, T), float("-inf")).triu(1)
    for i in range(L):
        p = f"h.{i}"
        mha = torch.nn.MultiheadAttention(E, H, bias=True, batch_first=True)
        with torch.no_grad():
            mha.in_proj_weight.copy_(w[p + ".attn.c_attn.weight"].T)
            mha.in_proj_bias.copy_(w[p + ".attn.c_attn.bias"])
            mha.out_proj.weight.copy_(w[p + ".attn.c_proj.weight"].T)
            mha.out_proj.bias.copy_(w[p + ".attn.c_proj.bias"])
        mha.eval()
        a = F.layer_norm(x, (E,), w[p + ".ln_1.weight"], w[p + ".ln_1.bias"], eps)
        x = x + mha(a, a, a, attn_mask=mask, need_weights=False)[0]
        m = F.layer_norm(x, (E,), w[p + ".ln_2.weight"], w[p + ".ln_2.bias"], eps)
        m = F.linear(m, w[p + ".mlp.c_fc.weight"].T, w[p + ".mlp.c_fc.bias"])
        m = F.gelu(m, approximate="tanh")
        x = x + F.linear(m, w[p + ".mlp.c_proj.weight"].T, w[p + ".mlp.c_proj.bias"])
    x = F.layer_norm(x, (E,), w["ln_f.weight"], w["ln_f.bias"], eps)
    head = w["wte.weight"] if cfg.get("tie_word_embeddings", True) else w["lm_head.weight"]
    return F.linear(x[0], head)


def to_meta_rows(t, heads, head_dim):
    """Hugging Face q/k rows (per head: first halves, then second halves) -> Meta's interleaved pairs."""
    rest = t.shape[1:]
    return t.reshape(heads, 2, head_dim // 2, *rest).transpose(1, 2).reshape(heads * head_dim, *rest)


def llama_alt(cfg, w, ids):
    mt = cfg["model_type"]
    E, L, H = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"]
    KV = cfg.get("num_key_value_heads") or H
    D = cfg.get("head_dim") or E // H
    eps = cfg.get("rms_norm_eps", 1e-6)
    T = len(ids)

    def norm(x, weight):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight

    inv_freq = ref.rope_inv_freq(cfg, D)
    angles = torch.outer(torch.arange(T, dtype=torch.float32), inv_freq)
    rot = torch.polar(torch.ones_like(angles), angles)  # [T, D/2] complex

    def rope(x):  # x: [T, heads, D], interleaved pairs
        xc = torch.view_as_complex(x.reshape(*x.shape[:-1], -1, 2).contiguous())
        return torch.view_as_real(xc * rot[:, None, :]).flatten(-2)

    x = w["embed_tokens.weight"][ids]
    for i in range(L):
        p = f"layers.{i}.self_attn."
        qb = kb = vb = None
        if mt == "qwen2":
            qb, kb, vb = w[p + "q_proj.bias"], w[p + "k_proj.bias"], w[p + "v_proj.bias"]
        a = norm(x, w[f"layers.{i}.input_layernorm.weight"])
        wq = to_meta_rows(w[p + "q_proj.weight"], H, D)
        wk = to_meta_rows(w[p + "k_proj.weight"], KV, D)
        q = F.linear(a, wq, None if qb is None else to_meta_rows(qb, H, D)).view(T, H, D)
        k = F.linear(a, wk, None if kb is None else to_meta_rows(kb, KV, D)).view(T, KV, D)
        v = F.linear(a, w[p + "v_proj.weight"], vb).view(T, KV, D)
        if mt == "qwen3":
            q = norm(q, to_meta_rows(w[p + "q_norm.weight"], 1, D))
            k = norm(k, to_meta_rows(w[p + "k_norm.weight"], 1, D))
        q, k = rope(q), rope(k)
        # GQA: group g of H/KV query heads shares kv head g.
        qg = q.view(T, KV, H // KV, D)
        scores = torch.einsum("tgrd,sgd->grts", qg, k) / math.sqrt(D)
        scores = scores + torch.full((T, T), float("-inf")).triu(1)
        o = torch.einsum("grts,sgd->tgrd", scores.softmax(-1), v).reshape(T, H * D)
        x = x + F.linear(o, w[p + "o_proj.weight"])
        m = norm(x, w[f"layers.{i}.post_attention_layernorm.weight"])
        mlp = f"layers.{i}.mlp."
        hmid = F.silu(F.linear(m, w[mlp + "gate_proj.weight"])) * F.linear(m, w[mlp + "up_proj.weight"])
        x = x + F.linear(hmid, w[mlp + "down_proj.weight"])
    x = norm(x, w["norm.weight"])
    head = w["embed_tokens.weight"] if cfg.get("tie_word_embeddings", True) else w["lm_head.weight"]
    return F.linear(x, head)


def check(model_dir, seq):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    to_weights, forward = ref.FAMILIES[cfg["model_type"]]
    ids = torch.tensor(seq)
    with torch.no_grad():
        expected = forward(cfg, to_weights(ref.load_weights(model_dir)), ids)
        alt = gpt2_alt if cfg["model_type"] == "gpt2" else llama_alt
        got = alt(cfg, to_weights(ref.load_weights(model_dir)), ids)
    return float((expected - got).abs().max())


def main():
    torch.set_num_threads(1)
    seq = [(i * 7919 + 13) % 50000 for i in range(24)]
    result = {d: check(d, seq) for d in sys.argv[1:]}
    print(json.dumps(result))
    sys.exit(0 if all(v < 1e-4 for v in result.values()) else 1)


if __name__ == "__main__":
    main()
