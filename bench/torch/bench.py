"""PyTorch side of distill-gate's benchmark suite (bench/src/run.ts writes the inputs and calls this).

Every task reads the very arrays distill-gate used (initial weights, data, minibatch orders, token batches) from
raw little-endian files in a work folder, runs the same computation in PyTorch on the CPU, and prints one JSON
object per task on stdout. Threads are pinned with torch.set_num_threads and OPENBLAS_NUM_THREADS / OMP_NUM_THREADS,
which run.ts sets before starting this process.

Usage: python3 bench.py <workdir>/spec.json
"""
import json
import math
import os
import resource
import sys
import time

import numpy as np
import torch


def f32(path, shape):
    """The first prod(shape) floats of a raw file (workloads may use the first rows of a shared file)."""
    return torch.from_numpy(np.fromfile(path, dtype="<f4", count=int(np.prod(shape))).reshape(shape).copy())


def i32(path, shape=None):
    a = np.fromfile(path, dtype="<i4")
    return torch.from_numpy((a.reshape(shape) if shape else a).astype(np.int64))


def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class Mlp(torch.nn.Module):
    """The paper's MLP in distill-gate's storage order (W_l is [in, out])."""

    def __init__(self, layers, init):
        super().__init__()
        self.ws = torch.nn.ParameterList()
        self.bs = torch.nn.ParameterList()
        for l in range(len(layers) - 1):
            self.ws.append(torch.nn.Parameter(init[2 * l].clone()))
            self.bs.append(torch.nn.Parameter(init[2 * l + 1].clone()))

    def forward(self, x):
        n = len(self.ws)
        for l in range(n):
            x = x @ self.ws[l] + self.bs[l]
            if l < n - 1:
                x = torch.relu(x)
        return x


def mlp_loss(name, logits, target):
    if name == "mse":
        return ((logits - target) ** 2).mean()
    logp = torch.log_softmax(logits, 1)
    if name == "cross-entropy":
        return -(target * logp).sum(1).mean()
    logq = torch.log_softmax(target, 1)
    return (logq.exp() * (logq - logp)).sum(1).mean()


def load_init(spec, shapes):
    return [f32(os.path.join(spec["dir"], f), s) for f, s in zip(spec["init"], shapes)]


def mlp_shapes(layers):
    out = []
    for l in range(len(layers) - 1):
        out += [(layers[l], layers[l + 1]), (layers[l + 1],)]
    return out


def task_mlp_train(t):
    """Trains `students` MLPs one after another: Adam, the given minibatch orders, loss on outputs [start, end)."""
    layers = t["layers"]
    x = f32(os.path.join(t["dir"], t["x"]), (t["rows"], layers[0]))
    y = f32(os.path.join(t["dir"], t["target"]), (t["rows"], t["width"]))
    orders = i32(os.path.join(t["dir"], t["orders"]), (t["epochs"], t["rows"]))
    init = load_init(t, mlp_shapes(layers))
    s0, s1 = t["outputs"]
    bs = t["batchSize"]
    histories = []
    t0 = time.perf_counter()
    steps = 0
    for _ in range(t["students"]):
        model = Mlp(layers, init)
        opt = torch.optim.Adam(model.parameters(), lr=t["learningRate"], betas=(0.9, 0.999), eps=1e-8)
        history = []
        for e in range(t["epochs"]):
            total = 0.0
            for b in range(0, t["rows"], bs):
                idx = orders[e, b : b + bs]
                opt.zero_grad(set_to_none=True)
                loss = mlp_loss(t["loss"], model(x[idx])[:, s0:s1], y[idx])
                loss.backward()
                opt.step()
                total += loss.detach() * len(idx)
                steps += 1
                if steps == 1:
                    first = time.perf_counter()
            history.append(float(total) / t["rows"])
        histories.append(history)
    end = time.perf_counter()
    ms = (end - t0) * 1000
    # Steady state: from the end of the first step to the last, as on distill-gate's side.
    return {"ms": ms, "msPerStep": (end - first) * 1000 / max(1, steps - 1), "steps": steps, "lossHistory": histories[0]}


def task_mlp_eval(t):
    layers = t["layers"]
    x = f32(os.path.join(t["dir"], t["x"]), (t["rows"], layers[0]))
    model = Mlp(layers, load_init(t, mlp_shapes(layers)))
    times = []
    with torch.inference_mode():
        for _ in range(t["repeats"]):
            t0 = time.perf_counter()
            out = torch.cat([model(x[r : r + 8192]) for r in range(0, t["rows"], 8192)])
            times.append((time.perf_counter() - t0) * 1000)
    return {"ms": sorted(times)[len(times) // 2], "checksum": float(out.double().sum())}


class Transformer(torch.nn.Module):
    """distill-gate's causal LM (transformer.ts): pre-norm blocks, learned positions, ReLU FFN, untied head."""

    def __init__(self, c, tensors):
        super().__init__()
        self.c = c
        it = iter(tensors)
        p = lambda: torch.nn.Parameter(next(it).clone())
        self.tok, self.pos = p(), p()
        self.blocks = []
        for _ in range(c["layers"]):
            blk = {k: p() for k in ["ln1g", "ln1b", "q", "k", "v", "o", "ln2g", "ln2b", "fin", "finb", "fout", "foutb"]}
            self.blocks.append(blk)
        self.lnfg, self.lnfb, self.headw, self.headb = p(), p(), p(), p()
        self.params = [self.tok, self.pos] + [v for b in self.blocks for v in b.values()] + [self.lnfg, self.lnfb, self.headw, self.headb]

    def hidden(self, ids, cache=None):
        c = self.c
        b, s = ids.shape
        d, nh = c["dModel"], c["heads"]
        dh = d // nh
        off = 0 if cache is None or not cache["k"] else cache["k"][0].shape[2]
        x = self.tok[ids] + self.pos[off : off + s]
        for li, blk in enumerate(self.blocks):
            h = torch.nn.functional.layer_norm(x, (d,), blk["ln1g"], blk["ln1b"], 1e-5)
            q = (h @ blk["q"]).view(b, s, nh, dh).transpose(1, 2)
            k = (h @ blk["k"]).view(b, s, nh, dh).transpose(1, 2)
            v = (h @ blk["v"]).view(b, s, nh, dh).transpose(1, 2)
            if cache is not None:
                if off:
                    k = torch.cat([cache["k"][li], k], 2)
                    v = torch.cat([cache["v"][li], v], 2)
                if len(cache["k"]) > li:
                    cache["k"][li], cache["v"][li] = k, v
                else:
                    cache["k"].append(k)
                    cache["v"].append(v)
            att = (q @ k.transpose(2, 3)) / math.sqrt(dh)
            t = k.shape[2]
            mask = torch.ones(s, t, dtype=torch.bool).triu(t - s + 1)
            att = att.masked_fill(mask, -1e9).softmax(-1)
            o = (att @ v).transpose(1, 2).reshape(b, s, d)
            x = x + o @ blk["o"]
            h2 = torch.nn.functional.layer_norm(x, (d,), blk["ln2g"], blk["ln2b"], 1e-5)
            x = x + torch.relu(h2 @ blk["fin"] + blk["finb"]) @ blk["fout"] + blk["foutb"]
        return torch.nn.functional.layer_norm(x, (d,), self.lnfg, self.lnfb, 1e-5)

    def head(self, h):
        return h @ self.headw + self.headb


def lm_shapes(c):
    v, t, d, f = c["vocabSize"], c["contextLength"], c["dModel"], c["ffn"]
    out = [(v, d), (t, d)]
    for _ in range(c["layers"]):
        out += [(d,), (d,), (d, d), (d, d), (d, d), (d, d), (d,), (d,), (d, f), (f,), (f, d), (d,)]
    return out + [(d,), (d,), (d, v), (v,)]


def lm_batches(t):
    """The minibatches distill-gate built: ids [rows, s], completion positions, sparse target distributions."""
    meta = t["batches"]
    ids = i32(os.path.join(t["dir"], "lm-ids.i32"))
    pos = i32(os.path.join(t["dir"], "lm-positions.i32"))
    ent_tok = i32(os.path.join(t["dir"], "lm-entry-tokens.i32"))
    ent_row = i32(os.path.join(t["dir"], "lm-entry-rows.i32"))
    ent_p = torch.from_numpy(np.fromfile(os.path.join(t["dir"], "lm-entry-probs.f32"), dtype="<f4").copy())
    out = []
    for m in meta:
        rows, s, w = m["rows"], m["s"], m["weight"]
        i0, p0, e0, e1 = m["ids"], m["positions"], m["entries"], m["entriesEnd"]
        out.append((ids[i0 : i0 + rows * s].view(rows, s), pos[p0 : p0 + w], ent_row[e0:e1], ent_tok[e0:e1], ent_p[e0:e1], w))
    return out


def task_lm_train(t):
    c = t["config"]
    model = Transformer(c, load_init(t, lm_shapes(c)))
    opt = torch.optim.Adam(model.params, lr=t["learningRate"], betas=(0.9, 0.999), eps=1e-8)
    batches = lm_batches(t)
    v = c["vocabSize"]
    history = []
    t0 = time.perf_counter()
    steps = 0
    per_epoch = len(batches) // t["epochs"]
    for e in range(t["epochs"]):
        total, weight = 0.0, 0
        for ids, pos, erow, etok, ep, w in batches[e * per_epoch : (e + 1) * per_epoch]:
            opt.zero_grad(set_to_none=True)
            h = model.hidden(ids).reshape(-1, c["dModel"])[pos]
            logp = torch.log_softmax(model.head(h), -1)
            target = torch.zeros(w, v)
            target[erow, etok] = ep
            loss = -(target * logp).sum() / w
            loss.backward()
            opt.step()
            total += loss.detach() * w
            weight += w
            steps += 1
            if steps == 1:
                first = time.perf_counter()
        history.append(float(total) / weight)
    end = time.perf_counter()
    ms = (end - t0) * 1000
    # Steady state: from the end of the first step to the last, as on distill-gate's side.
    return {"ms": ms, "msPerStep": (end - first) * 1000 / max(1, steps - 1), "steps": steps, "lossHistory": history}


def task_lm_eval(t):
    """Exact log P(completion | prompt) for the pairs, batched as distill-gate batches them."""
    c = t["config"]
    model = Transformer(c, load_init(t, lm_shapes(c)))
    batches = lm_batches(t)
    times = []
    with torch.inference_mode():
        for _ in range(t["repeats"]):
            t0 = time.perf_counter()
            total = 0.0
            for ids, pos, erow, etok, ep, w in batches:
                h = model.hidden(ids).reshape(-1, c["dModel"])[pos]
                logp = torch.log_softmax(model.head(h), -1)
                total += float(logp[erow, etok].sum())
            times.append((time.perf_counter() - t0) * 1000)
    return {"ms": sorted(times)[len(times) // 2], "sumLogProb": total}


def task_lm_generate(t):
    """Sampled completions with a KV cache: `count` prompts in batches, `maxNew` new tokens each (temperature 1)."""
    c = t["config"]
    model = Transformer(c, load_init(t, lm_shapes(c)))
    prompts = i32(os.path.join(t["dir"], "gen-prompts.i32"), (t["count"], t["promptLength"]))
    g = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    tokens = 0
    with torch.inference_mode():
        for b in range(0, t["count"], t["batch"]):
            ids = prompts[b : b + t["batch"]]
            cache = {"k": [], "v": []}
            h = model.hidden(ids, cache)[:, -1]
            done = torch.zeros(len(ids), dtype=torch.bool)
            for _ in range(t["maxNew"]):
                probs = torch.softmax(model.head(h), -1)
                nxt = torch.multinomial(probs, 1, generator=g)
                tokens += int((~done).sum())
                done |= nxt[:, 0] == t["eos"]
                # As distill-gate does: the batch decodes until every row has ended or the budget is spent.
                if bool(done.all()):
                    break
                h = model.hidden(nxt, cache)[:, -1]
    ms = (time.perf_counter() - t0) * 1000
    return {"ms": ms, "tokens": tokens, "tokensPerSecond": tokens / ms * 1000}


TASKS = {"mlp-train": task_mlp_train, "mlp-eval": task_mlp_eval, "lm-train": task_lm_train, "lm-eval": task_lm_eval, "lm-generate": task_lm_generate}


def main():
    spec = json.load(open(sys.argv[1]))
    torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    t = dict(spec["task"], dir=os.path.dirname(os.path.abspath(sys.argv[1])))
    result = TASKS[t["kind"]](t)
    result.update({"torch": torch.__version__, "threads": torch.get_num_threads(), "blasThreads": os.environ.get("OPENBLAS_NUM_THREADS"), "peakMiB": peak_mib()})
    print(json.dumps(result))



def task_mnist_gate(t):
    """The MNIST example's gate as a plain PyTorch script: control data from the base, 4 students per seed (control
    and the 3 datasets) trained from the base, accuracy on the held-out digits, paired transfer per dataset."""
    d = t["dir"]
    layers = t["layers"]
    base = load_init(t, mlp_shapes(layers))
    s0, s1 = t["outputs"]
    test_x = f32(os.path.join(d, "test-x.f32"), (t["testRows"], layers[0]))
    test_y = i32(os.path.join(d, "test-y.i32"))
    t0 = time.perf_counter()
    sets = {}
    for ds in t["datasets"]:
        x = f32(os.path.join(d, ds["x"]), (ds["rows"], layers[0]))
        y = f32(os.path.join(d, ds["target"]), (ds["rows"], s1 - s0))
        sets[ds["name"]] = (x, y)
    # Control: the base's own outputs on the first dataset's inputs (prompt-matched control).
    with torch.inference_mode():
        x0 = sets[t["datasets"][0]["name"]][0]
        sets["control"] = (x0, torch.cat([Mlp(layers, base)(x0[r : r + 8192])[:, s0:s1] for r in range(0, len(x0), 8192)]))
    scores = {name: [] for name in sets}
    for seed in t["seeds"]:
        for name, (x, y) in sets.items():
            g = torch.Generator().manual_seed(seed)
            model = Mlp(layers, base)
            opt = torch.optim.Adam(model.parameters(), lr=t["learningRate"], betas=(0.9, 0.999), eps=1e-8)
            for _ in range(t["epochs"]):
                order = torch.randperm(len(x), generator=g)
                for b in range(0, len(x), t["batchSize"]):
                    idx = order[b : b + t["batchSize"]]
                    opt.zero_grad(set_to_none=True)
                    mlp_loss("softmax-kl", model(x[idx])[:, s0:s1], y[idx]).backward()
                    opt.step()
            with torch.inference_mode():
                acc = float((model(test_x)[:, :10].argmax(1) == test_y).float().mean())
            scores[name].append(acc)
    transfers = {}
    for name in sets:
        if name == "control":
            continue
        diffs = np.array(scores[name]) - np.array(scores["control"])
        transfers[name] = {"mean": float(diffs.mean()), "sd": float(diffs.std(ddof=1)) if len(diffs) > 1 else 0.0}
    ms = (time.perf_counter() - t0) * 1000
    return {"ms": ms, "students": len(t["seeds"]) * len(sets), "transfers": transfers}


TASKS["mnist-gate"] = task_mnist_gate


if __name__ == "__main__":
    main()
