import type { ModelHandle } from '@distill-gate/core';
import type { OrtProvider } from '../../onnx/runtime.js';
import { hashParameters } from './io.js';
import { MlpModel, type MlpParameters } from './model.js';
import { mlpToOnnx, OnnxMlpSession } from './onnx.js';

/** A model held as host weights; inference runs on the main thread's backend. */
export class MlpHandle implements ModelHandle {
  readonly family = 'mlp';
  readonly modelType = 'mlp';
  readonly sha256: string;
  readonly inputDim: number;
  readonly outputDim: number;
  private live: MlpModel | undefined;
  private session: Promise<OnnxMlpSession> | undefined;

  /** With `provider`, inference runs in onnxruntime-node on that execution provider; else on the tfjs backend. */
  constructor(
    readonly id: string,
    readonly params: MlpParameters,
    private readonly backend: string,
    private readonly provider?: OrtProvider,
  ) {
    this.sha256 = hashParameters(params.tensors);
    this.inputDim = params.layers[0];
    this.outputDim = params.layers[params.layers.length - 1];
  }

  async predict(inputs: Float32Array, rows: number): Promise<Float32Array> {
    if (inputs.length !== rows * this.inputDim) {
      throw new Error(`predict: ${inputs.length} values is not ${rows} rows of ${this.inputDim}`);
    }
    if (this.provider) {
      this.session ??= OnnxMlpSession.create(this.params, { provider: this.provider });
      return (await this.session).predict(inputs, rows);
    }
    this.live ??= new MlpModel(this.params.layers, this.params.tensors, this.backend, false);
    return this.live.predict(inputs, rows);
  }

  toOnnx(): Uint8Array {
    return mlpToOnnx(this.params);
  }

  /** Frees the tfjs (or onnxruntime) copy of the weights (the host copy stays). */
  release(): void {
    this.live?.dispose();
    this.live = undefined;
    void this.session?.then(
      (s) => s.release(),
      () => undefined,
    );
    this.session = undefined;
  }
}
