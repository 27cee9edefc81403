/**
 * ONNX external data held in memory. A model protobuf cannot exceed 2 GB, so large initializers are stored outside
 * it: the TensorProto says `data_location = EXTERNAL` with `external_data` entries (location, offset, length), and
 * onnxruntime-node is handed the bytes of each location through the session option
 * `externalData: [{ path: location, data: Uint8Array }]` (no file is written). onnxruntime copies the initializers
 * out of those buffers while the session starts, so they can be dropped once it has.
 *
 * A TensorArena lays tensors out in a few large buffers ("files"), each tensor's offset a multiple of 4096, so a
 * loader can read each tensor straight into its place and the graph can reference it without another copy.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** Offsets of external tensors are multiples of this (onnxruntime's page-aligned mapping is always satisfied). */
export const EXTERNAL_ALIGNMENT = 4096;

/** The size of one arena buffer (a larger tensor gets a buffer of its own); a typed array holds at most 4 GiB. */
export const ARENA_CHUNK_BYTES = 1 << 30;

/** Initializers larger than this go to external data by default; smaller ones stay inline in the protobuf. */
export const EXTERNAL_THRESHOLD_BYTES = 1 << 20;

/** The in-memory bytes of one external-data location, as onnxruntime's `externalData` session option takes them. */
export interface ExternalDataFile {
  path: string;
  data: Uint8Array;
}

/** Where one external tensor's bytes are. */
export interface ExternalLocation {
  path: string;
  offset: number;
  length: number;
}

const align = (n: number) => Math.ceil(n / EXTERNAL_ALIGNMENT) * EXTERNAL_ALIGNMENT;

export class TensorArena {
  private constructor(
    readonly files: ExternalDataFile[],
    private readonly slots: { file: number; offset: number; bytes: number }[],
  ) {}

  /**
   * Allocates buffers for tensors of the given byte sizes, in order: each starts at an aligned offset of the
   * current buffer, or of a new one when it would overflow `chunkBytes`. Buffers are named `<prefix>-<i>.bin`.
   */
  static allocate(sizes: number[], opts: { prefix?: string; chunkBytes?: number } = {}): TensorArena {
    const chunk = opts.chunkBytes ?? ARENA_CHUNK_BYTES;
    const lengths: number[] = [];
    const slots = sizes.map((bytes) => {
      let file = lengths.length - 1;
      let offset = file < 0 ? 0 : align(lengths[file]);
      if (file < 0 || (offset + bytes > chunk && offset > 0)) {
        file = lengths.push(0) - 1;
        offset = 0;
      }
      lengths[file] = offset + bytes;
      return { file, offset, bytes };
    });
    const prefix = opts.prefix ?? 'weights';
    const files = lengths.map((n, i) => ({ path: `${prefix}-${i}.bin`, data: new Uint8Array(n) }));
    return new TensorArena(files, slots);
  }

  /** The float32 view of tensor i's place. */
  float32(i: number): Float32Array {
    const { file, offset, bytes } = this.slots[i];
    const data = this.files[file].data;
    return new Float32Array(data.buffer, data.byteOffset + offset, bytes / 4);
  }

  /** Where `view` lies in the arena, when it is one of its tensors' views. */
  locate(view: ArrayBufferView): ExternalLocation | undefined {
    const file = this.files.find((f) => f.data.buffer === view.buffer);
    if (!file) return undefined;
    return { path: file.path, offset: view.byteOffset - file.data.byteOffset, length: view.byteLength };
  }
}

/** A FLOAT initializer whose bytes are at `where` in external data. */
export function externalFloatInitializer(name: string, dims: number[], where: ExternalLocation) {
  return onnx.TensorProto.create({
    name,
    dims,
    dataType: onnx.TensorProto.DataType.FLOAT,
    dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
    externalData: [
      onnx.StringStringEntryProto.create({ key: 'location', value: where.path }),
      onnx.StringStringEntryProto.create({ key: 'offset', value: String(where.offset) }),
      onnx.StringStringEntryProto.create({ key: 'length', value: String(where.length) }),
    ],
  });
}
