/**
 * ONNX interop for the transformer family. A probe language model is written as one ONNX graph that decodes with a
 * KV cache, the layout onnxruntime's generation tooling uses:
 *
 *   inputs   input_ids int64 [batch, seq], position_ids int64 [seq], attention_bias float [seq, past + seq]
 *            (additive: 0 where a position may attend, -1e9 where not), output_positions int64 [out] (the positions
 *            of seq whose next-token distribution is wanted: the output head runs on those only), past.L.key /
 *            past.L.value float [batch, heads, past, headDim] per layer L (past = 0 for a fresh sequence)
 *   outputs  logits and logprobs (their log-softmax) float [batch, out, vocab], present.L.key / present.L.value
 *            [batch, heads, past + seq, headDim]
 *
 * The weights are initializers named as in `transformerSpec`; the config and the tokenizer travel in the model's
 * metadata_props, so one file is the whole model. Import reads the weights back and then checks that the graph is
 * exactly the one distill-gate writes for that config, naming the first operator or shape that differs.
 */
import { DistillGateError, parseStrictJsonObject, writeFileAtomic } from '@distill-gate/core';
import onnxProto from 'onnx-proto';
import type { DecodeOutput, Decoding, LmEngine } from './language-model.js';
import type { LanguageModelFile } from './io.js';
import type { LmBatch } from './trainer.js';
import {
  attribute,
  decodeOnnx,
  floatInitializer,
  int64Initializer,
  OPSET,
  tensorData,
  toInt,
  valueInfo,
  type Attr,
  type DecodedOnnx,
  type OnnxGraph,
  type OnnxNode,
} from '../../onnx/proto.js';
import { loadOnnxRuntime, type OrtProvider } from '../../onnx/runtime.js';
import { Tokenizer, type TokenizerJson } from './tokenizer.js';
import {
  checkTransformerConfig,
  transformerSpec,
  type TransformerConfig,
  type TransformerParameters,
} from './transformer.js';

const { onnx } = onnxProto;
const INT64 = onnx.TensorProto.DataType.INT64;

/** Metadata keys of a distill-gate language model in ONNX. */
export const ONNX_LM_KEYS = {
  family: 'distill-gate.family',
  config: 'distill-gate.config',
  tokenizer: 'distill-gate.tokenizer',
  meta: 'distill-gate.meta.',
} as const;

/** The operators the transformer graph is built from (anything else in an imported file is reported by name). */
export const TRANSFORMER_OPS = [
  'Gather',
  'Add',
  'LayerNormalization',
  'MatMul',
  'Reshape',
  'Transpose',
  'Concat',
  'Mul',
  'Softmax',
  'Relu',
  'LogSoftmax',
];

type NodeProto = ReturnType<typeof onnx.NodeProto.create>;

/** Appends named nodes with one output each; returns the output's name. */
class NodeList {
  readonly node: NodeProto[] = [];

  op(opType: string, name: string, input: string[], output: string, attrs: Attr[] = []): string {
    this.node.push(onnx.NodeProto.create({ opType, name, input, output: [output], attribute: attrs.map(attribute) }));
    return output;
  }

  layerNorm(x: string, prefix: string): string {
    return this.op('LayerNormalization', `${prefix}.norm`, [x, `${prefix}.gain`, `${prefix}.bias`], `${prefix}.out`, [
      { name: 'axis', i: -1 },
      { name: 'epsilon', f: 1e-5 },
    ]);
  }
}

/** The graph's inputs and outputs: token ids, positions, mask and output positions, and each layer's KV cache. */
function lmGraphIo(c: TransformerConfig, timeMajor = false) {
  const dh = c.dModel / c.heads;
  const inputs = [
    valueInfo('input_ids', ['batch', 'seq'], INT64),
    valueInfo('position_ids', ['seq'], INT64),
    valueInfo('attention_bias', ['seq', 'total']),
    valueInfo('output_positions', ['out'], INT64),
  ];
  const outputs = [
    valueInfo('logits', ['batch', 'out', c.vocabSize]),
    valueInfo('logprobs', ['batch', 'out', c.vocabSize]),
  ];
  for (let l = 0; l < c.layers; l++) {
    for (const kind of ['key', 'value']) {
      // The engine's decoding graph (blockNodes' timeMajor): the past in, the step's own keys and values out.
      inputs.push(
        valueInfo(`past.${l}.${kind}`, timeMajor ? ['past', 'batch', c.heads, dh] : ['batch', c.heads, 'past', dh]),
      );
      outputs.push(
        timeMajor
          ? valueInfo(`new.${l}.${kind}`, ['seq', 'batch', c.heads, dh])
          : valueInfo(`present.${l}.${kind}`, ['batch', c.heads, 'total', dh]),
      );
    }
  }
  return { inputs, outputs };
}

/**
 * Block l's nodes from its input x (attention over the past and present keys and values, then the feed-forward).
 * `timeMajor` is the engine's decoding layout: the cache is [time, batch, heads, headDim], the graph takes the past
 * and returns only the step's own keys and values (`new.L.key` / `new.L.value`), and the host appends them to one
 * buffer whose leading part is the next step's past (no copy of the whole cache out of onnxruntime every step).
 */
function blockNodes(n: NodeList, x: string, l: number, timeMajor = false): string {
  const p = `blocks.${l}`;
  const h = n.layerNorm(x, `${p}.ln1`);
  const project = (w: string, perm: number[], out = `${p}.attn.${w}.bhsd`) => {
    const m = n.op('MatMul', `${p}.attn.${w}.matmul`, [h, `${p}.attn.${w}`], `${p}.attn.${w}.flat`);
    const r = n.op('Reshape', `${p}.attn.${w}.split`, [m, 'const.split_heads'], `${p}.attn.${w}.heads`);
    return n.op('Transpose', `${p}.attn.${w}.transpose`, [r], out, [{ name: 'perm', ints: perm }]);
  };
  const q = project('query', [0, 2, 1, 3]);
  const cache = (kind: 'key' | 'value') =>
    timeMajor
      ? n.op(
          'Concat',
          `${p}.attn.${kind}.concat`,
          [`past.${l}.${kind}`, project(kind, [1, 0, 2, 3], `new.${l}.${kind}`)],
          `${p}.attn.${kind}.all`,
          [{ name: 'axis', i: 0 }],
        )
      : n.op(
          'Concat',
          `${p}.attn.${kind}.concat`,
          [`past.${l}.${kind}`, project(kind, [0, 2, 1, 3])],
          `present.${l}.${kind}`,
          [{ name: 'axis', i: 2 }],
        );
  const k = cache('key');
  const v = timeMajor
    ? n.op('Transpose', `${p}.attn.value.t`, [cache('value')], `${p}.attn.value.bhsd`, [
        { name: 'perm', ints: [1, 2, 0, 3] },
      ])
    : cache('value');
  const kT = n.op('Transpose', `${p}.attn.key.t`, [k], `${p}.attn.keyT`, [
    { name: 'perm', ints: timeMajor ? [1, 2, 3, 0] : [0, 1, 3, 2] },
  ]);
  const raw = n.op('MatMul', `${p}.attn.scores.matmul`, [q, kT], `${p}.attn.scores.raw`);
  const scaled = n.op('Mul', `${p}.attn.scores.scale`, [raw, 'const.scale'], `${p}.attn.scores.scaled`);
  const masked = n.op('Add', `${p}.attn.scores.mask`, [scaled, 'attention_bias'], `${p}.attn.scores`);
  const probs = n.op('Softmax', `${p}.attn.softmax`, [masked], `${p}.attn.probs`, [{ name: 'axis', i: -1 }]);
  const o = n.op('MatMul', `${p}.attn.mix`, [probs, v], `${p}.attn.mixed`);
  const ot = n.op('Transpose', `${p}.attn.mixed.transpose`, [o], `${p}.attn.mixed.bshd`, [
    { name: 'perm', ints: [0, 2, 1, 3] },
  ]);
  const merged = n.op('Reshape', `${p}.attn.merge`, [ot, 'const.merge_heads'], `${p}.attn.merged`);
  const attn = n.op('MatMul', `${p}.attn.out.matmul`, [merged, `${p}.attn.out`], `${p}.attn.result`);
  const mid = n.op('Add', `${p}.attn.residual`, [x, attn], `${p}.mid`);
  const h2 = n.layerNorm(mid, `${p}.ln2`);
  const f0 = n.op('MatMul', `${p}.ffn.in.matmul`, [h2, `${p}.ffn.in`], `${p}.ffn.in.mm`);
  const f1 = n.op('Add', `${p}.ffn.in.add`, [f0, `${p}.ffn.in_bias`], `${p}.ffn.in.out`);
  const f2 = n.op('Relu', `${p}.ffn.relu`, [f1], `${p}.ffn.act`);
  const f3 = n.op('MatMul', `${p}.ffn.out.matmul`, [f2, `${p}.ffn.out`], `${p}.ffn.out.mm`);
  const f4 = n.op('Add', `${p}.ffn.out.add`, [f3, `${p}.ffn.out_bias`], `${p}.ffn.result`);
  return n.op('Add', `${p}.ffn.residual`, [mid, f4], `${p}.out`);
}

/** The model's metadata_props: family, config, tokenizer (where given) and the model's own metadata. */
function lmMetadataProps(
  model: Pick<LanguageModelFile, 'config'> & { tokenizer?: Tokenizer; metadata?: Record<string, string> },
) {
  return [
    { key: ONNX_LM_KEYS.family, value: 'causal-lm' },
    { key: ONNX_LM_KEYS.config, value: JSON.stringify(model.config) },
    // Only a model to run in onnxruntime may leave the tokenizer out; saveLanguageModelOnnx always writes it.
    ...(model.tokenizer ? [{ key: ONNX_LM_KEYS.tokenizer, value: JSON.stringify(model.tokenizer.toJSON()) }] : []),
    ...Object.entries(model.metadata ?? {}).map(([k, v]) => ({ key: `${ONNX_LM_KEYS.meta}${k}`, value: v })),
  ].map((p) => onnx.StringStringEntryProto.create(p));
}

/** The ONNX bytes of a language model (weights, config and tokenizer). */
export function transformerToOnnx(
  model: Pick<LanguageModelFile, 'config' | 'tensors'> & { tokenizer?: Tokenizer; metadata?: Record<string, string> },
  producer = 'distill-gate',
): Uint8Array {
  return transformerGraph(model, producer, 'decode');
}

/**
 * The graph the engine scores targets with (never written to a file): the decoding graph's body on fresh sequences,
 * then only the hidden states of the target positions, flat indices into [batch x seq] (`output_positions`), go
 * through the final norm, the head and the log-softmax, and each is dotted with its target distribution
 * (`target_weights` [out, vocab]) in the graph: output `target_logprobs` [out]. The decoding graph ran the head on
 * every position of every row and returned [batch, seq, vocab] log-probabilities for the host to pick from.
 */
function transformerScoringOnnx(model: Pick<LanguageModelFile, 'config' | 'tensors'>): Uint8Array {
  return transformerGraph(model, 'distill-gate', 'score');
}

function transformerGraph(
  model: Pick<LanguageModelFile, 'config' | 'tensors'> & { tokenizer?: Tokenizer; metadata?: Record<string, string> },
  producer: string,
  kind: 'decode' | 'generate' | 'score',
): Uint8Array {
  const c = model.config;
  const dh = c.dModel / c.heads;
  const spec = transformerSpec(c);
  if (model.tensors.length !== spec.length)
    throw new Error(`expected ${spec.length} parameter tensors, got ${model.tensors.length}`);
  const initializer = spec.map((s, i) => floatInitializer(s.name, s.shape, model.tensors[i]));
  initializer.push(
    floatInitializer('const.scale', [], Float32Array.of(1 / Math.sqrt(dh))),
    int64Initializer('const.split_heads', [0, 0, c.heads, dh]),
    int64Initializer('const.merge_heads', [0, 0, c.dModel]),
  );
  const n = new NodeList();
  const tok = n.op('Gather', 'embed.tokens.gather', ['embed.tokens', 'input_ids'], 'embed.tok');
  const pos = n.op('Gather', 'embed.positions.gather', ['embed.positions', 'position_ids'], 'embed.pos');
  let x = n.op('Add', 'embed.add', [tok, pos], 'embed.out');
  for (let l = 0; l < c.layers; l++) x = blockNodes(n, x, l, kind === 'generate');
  const picked =
    kind !== 'score'
      ? n.op('Gather', 'output.positions', [x, 'output_positions'], 'output.hidden', [{ name: 'axis', i: 1 }])
      : n.op(
          'Gather',
          'output.positions',
          [n.op('Reshape', 'output.flatten', [x, 'const.flat_rows'], 'output.rows'), 'output_positions'],
          'output.hidden',
          [{ name: 'axis', i: 0 }],
        );
  const hf = n.layerNorm(picked, 'final_ln');
  const l0 = n.op('MatMul', 'head.matmul', [hf, 'head.weight'], 'head.mm');
  n.op('Add', 'head.add', [l0, 'head.bias'], 'logits');
  n.op('LogSoftmax', 'head.log_softmax', ['logits'], 'logprobs', [{ name: 'axis', i: -1 }]);
  const { inputs, outputs } = lmGraphIo(c, kind === 'generate');
  if (kind === 'generate') {
    n.op('Softmax', 'head.softmax', ['logits'], 'probs', [{ name: 'axis', i: -1 }]);
    outputs.splice(2, 0, valueInfo('probs', ['batch', 'out', c.vocabSize]));
  }
  if (kind === 'score') {
    initializer.push(int64Initializer('const.flat_rows', [-1, c.dModel]), int64Initializer('const.vocab_axis', [1]));
    const dotted = n.op('Mul', 'target.weigh', ['logprobs', 'target_weights'], 'target.weighted');
    n.op('ReduceSum', 'target.sum', [dotted, 'const.vocab_axis'], 'target_logprobs', [{ name: 'keepdims', i: 0 }]);
    inputs.push(valueInfo('target_weights', ['out', c.vocabSize]));
    outputs.splice(0, outputs.length, valueInfo('target_logprobs', ['out']));
  }
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 8,
      producerName: producer,
      opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: OPSET })],
      metadataProps: lmMetadataProps(model),
      graph: onnx.GraphProto.create({ name: 'causal-lm', node: n.node, initializer, input: inputs, output: outputs }),
    }),
  ).finish();
}

export async function saveLanguageModelOnnx(
  path: string,
  model: Pick<LanguageModelFile, 'config' | 'tensors' | 'tokenizer'> & { metadata?: Record<string, string> },
): Promise<void> {
  await writeFileAtomic(path, transformerToOnnx(model));
}

/** True when a decoded ONNX model is a language model (distill-gate's metadata, or a token-id input). */
export function isLanguageModelOnnx(m: DecodedOnnx): boolean {
  return m.metadata.has(ONNX_LM_KEYS.family) || m.graph.input.some((i) => i.name === 'input_ids');
}

function describeNode(n: OnnxNode | undefined): string {
  return n ? `${n.opType}(${n.input.join(', ')}) -> ${n.output.join(', ')}` : 'nothing';
}

function attrValue(a: OnnxNode['attribute'][number] & { ints?: (number | { toNumber(): number })[] }): string {
  if (a.ints && a.ints.length) return `[${a.ints.map(toInt).join(',')}]`;
  if (a.f) return String(Math.fround(a.f));
  return String(toInt(a.i));
}

/** Reads a language model from a decoded ONNX file written in the layout above. */
export function transformerFromGraph(m: DecodedOnnx, file: string): LanguageModelFile {
  const { graph, metadata } = m;
  for (const n of graph.node) {
    if (!TRANSFORMER_OPS.includes(n.opType)) {
      throw new DistillGateError(
        `unsupported operator "${n.opType}" (node "${n.name}"): ` +
          `the transformer family is built from ${TRANSFORMER_OPS.join(', ')}`,
        { file },
      );
    }
  }
  const rawConfig = metadata.get(ONNX_LM_KEYS.config);
  const rawTokenizer = metadata.get(ONNX_LM_KEYS.tokenizer);
  if (!rawConfig || !rawTokenizer) {
    throw new DistillGateError(
      `no ${!rawConfig ? ONNX_LM_KEYS.config : ONNX_LM_KEYS.tokenizer} in the model's metadata_props: ` +
        'a language model needs its transformer config and tokenizer (export it with distill-gate, or add them)',
      { file, pointer: '/metadata_props' },
    );
  }
  const config = parseStrictJsonObject(
    rawConfig,
    file,
    `metadata_props ${ONNX_LM_KEYS.config}`,
  ) as unknown as TransformerConfig;
  let tokenizer: Tokenizer;
  const problem = checkTransformerConfig(config);
  if (problem)
    throw new DistillGateError(`bad transformer config: ${problem}`, {
      file,
      pointer: `/metadata_props/${ONNX_LM_KEYS.config}`,
    });
  try {
    tokenizer = Tokenizer.fromJSON(
      parseStrictJsonObject(rawTokenizer, file, `metadata_props ${ONNX_LM_KEYS.tokenizer}`) as unknown as TokenizerJson,
    );
  } catch (e) {
    throw new DistillGateError(`bad tokenizer: ${(e as Error).message}`, {
      file,
      pointer: `/metadata_props/${ONNX_LM_KEYS.tokenizer}`,
    });
  }
  if (tokenizer.size !== config.vocabSize) {
    throw new DistillGateError(
      `the tokenizer has ${tokenizer.size} pieces but the model's vocabulary is ${config.vocabSize}`,
      { file, pointer: `/metadata_props/${ONNX_LM_KEYS.tokenizer}` },
    );
  }
  const inits = new Map(graph.initializer.map((t) => [t.name, t]));
  const tensors = transformerSpec(config).map((s) => {
    const t = inits.get(s.name);
    if (!t)
      throw new DistillGateError(`initializer "${s.name}" is missing (the transformer needs it, shape [${s.shape}])`, {
        file,
      });
    const dims = t.dims.map(toInt);
    if (dims.join() !== s.shape.join())
      throw new DistillGateError(`initializer "${s.name}" has shape [${dims}]; the config needs [${s.shape}]`, {
        file,
      });
    return tensorData(t, file);
  });
  const modelMetadata = Object.fromEntries(
    [...metadata]
      .filter(([k]) => k.startsWith(ONNX_LM_KEYS.meta))
      .map(([k, v]) => [k.slice(ONNX_LM_KEYS.meta.length), v]),
  );
  const result: LanguageModelFile = { config, tensors, tokenizer, metadata: modelMetadata };
  // The weights alone do not say what the graph computes: it must be the graph distill-gate writes for this config.
  const expected = decodeOnnx(transformerToOnnx(result), file).graph;
  checkSameGraph(graph, expected, inits, file);
  return result;
}

function checkSameGraph(
  found: OnnxGraph,
  expected: OnnxGraph,
  inits: Map<string, OnnxGraph['initializer'][number]>,
  file: string,
): void {
  const names = (xs: { name: string }[]) =>
    xs
      .map((x) => x.name)
      .filter((n) => !inits.has(n))
      .join(', ');
  if (names(found.input) !== names(expected.input))
    throw new DistillGateError(
      `graph inputs are (${names(found.input)}); the transformer layout needs (${names(expected.input)})`,
      { file },
    );
  if (names(found.output) !== names(expected.output))
    throw new DistillGateError(
      `graph outputs are (${names(found.output)}); the transformer layout needs (${names(expected.output)})`,
      { file },
    );
  const n = Math.max(found.node.length, expected.node.length);
  for (let i = 0; i < n; i++) {
    const a = found.node[i];
    const b = expected.node[i];
    const same =
      a &&
      b &&
      a.opType === b.opType &&
      a.input.join() === b.input.join() &&
      a.output.join() === b.output.join() &&
      a.attribute
        .map((x) => `${x.name}=${attrValue(x)}`)
        .sort()
        .join() ===
        b.attribute
          .map((x) => `${x.name}=${attrValue(x)}`)
          .sort()
          .join();
    if (!same) {
      throw new DistillGateError(
        `node ${i} ("${a?.name ?? ''}") is ${describeNode(a)}; the transformer layout has ${describeNode(b)} there`,
        { file },
      );
    }
  }
  for (const name of ['const.scale', 'const.split_heads', 'const.merge_heads']) {
    const a = inits.get(name);
    const b = expected.initializer.find((t) => t.name === name)!;
    const bytes = (t: typeof a) =>
      t?.rawData
        ? Buffer.from(t.rawData).toString('hex')
        : JSON.stringify(t?.floatData ?? (t as { int64Data?: unknown })?.int64Data);
    if (!a || bytes(a) !== bytes(b))
      throw new DistillGateError(
        `constant "${name}" does not match the config (heads, head width or attention scale)`,
        { file },
      );
  }
}

export function transformerFromOnnx(bytes: Uint8Array, file: string): LanguageModelFile {
  return transformerFromGraph(decodeOnnx(bytes, file), file);
}

export interface OnnxLmOptions {
  provider?: OrtProvider;
  /** Intra-op threads (default: onnxruntime's choice). */
  threads?: number;
  /** Let idle intra-op threads spin between runs (default false). */
  spin?: boolean;
}

/** A language model running in onnxruntime-node, decoding with the graph's KV-cache inputs and outputs. */
export class OnnxLmEngine implements LmEngine {
  readonly description: string;

  private scoring: Promise<import('onnxruntime-node').InferenceSession> | undefined;

  private constructor(
    private readonly session: import('onnxruntime-node').InferenceSession,
    private readonly ort: typeof import('onnxruntime-node'),
    private readonly params: TransformerParameters,
    private readonly sessionOptions: import('onnxruntime-node').InferenceSession.SessionOptions,
    provider: OrtProvider,
  ) {
    this.description = `onnxruntime-node ${ort.env.versions.node ?? ''} ${provider}`.replace('  ', ' ');
  }

  private get config(): TransformerConfig {
    return this.params.config;
  }

  static async create(params: TransformerParameters, opts: OnnxLmOptions = {}): Promise<OnnxLmEngine> {
    const ort = await loadOnnxRuntime();
    const provider = opts.provider ?? 'cpu';
    const options = {
      executionProviders: [provider],
      graphOptimizationLevel: 'all' as const,
      // Decoding alternates short runs with sampling on the main thread: threads that spin between runs take the
      // cores the sampler needs (measured: 4.7 s vs 4.1 s for 4,000 completions on 2 cores).
      extra: { session: { intra_op: { allow_spinning: opts.spin ? '1' : '0' } } },
      ...(opts.threads ? { intraOpNumThreads: opts.threads } : {}),
    };
    // The engine's decoding graph is the file's, plus the head's softmax as a third output (`probs`) for sampling at
    // temperature 1 without an exponential per token on the host.
    const session = await ort.InferenceSession.create(transformerGraph(params, 'distill-gate', 'generate'), options);
    return new OnnxLmEngine(session, ort, params, options, provider);
  }

  private feeds(
    ids: Int32Array,
    n: number,
    s: number,
    offset: number,
    past: Record<string, import('onnxruntime-node').Tensor> | undefined,
    outputPositions: number[],
  ) {
    const { Tensor } = this.ort;
    const { heads, dModel, layers } = this.config;
    const dh = dModel / heads;
    const total = offset + s;
    const bias = new Float32Array(s * total);
    for (let i = 0; i < s; i++) for (let j = offset + i + 1; j < total; j++) bias[i * total + j] = -1e9;
    const feeds: Record<string, import('onnxruntime-node').Tensor> = {
      input_ids: new Tensor(
        'int64',
        BigInt64Array.from(ids, (x) => BigInt(x)),
        [n, s],
      ),
      position_ids: new Tensor(
        'int64',
        BigInt64Array.from({ length: s }, (_, i) => BigInt(offset + i)),
        [s],
      ),
      attention_bias: new Tensor('float32', bias, [s, total]),
      output_positions: new Tensor(
        'int64',
        BigInt64Array.from(outputPositions, (x) => BigInt(x)),
        [outputPositions.length],
      ),
    };
    for (let l = 0; l < layers; l++) {
      for (const kind of ['key', 'value']) {
        feeds[`past.${l}.${kind}`] =
          past?.[`past.${l}.${kind}`] ?? new Tensor('float32', new Float32Array(0), [n, heads, 0, dh]);
      }
    }
    return feeds;
  }

  /**
   * Scores with a graph of its own (transformerScoringOnnx, made on first use): the head runs on the target
   * positions only, and the targets are dotted with the log-probabilities in the graph.
   */
  async targetLogProbs(batch: LmBatch): Promise<Float32Array> {
    const v = this.config.vocabSize;
    this.scoring ??= this.ort.InferenceSession.create(transformerScoringOnnx(this.params), this.sessionOptions);
    const session = await this.scoring;
    const feeds = this.feeds(batch.ids, batch.rows, batch.s, 0, undefined, Array.from(batch.positions));
    feeds.target_weights = new this.ort.Tensor('float32', batch.targets.subarray(0, batch.weight * v), [
      batch.weight,
      v,
    ]);
    const result = await session.run(feeds, ['target_logprobs']);
    const out = (result.target_logprobs.data as Float32Array).slice();
    result.target_logprobs.dispose();
    return out;
  }

  async begin(prefix: Int32Array, n: number, len: number, output: DecodeOutput = 'logprobs'): Promise<Decoding> {
    const { Tensor } = this.ort;
    const { heads, dModel, layers, contextLength } = this.config;
    const dh = dModel / heads;
    // One buffer per layer and kind, time-major ([time, n, heads, dh]): the first `offset` steps are the past a run
    // reads, and each run's new keys and values are appended after them. It grows by doubling up to the context.
    const slot = n * heads * dh;
    const names = Array.from({ length: layers }, (_, l) => [`${l}.key`, `${l}.value`]).flat();
    let capacity = Math.min(contextLength, len + 16);
    let caches = names.map(() => new Float32Array(capacity * slot));
    const outputs = [output, ...names.map((k) => `new.${k}`)];
    let offset = 0;
    const step = async (ids: Int32Array, s: number) => {
      if (offset + s > capacity) {
        capacity = Math.min(contextLength, Math.max(offset + s, 2 * capacity));
        caches = caches.map((c) => {
          const grown = new Float32Array(capacity * slot);
          grown.set(c.subarray(0, offset * slot));
          return grown;
        });
      }
      const past = Object.fromEntries(
        names.map((k, i) => [
          `past.${k}`,
          new Tensor('float32', caches[i].subarray(0, offset * slot), [offset, n, heads, dh]),
        ]),
      );
      const result = await this.session.run(this.feeds(ids, n, s, offset, past, [s - 1]), outputs);
      names.forEach((k, i) => {
        const fresh = result[`new.${k}`];
        caches[i].set(fresh.data as Float32Array, offset * slot);
        fresh.dispose();
      });
      offset += s;
      // One output position per row: the rows are already [n, vocab].
      const rows = result[output].data as Float32Array;
      result[output].dispose();
      return rows;
    };
    return {
      rows: await step(prefix, len),
      next: (ids) => step(ids, 1),
      end: () => {
        caches = [];
      },
    };
  }

  release(): void {
    void this.session.release();
    void this.scoring?.then((s) => s.release());
  }
}
