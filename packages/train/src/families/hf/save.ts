/**
 * Writing a Hugging Face model folder as `save_pretrained` lays it out: config.json, one model.safetensors under the
 * checkpoint's usual names (`model.` for Llama/Mistral/Qwen, `transformer.` for GPT-2, no tied head), and the
 * tokenizer and generation files copied from where the model came from. Used for a fine-tuned teacher, and for a
 * freshly initialised model (random weights of a config's shapes) that is then pre-trained.
 */
import { copyFile, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { DistillGateError, SeededRandom } from '@distill-gate/core';
import { writeSafetensors } from '../../safetensors.js';
import { parseHfConfig, type HfArchitecture } from './config.js';
import type { HfModelFolder } from './folder.js';
import { hfTensorSpecs } from './weights.js';

/** The files besides config.json and the weights that make a folder usable: tokenizer, chat template, generation. */
export const HF_SIDE_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'chat_template.jinja',
  'chat_template.json',
  'vocab.json',
  'merges.txt',
  'generation_config.json',
];

export interface SaveHfModelOptions {
  /** How the weights are stored: F32 (default) or BF16 (half the bytes; what most checkpoints ship). */
  dtype?: 'F32' | 'BF16';
  /** Strings stored in the safetensors header's `__metadata__` (besides `format: pt`). */
  metadata?: Record<string, string>;
}

function checkpointName(a: HfArchitecture, name: string): string {
  if (name === 'lm_head.weight') return name;
  return (a.modelType === 'gpt2' ? 'transformer.' : 'model.') + name;
}

/**
 * Writes config.json, the side files and model.safetensors into a temporary sibling folder, then puts it in place of
 * `dir` (replacing an earlier save there): a reader never sees half a folder.
 */
async function writeFolder(
  dir: string,
  config: Record<string, unknown>,
  sideFiles: Map<string, string>,
  a: HfArchitecture,
  tensors: Map<string, Float32Array>,
  opts: SaveHfModelOptions,
): Promise<void> {
  const target = resolve(dir);
  const tmp = join(dirname(target), `.${Date.now()}-${process.pid}.partial`);
  await mkdir(tmp, { recursive: true });
  try {
    const dtype = opts.dtype ?? 'F32';
    const torchDtype = dtype === 'BF16' ? 'bfloat16' : 'float32';
    await writeFile(join(tmp, 'config.json'), JSON.stringify({ ...config, torch_dtype: torchDtype }, null, 2) + '\n');
    for (const [name, from] of sideFiles) await copyFile(from, join(tmp, name));
    const specs = hfTensorSpecs(a);
    await writeSafetensors(
      join(tmp, 'model.safetensors'),
      specs.map((s) => ({ name: checkpointName(a, s.name), shape: s.shape, data: tensors.get(s.name)!, dtype })),
      { format: 'pt', ...opts.metadata },
    );
    if (existsSync(target)) await rm(target, { recursive: true });
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

function sideFilesOf(dir: string): Map<string, string> {
  return new Map(HF_SIDE_FILES.filter((f) => existsSync(join(dir, f))).map((f) => [f, join(dir, f)]));
}

/** Saves a model (e.g. a fully fine-tuned teacher) as a folder of its own, with its source folder's tokenizer. */
export async function saveHfModelFolder(dir: string, model: HfModelFolder, opts: SaveHfModelOptions = {}) {
  if (resolve(dir) === resolve(model.dir))
    throw new DistillGateError('will not overwrite the folder the model was read from', { file: dir });
  for (const s of model.weights.specs)
    if (!model.weights.tensors.has(s.name))
      throw new DistillGateError(`the model's weights were released; tensor ${s.name} is not in memory`, {
        file: model.dir,
      });
  await writeFolder(dir, model.config, sideFilesOf(model.dir), model.architecture, model.weights.tensors, opts);
}

export interface CreateHfModelOptions extends SaveHfModelOptions {
  /** config.json's content (architecture, sizes, token ids). */
  config: Record<string, unknown>;
  /** Tokenizer and generation files to copy in, by their name in the folder (tokenizer.json, ...). */
  files: Record<string, string>;
  /** Seed of the initial weights. */
  seed: number;
  /** Standard deviation of the normal initialisation of every matrix (config's initializer_range, else 0.02). */
  std?: number;
}

/**
 * Writes a new model folder with random weights of the config's shapes (matrices normal with mean 0, norms 1, biases
 * 0), deterministic for the seed: the starting point of a model pre-trained from scratch.
 */
export async function createHfModelFolder(dir: string, opts: CreateHfModelOptions): Promise<void> {
  const { architecture } = parseHfConfig(opts.config, join(dir, 'config.json'));
  const std = opts.std ?? (typeof opts.config.initializer_range === 'number' ? opts.config.initializer_range : 0.02);
  const rng = new SeededRandom(opts.seed).fork('hf-init');
  const tensors = new Map<string, Float32Array>();
  for (const s of hfTensorSpecs(architecture)) {
    const data = new Float32Array(s.shape.reduce((a, b) => a * b, 1));
    const last = s.name.split('.').at(-1);
    if (/norm|ln_/.test(s.name) && last === 'weight') data.fill(1);
    else if (last !== 'bias') rng.fillNormal(data, std);
    tensors.set(s.name, data);
  }
  const files = new Map(Object.entries(opts.files));
  for (const name of files.keys())
    if (!HF_SIDE_FILES.includes(name))
      throw new DistillGateError(`${name} is not a tokenizer or generation file (${HF_SIDE_FILES.join(', ')})`, {
        file: dir,
      });
  await writeFolder(dir, opts.config, files, architecture, tensors, opts);
}
