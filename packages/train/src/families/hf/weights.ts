/**
 * The weights of a Hugging Face causal LM: every tensor the architecture needs, under the names Hugging Face saves
 * (GPT-2 with or without the `transformer.` prefix, Conv1D weights laid out [in, out]; Llama/Qwen/Mistral under
 * `model.`, Linear weights laid out [out, in], with `lm_head.weight` unless the head is tied), each checked against
 * the shape config.json implies before it is read. Tensors a checkpoint carries that the architecture does not use
 * are refused (they mean config.json and the weights disagree), except buffers Hugging Face itself ignores.
 */
import { availableMemory } from '../../memory.js';
import { DistillGateError } from '@distill-gate/core';
import { TensorArena } from '../../onnx/external.js';
import { pointerTo, readCheckpointTensor, type SafetensorsCheckpoint } from '../../safetensors.js';
import type { HfArchitecture } from './config.js';

/** One tensor the graph needs: its name without the checkpoint's prefix, and its shape. */
export interface HfTensorSpec {
  name: string;
  shape: number[];
}

/**
 * The weights as float32, by prefix-free name, in the order `hfTensorSpecs` lists them. Read from a checkpoint,
 * each tensor is a view into `arena`, whose buffers the graph hands onnxruntime as external data.
 */
export interface HfWeights {
  tensors: Map<string, Float32Array>;
  specs: HfTensorSpec[];
  arena?: TensorArena;
}

/**
 * The estimated peak memory of loading a model, from its float32 weight bytes W: the host copy (read into the
 * external-data arena), onnxruntime's own copy of every initializer and its pre-packed copies of the matrix weights,
 * all alive while the session starts, plus node, onnxruntime and the tokenizer. Measured peak RSS (CPU provider):
 * 1.44-1.62 GB for GPT-2 124M (W = 0.50 GB), 5.09-5.25 GB for a Qwen2.5-0.5B shape (W = 1.98 GB), i.e. about
 * 2.4 W + 0.4 GB; the estimate, 3 W + 0.54 GB, leaves room for the first runs' intermediates.
 */
export const LOAD_PEAK_PER_WEIGHT_BYTE = 3;
export const LOAD_BASE_BYTES = 512 * 2 ** 20;

export function estimateLoadPeak(weightBytes: number): number {
  return LOAD_PEAK_PER_WEIGHT_BYTE * weightBytes + LOAD_BASE_BYTES;
}

export { availableMemory };

const gb = (bytes: number) => `${(bytes / 1e9).toFixed(2)} GB`;

/** Refuses weights whose load would not fit in `memory` bytes, before any tensor is read. */
export function checkLoadMemory(weightBytes: number, memory: number, file: string): void {
  const peak = estimateLoadPeak(weightBytes);
  if (peak > memory)
    throw new DistillGateError(
      `the weights take ${gb(weightBytes)} as float32; loading them takes about ${gb(peak)} of memory ` +
        `(${LOAD_PEAK_PER_WEIGHT_BYTE}x the float32 weights + ${gb(LOAD_BASE_BYTES)}) ` +
        `and this machine has ${gb(memory)}`,
      { file },
      'use a smaller model, or a machine with more memory',
    );
}

/** The tensors a GPT-2 checkpoint holds, prefix-free (Conv1D weights are [in, out]). */
function gpt2Specs(a: HfArchitecture): HfTensorSpec[] {
  const d = a.hidden;
  const specs: HfTensorSpec[] = [
    { name: 'wte.weight', shape: [a.vocabSize, d] },
    { name: 'wpe.weight', shape: [a.maxPositions, d] },
  ];
  for (let l = 0; l < a.layers; l++) {
    const p = `h.${l}`;
    specs.push(
      { name: `${p}.ln_1.weight`, shape: [d] },
      { name: `${p}.ln_1.bias`, shape: [d] },
      { name: `${p}.attn.c_attn.weight`, shape: [d, 3 * d] },
      { name: `${p}.attn.c_attn.bias`, shape: [3 * d] },
      { name: `${p}.attn.c_proj.weight`, shape: [d, d] },
      { name: `${p}.attn.c_proj.bias`, shape: [d] },
      { name: `${p}.ln_2.weight`, shape: [d] },
      { name: `${p}.ln_2.bias`, shape: [d] },
      { name: `${p}.mlp.c_fc.weight`, shape: [d, a.intermediate] },
      { name: `${p}.mlp.c_fc.bias`, shape: [a.intermediate] },
      { name: `${p}.mlp.c_proj.weight`, shape: [a.intermediate, d] },
      { name: `${p}.mlp.c_proj.bias`, shape: [d] },
    );
  }
  specs.push({ name: 'ln_f.weight', shape: [d] }, { name: 'ln_f.bias', shape: [d] });
  if (!a.tiedEmbeddings) specs.push({ name: 'lm_head.weight', shape: [a.vocabSize, d] });
  return specs;
}

/** The tensors of Llama, Mistral, Qwen2 and Qwen3, prefix-free (Linear weights are [out, in]). */
function llamaSpecs(a: HfArchitecture): HfTensorSpec[] {
  const d = a.hidden;
  const q = a.heads * a.headDim;
  const kv = a.kvHeads * a.headDim;
  const specs: HfTensorSpec[] = [{ name: 'embed_tokens.weight', shape: [a.vocabSize, d] }];
  const linear = (name: string, out: number, inp: number, bias: boolean) => {
    specs.push({ name: `${name}.weight`, shape: [out, inp] });
    if (bias) specs.push({ name: `${name}.bias`, shape: [out] });
  };
  for (let l = 0; l < a.layers; l++) {
    const p = `layers.${l}`;
    specs.push({ name: `${p}.input_layernorm.weight`, shape: [d] });
    linear(`${p}.self_attn.q_proj`, q, d, a.bias.qkv);
    linear(`${p}.self_attn.k_proj`, kv, d, a.bias.qkv);
    linear(`${p}.self_attn.v_proj`, kv, d, a.bias.qkv);
    linear(`${p}.self_attn.o_proj`, d, q, a.bias.o);
    if (a.qkNorm)
      specs.push(
        { name: `${p}.self_attn.q_norm.weight`, shape: [a.headDim] },
        { name: `${p}.self_attn.k_norm.weight`, shape: [a.headDim] },
      );
    specs.push({ name: `${p}.post_attention_layernorm.weight`, shape: [d] });
    linear(`${p}.mlp.gate_proj`, a.intermediate, d, a.bias.mlp);
    linear(`${p}.mlp.up_proj`, a.intermediate, d, a.bias.mlp);
    linear(`${p}.mlp.down_proj`, d, a.intermediate, a.bias.mlp);
  }
  specs.push({ name: 'norm.weight', shape: [d] });
  if (!a.tiedEmbeddings) specs.push({ name: 'lm_head.weight', shape: [a.vocabSize, d] });
  return specs;
}

/** Every tensor the architecture's graph reads, in a fixed order (the order they are hashed in). */
export function hfTensorSpecs(a: HfArchitecture): HfTensorSpec[] {
  return a.modelType === 'gpt2' ? gpt2Specs(a) : llamaSpecs(a);
}

/** Buffers some checkpoints carry that Hugging Face recomputes or ignores (causal-mask and rotary caches). */
const IGNORED = [/^h\.\d+\.attn\.(bias|masked_bias)$/, /^layers\.\d+\.self_attn\.rotary_emb\.inv_freq$/];

/**
 * The name each spec has in the checkpoint: GPT-2 with or without `transformer.`, the others with or without
 * `model.` (`lm_head.weight` never has it). The prefix is the one the token embedding is found under.
 */
function checkpointNames(a: HfArchitecture, ckpt: SafetensorsCheckpoint): (name: string) => string {
  const [prefix, embed] = a.modelType === 'gpt2' ? ['transformer.', 'wte.weight'] : ['model.', 'embed_tokens.weight'];
  const prefixed = ckpt.tensors.has(prefix + embed) || !ckpt.tensors.has(embed);
  return (name) => (prefixed && name !== 'lm_head.weight' ? prefix + name : name);
}

/** The first file of the checkpoint that names a tensor (the index for a sharded one). */
const whereIs = (ckpt: SafetensorsCheckpoint) => ckpt.index ?? ckpt.files[0];

/**
 * Checks that the checkpoint holds exactly the tensors the architecture needs, with the shapes config.json implies,
 * and that loading their float32 copies fits in `memory` bytes; returns the checkpoint name of each spec.
 */
export function planHfWeights(
  a: HfArchitecture,
  ckpt: SafetensorsCheckpoint,
  memory: number = availableMemory(),
): { specs: HfTensorSpec[]; names: string[] } {
  const specs = hfTensorSpecs(a);
  const nameOf = checkpointNames(a, ckpt);
  const names = specs.map((s) => nameOf(s.name));
  let bytes = 0;
  specs.forEach((s, i) => {
    const t = ckpt.tensors.get(names[i]);
    if (!t)
      throw new DistillGateError(
        `tensor "${names[i]}" is missing: a ${a.modelType} model with this config.json needs it, shape [${s.shape}]`,
        { file: whereIs(ckpt) },
        s.name === 'lm_head.weight' ? 'config.json says the output head is not tied (tie_word_embeddings)' : undefined,
      );
    if (t.entry.shape.join() !== s.shape.join())
      throw new DistillGateError(
        `tensor "${names[i]}" has shape [${t.entry.shape}]; config.json implies [${s.shape}]`,
        { file: t.file, pointer: pointerTo(names[i]) },
      );
    bytes += s.shape.reduce((x, y) => x * y, 1) * 4;
  });
  const used = new Set(names);
  for (const [name, t] of ckpt.tensors) {
    const bare = name.replace(/^(transformer|model)\./, '');
    if (used.has(name) || IGNORED.some((re) => re.test(bare))) continue;
    // A tied head saved anyway is the embedding itself; Hugging Face ties it on load.
    if (name === 'lm_head.weight' && a.tiedEmbeddings) continue;
    throw new DistillGateError(
      `tensor "${name}" is not part of a ${a.modelType} model with this config.json ` +
        '(config.json declares no such layer, bias or norm)',
      { file: t.file, pointer: pointerTo(name) },
    );
  }
  checkLoadMemory(bytes, memory, whereIs(ckpt));
  return { specs, names };
}

/**
 * Reads the planned tensors as float32 (non-finite values refused, naming the tensor), each into its place in one
 * arena (so only one tensor at a time is held twice). `memory` is what the load may take (default: the machine's).
 */
export async function readHfWeights(
  a: HfArchitecture,
  ckpt: SafetensorsCheckpoint,
  opts: { memory?: number } = {},
): Promise<HfWeights> {
  const { specs, names } = planHfWeights(a, ckpt, opts.memory);
  const arena = TensorArena.allocate(specs.map((s) => s.shape.reduce((x, y) => x * y, 1) * 4));
  const tensors = new Map<string, Float32Array>();
  for (let i = 0; i < specs.length; i++) {
    const view = arena.float32(i);
    view.set((await readCheckpointTensor(ckpt, names[i])).data);
    tensors.set(specs[i].name, view);
  }
  return { tensors, specs, arena };
}

/**
 * The embedding may have more rows than the tokenizer has tokens (Qwen pads 151,669 to 151,936: the extra rows are
 * never looked up); fewer would leave token ids without an embedding.
 */
export function checkVocabulary(a: HfArchitecture, tokenizerVocabSize: number, configFile: string): void {
  if (tokenizerVocabSize > a.vocabSize)
    throw new DistillGateError(
      `the tokenizer has ${tokenizerVocabSize} tokens but the embedding has only ${a.vocabSize} rows ` +
        '(config.json "vocab_size"): token ids past it have no embedding',
      { file: configFile, pointer: '/vocab_size' },
    );
}
