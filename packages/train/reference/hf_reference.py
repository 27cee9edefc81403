#!/usr/bin/env python3
"""PyTorch reference forward pass for Hugging Face causal-LM folders: GPT-2, Llama, Qwen2 and Qwen3.

Tests run it to check the TypeScript loader and forward pass (packages/train/src/families/hf/) against an
independent implementation. It needs only PyTorch (Debian's python3-torch 1.13 is enough): no `transformers`, no
`safetensors` package. It is written from the semantics of transformers' eager modeling code (modeling_gpt2.py,
modeling_llama.py, modeling_qwen2.py, modeling_qwen3.py); each block says which HF module it mirrors. Everything
is computed in float32: F16/BF16 weights are upcast when loaded. Configurations it does not implement (other model
types, RoPE scaling types other than linear and llama3, sliding-window attention, ...) are refused with an error,
never approximated.

    python3 hf_reference.py --model DIR --ids FILE.json

FILE.json holds token id sequences `[[ids...], ...]`. Prints one JSON object:
    {"logprobs": [[null, lp1, lp2, ...], ...], "argmax": [[a0, a1, ...], ...], "logits_sum": S}
where logprobs[s][t] = log_softmax(logits[s][t-1])[ids[s][t]] (natural log; null for t = 0), argmax[s][t] is the
most likely token after position t (what greedy decoding writes next; lowest id on ties) and S is the sum of every
logit of every position of every sequence (a cheap checksum of the whole output).
"""

import argparse
import json
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F

# ------------------------------------------------------------------------------------------------------------------
# Safetensors, parsed by hand: 8-byte little-endian header length N, N bytes of JSON header
# {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}, then the raw little-endian data
# (offsets are relative to the end of the header).

DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}


class RefusedError(Exception):
    """The model uses something this reference does not implement."""


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: not a safetensors file")
    (header_len,) = struct.unpack("<Q", data[:8])
    if 8 + header_len > len(data):
        raise ValueError(f"{path}: header length {header_len} does not fit in {len(data)} bytes")
    header = json.loads(data[8 : 8 + header_len].decode("utf-8"))
    header.pop("__metadata__", None)
    start = 8 + header_len
    tensors = {}
    for name, entry in header.items():
        if entry["dtype"] not in DTYPES:
            raise RefusedError(f"{path}: tensor {name} has unsupported dtype {entry['dtype']}")
        dtype = DTYPES[entry["dtype"]]
        begin, end = entry["data_offsets"]
        shape = entry["shape"]
        count = math.prod(shape)
        item = torch.empty((), dtype=dtype).element_size()
        if end - begin != count * item or start + end > len(data):
            raise ValueError(f"{path}: tensor {name}: byte range [{begin}, {end}) does not match {shape}")
        raw = bytearray(data[start + begin : start + end])
        if count == 0:
            t = torch.empty(shape, dtype=dtype)
        else:
            # Read as bytes, then reinterpret: works for every dtype, BF16 included.
            t = torch.frombuffer(raw, dtype=torch.uint8).view(dtype).reshape(shape)
        tensors[name] = t.float() if t.is_floating_point() else t
    return tensors


def load_weights(model_dir):
    """model.safetensors, or the shards that model.safetensors.index.json's weight_map names."""
    index_path = os.path.join(model_dir, "model.safetensors.index.json")
    single_path = os.path.join(model_dir, "model.safetensors")
    if os.path.exists(index_path):
        with open(index_path) as f:
            weight_map = json.load(f)["weight_map"]
        weights = {}
        for file in sorted(set(weight_map.values())):
            for name, t in read_safetensors(os.path.join(model_dir, file)).items():
                if weight_map.get(name) != file:
                    raise ValueError(f"{file} holds {name}, which the index maps to {weight_map.get(name)}")
                weights[name] = t
        missing = sorted(set(weight_map) - set(weights))
        if missing:
            raise ValueError(f"the index names tensors no shard holds: {missing[:5]}")
        return weights
    if os.path.exists(single_path):
        return read_safetensors(single_path)
    raise RefusedError(f"{model_dir}: no model.safetensors or model.safetensors.index.json")


class Weights:
    """The checkpoint's tensors under normalized names; records which were used, so leftovers are reported."""

    def __init__(self, tensors):
        self.tensors = tensors
        self.used = set()

    def has(self, name):
        return name in self.tensors

    def __getitem__(self, name):
        if name not in self.tensors:
            raise ValueError(f"missing tensor: {name}")
        self.used.add(name)
        return self.tensors[name]

    def check_all_used(self):
        unused = sorted(set(self.tensors) - self.used)
        if unused:
            raise ValueError(f"unexpected tensors in the checkpoint: {unused[:10]}")


def expect_shape(t, shape, name):
    if list(t.shape) != list(shape):
        raise ValueError(f"{name}: shape {list(t.shape)}, expected {list(shape)}")
    return t


def dropout_mask(rows, width, row0, seed, index, rate):
    """LoRA dropout's mask as distill-gate's training graph computes it (graph.ts, DROPOUT_HASH): integer arithmetic,
    so it is reproduced exactly. Rows row0 .. row0 + rows - 1 of the right-padded batch, flattened to [batch * seq]."""
    P = 2147483647
    r = torch.arange(row0, row0 + rows, dtype=torch.int64)[:, None]
    c = torch.arange(width, dtype=torch.int64)[None, :]
    h = ((r * width + c) * 2654435761 + seed * 40503 + index * 1000003) % P
    for _ in range(3):
        h = (h * h + 1013904223) % P
    keep = (h >= math.floor(rate * P + 0.5)).to(torch.float32)
    return keep * torch.tensor(1 / (1 - rate), dtype=torch.float32)


def lora_delta(lora, p, x):
    """PEFT's LoRA on a projection (peft/tuners/lora/layer.py, Linear.forward): scaling * B(A(dropout(x))),
    scaling = alpha / r, A [r, in], B [out, r]; GPT-2's Conv1D uses the same shapes (fan_in_fan_out). `lora` is
    {"scale": s, "adapters": {projection: (A, B)}}, with "dropout": {"rate", "seed", "row0"} and "index":
    {projection: k} when the inputs are dropped; 0 for a projection without an adapter."""
    if not lora or p not in lora["adapters"]:
        return 0
    a, b = lora["adapters"][p]
    d = lora.get("dropout")
    if d:
        x = x * dropout_mask(x.shape[0], x.shape[1], d["row0"], d["seed"], lora["index"][p], d["rate"])
    return lora["scale"] * ((x @ a.T) @ b.T)


def causal_mask(T):
    """True where query t may attend to key s (s <= t). HF builds the same mask (create_causal_mask / GPT-2's bias)."""
    return torch.ones(T, T, dtype=torch.bool).tril()


def lm_head(cfg, w, x, embed_name):
    """The output projection: tied to the input embedding when tie_word_embeddings (HF's default), else lm_head."""
    tied = cfg.get("tie_word_embeddings", True)
    embed = w[embed_name]
    if tied:
        if w.has("lm_head.weight") and not torch.equal(w["lm_head.weight"], embed):
            raise ValueError("tie_word_embeddings is true but lm_head.weight differs from the embedding")
        head = embed
    else:
        head = expect_shape(w["lm_head.weight"], embed.shape, "lm_head.weight")
    return x @ head.T


# ------------------------------------------------------------------------------------------------------------------
# GPT-2 (modeling_gpt2.py: GPT2Model, GPT2Block, GPT2Attention, GPT2MLP, GPT2LMHeadModel).


def gelu_new(x):
    """transformers.activations.NewGELUActivation: the tanh approximation of GELU."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


GPT2_ACTIVATIONS = {
    "gelu_new": gelu_new,
    "gelu_pytorch_tanh": gelu_new,
    "gelu": lambda x: F.gelu(x),
    "relu": F.relu,
}


def gpt2_weights(tensors):
    """GPT2Model names (`h.0.attn.c_attn.weight`, as the hub's openai-community/gpt2 stores them) from either layout:
    GPT2LMHeadModel.save_pretrained prefixes `transformer.`. Old checkpoints also carry the causal-mask buffers
    `h.{i}.attn.bias` [1,1,n_positions,n_positions] and `h.{i}.attn.masked_bias`: dropped here, not weights."""
    out = {}
    for name, t in tensors.items():
        if name.startswith("transformer."):
            name = name[len("transformer.") :]
        parts = name.split(".")
        if len(parts) == 4 and parts[0] == "h" and parts[2] == "attn" and parts[3] in ("bias", "masked_bias"):
            continue
        out[name] = t
    return Weights(out)


def gpt2_forward(cfg, w, ids, lora=None):
    E = cfg["n_embd"]
    H = cfg["n_head"]
    L = cfg["n_layer"]
    D = E // H
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    inner = cfg.get("n_inner") or 4 * E
    act_name = cfg.get("activation_function", "gelu_new")
    if act_name not in GPT2_ACTIVATIONS:
        raise RefusedError(f"activation_function {act_name!r} is not implemented")
    if cfg.get("add_cross_attention"):
        raise RefusedError("add_cross_attention is not implemented")
    act = GPT2_ACTIVATIONS[act_name]
    T = len(ids)
    n_positions = cfg.get("n_positions", 1024)
    if T > n_positions:
        raise ValueError(f"sequence of {T} tokens is longer than n_positions ({n_positions})")
    vocab = cfg["vocab_size"]

    # GPT2Model.forward: token embedding + learned absolute position embedding (dropout is off in eval).
    wte = expect_shape(w["wte.weight"], [vocab, E], "wte.weight")
    wpe = expect_shape(w["wpe.weight"], [n_positions, E], "wpe.weight")
    x = wte[ids] + wpe[torch.arange(T)]
    allowed = causal_mask(T)

    def ln(x, p):
        return F.layer_norm(x, (E,), w[p + ".weight"], w[p + ".bias"], eps)

    def conv1d(x, p, n_in, n_out):
        # transformers.pytorch_utils.Conv1D: weight is [in, out] (transposed vs nn.Linear); y = x @ W + b.
        y = x @ expect_shape(w[p + ".weight"], [n_in, n_out], p + ".weight") + w[p + ".bias"]
        return y + lora_delta(lora, p, x)

    for i in range(L):
        p = f"h.{i}"
        # GPT2Block: pre-LayerNorm residual blocks.
        a = ln(x, p + ".ln_1")
        # GPT2Attention (eager): c_attn makes q, k, v side by side; heads split the last dimension.
        q, k, v = conv1d(a, p + ".attn.c_attn", E, 3 * E).split(E, dim=-1)
        q, k, v = (t.view(T, H, D).transpose(0, 1) for t in (q, k, v))
        scores = q @ k.transpose(-1, -2)
        if cfg.get("scale_attn_weights", True):
            scores = scores / (D**0.5)
        if cfg.get("scale_attn_by_inverse_layer_idx", False):
            scores = scores / float(i + 1)
        # Masked scores get the dtype's minimum (as HF's causal mask does); their probability underflows to 0.
        scores = scores.masked_fill(~allowed, torch.finfo(torch.float32).min)
        probs = torch.softmax(scores, dim=-1, dtype=torch.float32)
        o = (probs @ v).transpose(0, 1).reshape(T, E)
        x = x + conv1d(o, p + ".attn.c_proj", E, E)
        # GPT2MLP: c_fc -> activation -> c_proj.
        m = ln(x, p + ".ln_2")
        x = x + conv1d(act(conv1d(m, p + ".mlp.c_fc", E, inner)), p + ".mlp.c_proj", inner, E)

    x = ln(x, "ln_f")
    # GPT2LMHeadModel.lm_head: tied to wte unless tie_word_embeddings is false.
    return lm_head(cfg, w, x, "wte.weight")


# ------------------------------------------------------------------------------------------------------------------
# Llama, Qwen2, Qwen3 (modeling_llama.py / modeling_qwen2.py / modeling_qwen3.py: *RMSNorm, *RotaryEmbedding,
# rotate_half / apply_rotary_pos_emb, repeat_kv, eager_attention_forward, *Attention, *MLP, *DecoderLayer,
# *Model, *ForCausalLM).


def llama_weights(tensors):
    """LlamaModel names without the `model.` prefix that *ForCausalLM checkpoints carry (a bare *Model checkpoint has
    none); `lm_head.weight` keeps its name. Old checkpoints' `self_attn.rotary_emb.inv_freq` buffers are dropped."""
    out = {}
    for name, t in tensors.items():
        if name.endswith(".rotary_emb.inv_freq"):
            continue
        if name.startswith("model."):
            name = name[len("model.") :]
        out[name] = t
    return Weights(out)


def rms_norm(x, weight, eps):
    """LlamaRMSNorm / Qwen2RMSNorm / Qwen3RMSNorm: x / sqrt(mean(x^2) + eps) in float32, then times the weight."""
    x32 = x.to(torch.float32)
    variance = x32.pow(2).mean(-1, keepdim=True)
    return weight * (x32 * torch.rsqrt(variance + eps))


def rope_parameters(cfg):
    """rope_theta and the scaling dict, from the classic keys (rope_theta, rope_scaling) or transformers v5's
    rope_parameters. Returns (theta, rope_type, params)."""
    params = cfg.get("rope_parameters") or {}
    scaling = cfg.get("rope_scaling") or {}
    merged = {**params, **scaling}
    theta = cfg.get("rope_theta", merged.get("rope_theta", 10000.0))
    rope_type = merged.get("rope_type", merged.get("type", "default"))
    return float(theta), rope_type, merged


def rope_inv_freq(cfg, head_dim):
    """ROPE_INIT_FUNCTIONS in modeling_rope_utils.py: "default", "linear" and "llama3" (Llama 3.1/3.2); other types
    (dynamic, yarn, longrope, ...) are refused."""
    theta, rope_type, params = rope_parameters(cfg)
    if params.get("partial_rotary_factor", cfg.get("partial_rotary_factor", 1.0)) != 1.0:
        raise RefusedError("partial_rotary_factor is not implemented")
    # _compute_default_rope_parameters: 1 / theta^(2i/d), i = 0..d/2-1, computed in float32.
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    if rope_type == "default":
        return inv_freq
    if rope_type == "linear":
        # _compute_linear_scaling_rope_parameters: positions divided by factor, i.e. frequencies divided by factor.
        return inv_freq / params["factor"]
    if rope_type == "llama3":
        # _compute_llama3_parameters: long wavelengths divided by factor, short ones kept, smooth blend between.
        factor = params["factor"]
        low = params["low_freq_factor"]
        high = params["high_freq_factor"]
        old_len = params["original_max_position_embeddings"]
        low_wavelen = old_len / low
        high_wavelen = old_len / high
        wavelen = 2 * math.pi / inv_freq
        scaled = torch.where(wavelen > low_wavelen, inv_freq / factor, inv_freq)
        smooth = (old_len / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
        return torch.where(medium, smoothed, scaled)
    raise RefusedError(f"rope type {rope_type!r} is not implemented")


def rotate_half(x):
    """rotate_half: the two halves of the head dimension (not interleaved pairs) -> (-x2, x1)."""
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def llama_forward(cfg, w, ids, lora=None):
    model_type = cfg["model_type"]
    E = cfg["hidden_size"]
    L = cfg["num_hidden_layers"]
    H = cfg["num_attention_heads"]
    KV = cfg.get("num_key_value_heads") or H
    D = cfg.get("head_dim") or E // H
    inner = cfg["intermediate_size"]
    eps = cfg.get("rms_norm_eps", 1e-6)
    vocab = cfg["vocab_size"]
    if H % KV:
        raise ValueError(f"num_attention_heads {H} is not a multiple of num_key_value_heads {KV}")
    if cfg.get("hidden_act", "silu") not in ("silu", "swish"):
        raise RefusedError(f"hidden_act {cfg.get('hidden_act')!r} is not implemented")
    if cfg.get("use_sliding_window") or "sliding_attention" in (cfg.get("layer_types") or []):
        raise RefusedError("sliding-window attention is not implemented")
    # Biases: Llama has attention_bias (q, k, v and o) and mlp_bias; Qwen2 always has q/k/v biases and no o bias;
    # Qwen3 has attention_bias (q, k, v and o, false in released models) and per-head q_norm/k_norm.
    if model_type == "qwen2":
        qkv_bias, o_bias, mlp_bias = True, False, False
    else:
        qkv_bias = o_bias = bool(cfg.get("attention_bias", False))
        mlp_bias = bool(cfg.get("mlp_bias", False)) if model_type == "llama" else False
    qk_norm = model_type == "qwen3"

    T = len(ids)
    # *RotaryEmbedding.forward: angles = position * inv_freq (float32), duplicated for the two halves.
    inv_freq = rope_inv_freq(cfg, D)
    freqs = torch.arange(T, dtype=torch.float32)[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()  # [T, D]; the attention scaling of these rope types is 1
    allowed = causal_mask(T)

    def linear(x, p, n_in, n_out, bias):
        # nn.Linear: weight is [out, in]; y = x @ W^T + b.
        y = x @ expect_shape(w[p + ".weight"], [n_out, n_in], p + ".weight").T
        return (y + w[p + ".bias"] if bias else y) + lora_delta(lora, p, x)

    # *Model.embed_tokens
    x = expect_shape(w["embed_tokens.weight"], [vocab, E], "embed_tokens.weight")[ids]
    for i in range(L):
        p = f"layers.{i}"
        # *DecoderLayer: pre-norm residual blocks.
        a = rms_norm(x, w[p + ".input_layernorm.weight"], eps)
        # *Attention: project, split heads ([T, heads, D]).
        q = linear(a, p + ".self_attn.q_proj", E, H * D, qkv_bias).view(T, H, D)
        k = linear(a, p + ".self_attn.k_proj", E, KV * D, qkv_bias).view(T, KV, D)
        v = linear(a, p + ".self_attn.v_proj", E, KV * D, qkv_bias).view(T, KV, D)
        if qk_norm:
            # Qwen3Attention: RMSNorm over each head's D values, before RoPE.
            q = rms_norm(q, expect_shape(w[p + ".self_attn.q_norm.weight"], [D], "q_norm"), eps)
            k = rms_norm(k, expect_shape(w[p + ".self_attn.k_norm.weight"], [D], "k_norm"), eps)
        q, k, v = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)  # [heads, T, D]
        # apply_rotary_pos_emb
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        # repeat_kv: kv head j serves query heads j*n_rep .. (j+1)*n_rep - 1.
        k = k.repeat_interleave(H // KV, dim=0)
        v = v.repeat_interleave(H // KV, dim=0)
        # eager_attention_forward: scores * head_dim^-0.5, causal mask, softmax in float32.
        scores = (q @ k.transpose(-1, -2)) * (D**-0.5)
        scores = scores.masked_fill(~allowed, torch.finfo(torch.float32).min)
        probs = torch.softmax(scores, dim=-1, dtype=torch.float32)
        o = (probs @ v).transpose(0, 1).reshape(T, H * D)
        x = x + linear(o, p + ".self_attn.o_proj", H * D, E, o_bias)
        # *MLP (SwiGLU): down(silu(gate(x)) * up(x)).
        m = rms_norm(x, w[p + ".post_attention_layernorm.weight"], eps)
        gate = linear(m, p + ".mlp.gate_proj", E, inner, mlp_bias)
        up = linear(m, p + ".mlp.up_proj", E, inner, mlp_bias)
        x = x + linear(F.silu(gate) * up, p + ".mlp.down_proj", inner, E, mlp_bias)

    x = rms_norm(x, w["norm.weight"], eps)
    # *ForCausalLM.lm_head
    return lm_head(cfg, w, x, "embed_tokens.weight")


# ------------------------------------------------------------------------------------------------------------------

FAMILIES = {
    "gpt2": (gpt2_weights, gpt2_forward),
    "llama": (llama_weights, llama_forward),
    "qwen2": (llama_weights, llama_forward),
    "qwen3": (llama_weights, llama_forward),
}


def run(model_dir, sequences):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    model_type = cfg.get("model_type")
    if model_type not in FAMILIES:
        raise RefusedError(f"model_type {model_type!r} is not implemented (supported: {', '.join(FAMILIES)})")
    to_weights, forward = FAMILIES[model_type]
    w = to_weights(load_weights(model_dir))
    logprobs = []
    argmax = []
    logits_sum = 0.0
    with torch.no_grad():
        for seq in sequences:
            if not seq:
                logprobs.append([])
                argmax.append([])
                continue
            bad = [t for t in seq if not (isinstance(t, int) and 0 <= t < cfg["vocab_size"])]
            if bad:
                raise ValueError(f"token ids outside [0, vocab_size={cfg['vocab_size']}): {bad[:5]}")
            ids = torch.tensor(seq, dtype=torch.int64)
            logits = forward(cfg, w, ids)  # [T, vocab], float32
            logits_sum += float(logits.double().sum())
            lp = torch.log_softmax(logits[:-1], dim=-1).gather(1, ids[1:, None])[:, 0]
            logprobs.append([None] + [float(v) for v in lp])
            # The first maximum (torch.argmax's tie order is unspecified): the lowest id among the equal largest.
            top = logits.max(dim=-1, keepdim=True).values
            ids_range = torch.arange(logits.shape[-1]).expand_as(logits)
            argmax.append([int(v) for v in torch.where(logits == top, ids_range, logits.shape[-1]).min(dim=-1).values])
    if any(sequences):
        w.check_all_used()
    return {"logprobs": logprobs, "argmax": argmax, "logits_sum": logits_sum}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="Hugging Face model folder")
    parser.add_argument("--ids", required=True, help="JSON file holding [[token ids...], ...]")
    args = parser.parse_args()
    # One thread: deterministic results, and tests share few cores.
    torch.set_num_threads(1)
    with open(args.ids) as f:
        sequences = json.load(f)
    try:
        result = run(args.model, sequences)
    except RefusedError as e:
        print(f"hf_reference: refused: {e}", file=sys.stderr)
        sys.exit(3)
    except ValueError as e:
        print(f"hf_reference: {e}", file=sys.stderr)
        sys.exit(2)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
