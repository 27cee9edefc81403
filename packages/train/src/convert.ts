/**
 * Model format conversion (`distill-gate convert`): an MLP between safetensors and ONNX, a language model between
 * the TensorFlow.js layout and ONNX. The output is read back and must hold exactly the input's weights.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { DistillGateError, type ModelFormat } from '@distill-gate/core';
import { hashLanguageModel, loadLanguageModel, saveLanguageModel, type LanguageModelFile } from './lm-io.js';
import type { MlpParameters } from './mlp.js';
import { hashParameters, loadMlp, saveMlp } from './model-io.js';
import { isLanguageModelOnnx, saveLanguageModelOnnx, transformerFromGraph } from './onnx-lm.js';
import { mlpFromGraph, readOnnxFile, saveMlpOnnx } from './onnx.js';

export type LoadedModelFile =
  | { family: 'mlp'; params: MlpParameters; sha256: string }
  | { family: 'causal-lm'; file: LanguageModelFile; sha256: string };

/** The format a path's extension stands for (.onnx, .json = tfjs layout, else safetensors). */
export function formatOf(path: string): ModelFormat {
  return path.endsWith('.onnx') ? 'onnx' : path.endsWith('.json') ? 'tfjs' : 'safetensors';
}

/** Reads a model file of either family in any supported format. */
export async function readModelFile(path: string, format: ModelFormat = formatOf(path)): Promise<LoadedModelFile> {
  if (format === 'tfjs') {
    const file = await loadLanguageModel(path);
    return { family: 'causal-lm', file, sha256: hashLanguageModel(file) };
  }
  if (format === 'onnx') {
    const decoded = await readOnnxFile(path);
    if (isLanguageModelOnnx(decoded)) {
      const file = transformerFromGraph(decoded, path);
      return { family: 'causal-lm', file, sha256: hashLanguageModel(file) };
    }
    const params = mlpFromGraph(decoded.graph, path);
    return { family: 'mlp', params, sha256: hashParameters(params.tensors) };
  }
  const params = await loadMlp(path);
  return { family: 'mlp', params, sha256: hashParameters(params.tensors) };
}

export interface ConvertResult {
  family: 'mlp' | 'causal-lm';
  from: ModelFormat;
  to: ModelFormat;
  /** SHA-256 of the weights (and tokenizer), identical in both files. */
  sha256: string;
}

export async function convertModel(
  input: string,
  output: string,
  opts: { from?: ModelFormat; to?: ModelFormat; force?: boolean } = {},
): Promise<ConvertResult> {
  const from = opts.from ?? formatOf(input);
  const to = opts.to ?? formatOf(output);
  if (resolve(input) === resolve(output))
    throw new DistillGateError('the output is the input file; write the converted model elsewhere', { file: output });
  if (existsSync(output) && !opts.force)
    throw new DistillGateError('the output file exists (use --force to replace it)', { file: output });
  const model = await readModelFile(input, from);
  if (model.family === 'causal-lm') {
    if (to === 'safetensors')
      throw new DistillGateError('a language model is written as onnx or tfjs (model.json), not safetensors', {
        file: output,
      });
    if (to === 'onnx') await saveLanguageModelOnnx(output, model.file);
    else await saveLanguageModel(output, model.file);
  } else {
    if (to === 'tfjs')
      throw new DistillGateError(
        'an MLP is written as onnx or safetensors; the tfjs layout (model.json) holds language models',
        { file: output },
      );
    if (to === 'onnx') await saveMlpOnnx(output, model.params);
    else
      await saveMlp(
        output,
        model.params,
        'metadata' in model.params ? (model.params.metadata as Record<string, string>) : {},
      );
  }
  const back = await readModelFile(output, to);
  if (back.sha256 !== model.sha256)
    throw new DistillGateError(
      `the written model's weights differ from the input's (sha256 ${back.sha256.slice(0, 12)} vs ${model.sha256.slice(0, 12)})`,
      { file: output },
    );
  return { family: model.family, from, to, sha256: model.sha256 };
}
