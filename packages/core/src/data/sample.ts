/**
 * Seeded uniform samples of a dataset's records, so that the memory a check needs does not grow with the dataset:
 * every record is still read, validated and filtered as it streams past, but only the sample is kept for the probe
 * students, their control and placebos. The same seed and the same file give the same sample on every machine.
 */
import { SeededRandom } from '../random.js';

/** What the report says about a sample: how many records it kept, of how many, drawn with which seed. */
export interface SampleInfo {
  records: number;
  of: number;
  seed: number;
}

/** Text records kept by default when a dataset is larger: the size of the design's reference fine-tuning sets. */
export const DEFAULT_SAMPLE_TEXT_RECORDS = 10_000;
/**
 * Tensor rows kept by default: as many as 256 MiB of float32 inputs and targets hold (84,201 rows of a 784-pixel
 * image with 13 targets; the MNIST example's 60,000 rows are all kept).
 */
export const DEFAULT_SAMPLE_TENSOR_BYTES = 256 * 1024 * 1024;

/** The sample size for tensor rows of this width: the setting when given, else the 256 MiB default. */
export function tensorSampleRows(setting: number | 'all' | undefined, rowValues: number): number {
  if (setting === 'all') return Infinity;
  if (setting !== undefined) return setting;
  return Math.max(1, Math.floor(DEFAULT_SAMPLE_TENSOR_BYTES / (4 * Math.max(1, rowValues))));
}

/** The sample size for text records: the setting when given, else 10,000. */
export function textSampleRecords(setting: number | 'all' | undefined): number {
  if (setting === 'all') return Infinity;
  return setting ?? DEFAULT_SAMPLE_TEXT_RECORDS;
}

/**
 * `n` distinct indices of 0..total-1, uniformly at random, in increasing order (Floyd's algorithm: n draws, memory
 * for the n chosen only). With n >= total, every index.
 */
export function sampleIndices(total: number, n: number, seed: number): Uint32Array {
  if (n >= total) return Uint32Array.from({ length: total }, (_, i) => i);
  const rng = new SeededRandom(seed).fork('sample');
  const chosen = new Set<number>();
  for (let j = total - n; j < total; j++) {
    const t = rng.int(j + 1);
    chosen.add(chosen.has(t) ? j : t);
  }
  return Uint32Array.from(chosen).sort();
}

/**
 * A uniform sample of at most `capacity` items from a stream of unknown length (reservoir sampling, Algorithm R):
 * after any number of items, each has had the same chance to be in it. `items()` gives the sample in stream order.
 */
export class Reservoir<T> {
  private readonly slots: { at: number; item: T }[] = [];
  private readonly rng: SeededRandom;
  seen = 0;

  constructor(
    readonly capacity: number,
    seed: number,
  ) {
    this.rng = new SeededRandom(seed).fork('sample');
  }

  add(item: T): void {
    const at = this.seen++;
    if (this.slots.length < this.capacity) {
      this.slots.push({ at, item });
      return;
    }
    const j = this.rng.int(at + 1);
    if (j < this.capacity) this.slots[j] = { at, item };
  }

  /** The sample, in the order the items came. */
  items(): T[] {
    return [...this.slots].sort((a, b) => a.at - b.at).map((s) => s.item);
  }

  /** True when items were left out. */
  get sampled(): boolean {
    return this.seen > this.slots.length;
  }
}
