/**
 * Reverse-mode differentiation for graphs built with GraphBuilder, at the level of the builder's layers: each layer
 * that computes from a value needing a gradient records its outputs, its inputs and its vector-Jacobian product (the
 * nodes that turn its outputs' gradients into its inputs'). `backward` then walks the record in reverse, adding up the
 * gradients of values used more than once. Only values that depend on a parameter get gradients (a frozen base
 * costs its forward pass and the products back to the adapters, nothing more).
 */
import type { GraphBuilder } from './training.js';

/** Given the gradients of a step's outputs (undefined where none reached them), the gradients of its inputs. */
type Vjp = (dy: (string | undefined)[]) => (string | undefined)[];

export class Tape {
  private readonly steps: { outputs: string[]; inputs: string[]; vjp: Vjp }[] = [];
  private readonly requires = new Set<string>();
  private readonly grads = new Map<string, string>();

  constructor(private readonly g: GraphBuilder) {}

  /** Marks a graph input as a parameter: it, and whatever is computed from it, get gradients. */
  param(name: string): string {
    this.requires.add(name);
    return name;
  }

  /** Whether `value` depends on a parameter (only those get gradients). */
  needs(value: string): boolean {
    return this.requires.has(value);
  }

  /** Records a step when one of its inputs depends on a parameter (else it is constant for the backward pass). */
  record(outputs: string[], inputs: string[], vjp: Vjp): void {
    if (!inputs.some((i) => this.requires.has(i))) return;
    for (const o of outputs) this.requires.add(o);
    this.steps.push({ outputs, inputs, vjp });
  }

  /** Adds `grad` to the gradient of `value` (before backward: a gradient that reaches it outside the record). */
  accumulate(value: string, grad: string): void {
    const sum = this.grads.get(value);
    this.grads.set(value, sum === undefined ? grad : this.g.node('Add', [sum, grad]));
  }

  /** Back-propagates `seed` (the gradient of `value`) through every recorded step. */
  backward(value: string, seed: string): void {
    this.accumulate(value, seed);
    for (let s = this.steps.length - 1; s >= 0; s--) {
      const { outputs, inputs, vjp } = this.steps[s];
      const dy = outputs.map((o) => this.grads.get(o));
      if (dy.every((d) => d === undefined)) continue;
      const dx = vjp(dy);
      inputs.forEach((x, i) => {
        const d = dx[i];
        if (d !== undefined && this.requires.has(x)) this.accumulate(x, d);
      });
    }
  }

  /** The gradient of `value` after backward(); throws when none reached it. */
  grad(value: string): string {
    const d = this.grads.get(value);
    if (d === undefined) throw new Error(`tape: no gradient reached ${value}`);
    return d;
  }
}
