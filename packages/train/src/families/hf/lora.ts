/**
 * LoRA on Hugging Face causal LMs: the training step's ONNX graph (the inference forward pass of graph.ts with
 * adapters on the chosen projections, a next-token loss on the tokens that carry one, and the adapters' gradients
 * from the tape), and the adapters' initialisation. The frozen base's weights are the graph's initializers (external
 * data in the weights' arena); the adapters are inputs, so one session serves every step, and Adam runs on the host
 * (onnx/training.ts).
 *
 * Semantics follow PEFT's LoRA (peft/tuners/lora/layer.py): y = W x + (alpha / r) B A x, A [r, in] initialised
 * uniform in +-1/sqrt(in) (kaiming_uniform with a = sqrt(5)), B [out, r] zeros, so a new adapter changes nothing.
 * GPT-2's Conv1D layers are adapted with the same A and B shapes (PEFT's fan_in_fan_out).
 *
 *   inputs   input_ids int64 [batch, seq] (right-padded); attention_bias float [1, 1, seq, seq] (causal);
 *            GPT-2: position_ids int64 [1, seq]; RoPE models: rope_cos, rope_sin float [1, 1, seq, head_dim];
 *            loss_positions int64 [m] (flat indices batch * seq + t of the positions whose next token has a loss);
 *            target_ids int64 [m, k], target_probs float [m, k] (each row a distribution over the next token: one
 *            id with 1 for the written token, a teacher's top-k for soft targets; unused slots id 0, prob 0);
 *            loss_weights float [m] (each position's share of the batch loss);
 *            with dropout, lora_dropout_seed int64 [1] (this step's masks: graph.ts DROPOUT_HASH)
 *   params   lora.<projection>.A [r, in], lora.<projection>.B [out, r]
 *   outputs  loss float [] = sum_m weight_m * sum_k prob_mk * (logsumexp(logits_m) - logits_m[id_mk]);
 *            grad.<param> for every adapter
 */
import onnxProto from 'onnx-proto';
import { SeededRandom } from '@distill-gate/core';
import { EXTERNAL_THRESHOLD_BYTES } from '../../onnx/external.js';
import { valueInfo } from '../../onnx/proto.js';
import { Tape } from '../../onnx/tape.js';
import { GraphBuilder } from '../../onnx/training.js';
import type { HfArchitecture } from './config.js';
import type { LoraSettings } from '@distill-gate/core';
import { adapterParams, HfGraph, loraAdapterSpecs, type HfGraphBytes, type LoraAdapterSpec } from './graph.js';

import type { HfWeights } from './weights.js';

export { adapterParams, loraAdapterSpecs, type LoraAdapterSpec };
export type { LoraSettings };

const { onnx } = onnxProto;
const INT64 = onnx.TensorProto.DataType.INT64;

export interface HfLoraGraph extends HfGraphBytes {
  adapters: LoraAdapterSpec[];
  /** The graph's parameters in order: A then B of each adapter. */
  params: { name: string; shape: number[] }[];
}

/** The training step's graph: loss and the adapters' gradients (see the file's comment). */
export function buildHfLoraGraph(
  a: HfArchitecture,
  w: HfWeights,
  settings: LoraSettings | 'full',
  opts: { externalThreshold?: number } = {},
): HfLoraGraph {
  const g = new GraphBuilder();
  const tape = new Tape(g);
  const full = settings === 'full';
  const adapters = full ? [] : loraAdapterSpecs(a, w, settings);
  const graph = new HfGraph(a, w, opts.externalThreshold ?? EXTERNAL_THRESHOLD_BYTES, {
    builder: g,
    tape,
    cache: false,
    trainWeights: full,
    ...(full
      ? {}
      : {
          lora: {
            scale: settings.alpha / settings.rank,
            ...(settings.dropout ? { dropout: settings.dropout } : {}),
            adapter: (projection: string) => {
              const index = adapters.findIndex((s) => s.projection === projection);
              if (index < 0) return undefined;
              const p = adapterParams(projection);
              return { a: tape.param(p.a), b: tape.param(p.b), index, in: adapters[index].in };
            },
          },
        }),
  });
  const hidden = graph.hidden();
  tape.backward(hidden, nextTokenLoss(graph, tape, hidden));
  const params = full
    ? graph.weightParams
    : adapters.flatMap((s) => {
        const p = adapterParams(s.projection);
        return [
          { name: p.a, shape: [settings.rank, s.in] },
          { name: p.b, shape: [s.out, settings.rank] },
        ];
      });
  for (const p of params) g.gradient(p.name, tape.grad(p.name));
  const inputs = [
    valueInfo('input_ids', ['batch', 'seq'], INT64),
    valueInfo('attention_bias', [1, 1, 'seq', 'seq']),
    ...(a.positions.kind === 'learned'
      ? [valueInfo('position_ids', [1, 'seq'], INT64)]
      : [valueInfo('rope_cos', [1, 1, 'seq', a.headDim]), valueInfo('rope_sin', [1, 1, 'seq', a.headDim])]),
    valueInfo('loss_positions', ['m'], INT64),
    valueInfo('target_ids', ['m', 'k'], INT64),
    valueInfo('target_probs', ['m', 'k']),
    valueInfo('loss_weights', ['m']),
    ...(!full && settings.dropout ? [valueInfo('lora_dropout_seed', [1], INT64)] : []),
  ];
  const model = g.build(`hf-${a.modelType}-${full ? 'full' : 'lora'}-step`, inputs, [valueInfo('loss', [])], params);
  const externalData = (w.arena?.files ?? []).filter((f) => graph.external.has(f.path));
  return { model, externalData, adapters, params };
}

/**
 * The loss head: the output head on the positions that carry a loss only, the loss (graph output `loss`), and its
 * gradient with respect to the final hidden states (returned; the head's own gradient goes to the tape where the
 * head is trained).
 */
function nextTokenLoss(graph: HfGraph, tape: Tape, hidden: string): string {
  const g = graph.g;
  const picked = g.node('Gather', [hidden, 'loss_positions'], [{ name: 'axis', i: 0 }]);
  const head = graph.head;
  const logits = g.node('Gemm', [picked, head], [{ name: 'transB', i: 1 }]);
  const lse = g.node(
    'ReduceLogSumExp',
    [logits],
    [
      { name: 'axes', ints: [1] },
      { name: 'keepdims', i: 1 },
    ],
  );
  const targetLogits = g.node('GatherElements', [logits, 'target_ids'], [{ name: 'axis', i: 1 }]);
  const perRow = g.node('Sub', [
    g.node('Mul', [lse, g.sum('target_probs', [1], 1)]),
    g.sum(g.node('Mul', [targetLogits, 'target_probs']), [1], 1),
  ]);
  g.node(
    'ReduceSum',
    [g.node('Mul', [g.node('Reshape', [perRow, g.ints([-1])]), 'loss_weights']), g.ints([0])],
    [{ name: 'keepdims', i: 0 }],
    { output: 'loss' },
  );
  // d loss / d logits = weight * (softmax * sum(probs) - target distribution).
  const softmax = g.node('Mul', [g.node('Exp', [g.node('Sub', [logits, lse])]), g.sum('target_probs', [1], 1)]);
  const target = g.node(
    'ScatterElements',
    [graph.zerosLike(logits), 'target_ids', 'target_probs'],
    [
      { name: 'axis', i: 1 },
      { name: 'reduction', s: 'add' },
    ],
  );
  const dLogits = g.node('Mul', [g.node('Sub', [softmax, target]), g.node('Unsqueeze', ['loss_weights', g.ints([1])])]);
  const dPicked = g.node('Gemm', [dLogits, head]);
  // Training every weight: the head's own gradient (the embedding's too, where they are tied).
  if (tape.needs(head)) tape.accumulate(head, g.node('Gemm', [dLogits, picked], [{ name: 'transA', i: 1 }]));
  const at = g.node('Unsqueeze', ['loss_positions', g.ints([1])]);
  return g.node('ScatterND', [graph.zerosLike(hidden), at, dPicked]);
}

/**
 * New adapters as PEFT makes them, from a seed: A uniform in +-1/sqrt(in) (kaiming_uniform, a = sqrt(5)), B zeros.
 * Each adapter draws from its own stream (seed and projection), so adding a target does not change the others.
 */
export function initLoraParams(adapters: LoraAdapterSpec[], rank: number, seed: number): Float32Array[] {
  const root = new SeededRandom(seed);
  return adapters.flatMap((s) => {
    const rng = root.fork(`lora:${s.projection}`);
    const bound = 1 / Math.sqrt(s.in);
    const a = Float32Array.from({ length: rank * s.in }, () => (2 * rng.next() - 1) * bound);
    return [a, new Float32Array(s.out * rank)];
  });
}
