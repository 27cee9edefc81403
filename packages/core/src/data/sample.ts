/**
 * Seeded uniform samples of a dataset's records, so that the memory a check needs does not grow with the dataset:
 * every record is still read, validated and filtered as it streams past, but only the sample is kept for the probe
 * students, their control and placebos. The same seed and the same file give the same sample on every machine.
 */
import { SeededRandom } from '../random.js';

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
}

/**
 * A uniform sample of at most `capacity` tensor rows from a stream (Algorithm R), held in three preallocated tables:
 * the inputs, the rows' own targets and their targets after the filters (which may be narrower). Memory is the
 * capacity's, allocated at the first row; `shared` puts the tables in shared memory (the training workers read
 * them). `take()` gives the sample in stream order.
 */
export class TensorReservoir {
  /** The three tables (inputs, targets, filtered targets) and their widths, from the first row on. */
  private tables?: Float32Array[];
  private widths: number[] = [];
  private rowIndex?: Float64Array;
  private readonly rng: SeededRandom;
  seen = 0;

  constructor(
    readonly capacity: number,
    seed: number,
    private readonly shared: boolean,
  ) {
    this.rng = new SeededRandom(seed).fork('sample');
  }

  /** Offers a row; `filtered` is its target after the filters (the same width for every row, or an error). */
  add(index: number, input: Float32Array, target: Float32Array, filtered: Float32Array): void {
    const row = [input, target, filtered];
    if (!this.tables) this.allocate(row.map((r) => r.length));
    else if (filtered.length !== this.widths[2])
      throw new RangeError(`filters produced targets of different widths (${this.widths[2]} and ${filtered.length})`);
    const at = this.seen++;
    const slot = at < this.capacity ? at : this.rng.int(at + 1);
    if (slot >= this.capacity) return;
    this.tables!.forEach((t, k) => t.set(row[k], slot * this.widths[k]));
    this.rowIndex![slot] = index;
  }

  private allocate(widths: number[]): void {
    const rows = Math.min(this.capacity, 2 ** 31);
    const table = (n: number) => (this.shared ? new Float32Array(new SharedArrayBuffer(n * 4)) : new Float32Array(n));
    this.tables = widths.map((w) => table(rows * w));
    this.widths = widths;
    this.rowIndex = new Float64Array(rows);
  }

  /** The rows kept, in stream order: their inputs, own targets, filtered targets and indices in the stream. */
  take(): { rows: number; inputs: Float32Array; targets: Float32Array; filtered: Float32Array; index: number[] } {
    const rows = Math.min(this.seen, this.capacity);
    const { tables, widths, rowIndex } = this;
    if (!rows || !tables || !rowIndex) {
      const none = new Float32Array(0);
      return { rows: 0, inputs: none, targets: none, filtered: none, index: [] };
    }
    const order = Array.from({ length: rows }, (_, i) => i).sort((a, b) => rowIndex[a] - rowIndex[b]);
    // Put slot order[i] at position i, following each cycle of the permutation with one spare row per table.
    const done = new Uint8Array(rows);
    for (let start = 0; start < rows; start++) {
      if (done[start] || order[start] === start) continue;
      const spare = tables.map((t, k) => t.slice(start * widths[k], (start + 1) * widths[k]));
      let i = start;
      while (order[i] !== start) {
        const from = order[i];
        tables.forEach((t, k) => t.copyWithin(i * widths[k], from * widths[k], (from + 1) * widths[k]));
        done[i] = 1;
        i = from;
      }
      tables.forEach((t, k) => t.set(spare[k], i * widths[k]));
      done[i] = 1;
    }
    const [inputs, targets, filtered] = tables.map((t, k) => t.subarray(0, rows * widths[k]));
    return { rows, inputs, targets, filtered, index: order.map((s) => rowIndex[s]) };
  }
}
