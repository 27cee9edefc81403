// Test support: log-probs of a Hugging Face model folder from the PyTorch reference
// (packages/train/reference/hf_reference.py), to check the TypeScript forward pass against. Needs a Python with
// torch: Debian's python3-torch (.ci/run installs it). Tests that use it are skipped where hasTorch() is false.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const referenceScript = join(import.meta.dirname, '..', 'packages/train/reference/hf_reference.py');

let python: string | null | undefined;

/**
 * The first Python that can import torch: $DISTILL_GATE_TORCH_PYTHON, then `python3` on the PATH, then Debian's
 * /usr/bin/python3 (python3-torch installs there; a pyenv or venv python3 earlier on the PATH does not see it).
 */
export function torchPython(): string | null {
  if (python === undefined) {
    python = null;
    const candidates = [process.env.DISTILL_GATE_TORCH_PYTHON, 'python3', '/usr/bin/python3'];
    for (const candidate of candidates) {
      if (!candidate) continue;
      try {
        execFileSync(candidate, ['-c', 'import torch'], { stdio: 'ignore', timeout: 60_000 });
        python = candidate;
        break;
      } catch {
        // Not this one.
      }
    }
  }
  return python;
}

/** Whether a Python with torch is available (tests that need the reference use `it.skipIf(!hasTorch())`). */
export function hasTorch(): boolean {
  return torchPython() !== null;
}

export interface TorchReferenceResult {
  /** Per sequence: null for the first token, then log p(ids[t] | ids[<t]) (natural log). */
  logprobs: (number | null)[][];
  /** Per sequence and position t: the most likely next token after t (lowest id on ties). */
  argmax: number[][];
  /** Sum of every logit of every position (a checksum of the whole output). */
  logits_sum: number;
}

/** Runs the reference on the model folder `dir`: the full result (log-probs and logits checksum). */
export function torchReference(dir: string, ids: number[][]): TorchReferenceResult {
  const py = torchPython();
  if (!py) throw new Error('no python3 with torch (apt-get install python3-torch)');
  const tmp = mkdtempSync(join(tmpdir(), 'dg-torch-ref-'));
  try {
    const idsFile = join(tmp, 'ids.json');
    writeFileSync(idsFile, JSON.stringify(ids));
    let out: string;
    try {
      out = execFileSync(py, [referenceScript, '--model', dir, '--ids', idsFile], {
        encoding: 'utf8',
        maxBuffer: 256 << 20,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (e) {
      const err = e as { status?: number; stderr?: string };
      throw new Error(`hf_reference.py failed (exit ${err.status}): ${String(err.stderr ?? e).trim()}`, {
        cause: e,
      });
    }
    return JSON.parse(out) as TorchReferenceResult;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Log-probs of `ids` under the model folder `dir`, from the PyTorch reference: logprobs[s][t] is null for t = 0. */
export function torchLogprobs(dir: string, ids: number[][]): (number | null)[][] {
  return torchReference(dir, ids).logprobs;
}
