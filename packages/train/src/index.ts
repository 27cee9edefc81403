// The training core and its pieces shared by every model family.
export { createTrainingCore, chooseInference, chooseTrainer, type TrainingCoreOptions } from './training-core.js';
export {
  selectBackend,
  BACKEND_PRIORITY,
  type BackendName,
  type BackendRequest,
  type SelectedBackend,
} from './backend.js';
export { matMulExplicitGrad, matMulFor, batchMatMulExplicitGrad, batchMatMulFor } from './ops.js';
export {
  readSafetensorsHeader,
  readSafetensor,
  writeSafetensors,
  openSafetensorsCheckpoint,
  readCheckpointTensor,
  type SafetensorsHeader,
  type SafetensorsCheckpoint,
  type TensorToWrite,
} from './safetensors.js';
export { readTensorDataset, writeTensorDataset } from './tensor-dataset.js';
export { stepsPerEpoch, type TrainingRunArgs, type TrainingRunResult } from './training-run.js';
export { toShared } from './shared-memory.js';
export { runPool, defaultWorkerCount, type PoolResult } from './workers/pool.js';
export type { WorkerJob } from './workers/protocol.js';
export {
  loadOnnxRuntime,
  ONNXRUNTIME_NODE_VERSION,
  detectOrtProviders,
  onnxRuntimeDir,
  type OrtProvider,
  type OrtAvailability,
} from './onnx/runtime.js';
export { convertModel, type ConvertResult } from './convert.js';

// The model families and their registry.
export {
  modelFamilies,
  familyNamed,
  familyOf,
  detectFamily,
  describeFamilies,
  readModelFile,
  type LoadedModel,
} from './families/registry.js';
export type { ModelFamily, FamilyHandle } from './families/family.js';
export { formatOf } from './families/source.js';

// The MLP family.
export { MlpHandle } from './families/mlp/handle.js';
export {
  initMlp,
  MlpModel,
  parameterNames,
  parameterShapes,
  type MlpLayers,
  type MlpParameters,
} from './families/mlp/model.js';
export {
  trainMlp,
  lossFn,
  type TrainMlpArgs,
  type TrainMlpResult,
  type LossName,
  type TrainingData,
} from './families/mlp/trainer.js';
export { saveMlp, loadMlp, hashParameters } from './families/mlp/io.js';
export { mlpToOnnx, mlpFromOnnx, saveMlpOnnx, loadMlpOnnx, OnnxMlpSession } from './families/mlp/onnx.js';
export {
  trainMlpOnnx,
  mlpTrainStepOnnx,
  mlpTrainState,
  type TrainMlpOnnxArgs,
  type MlpTrainGraphOptions,
} from './families/mlp/onnx-train.js';

// The small language model family.
export { LmHandle, encodeTextDataset } from './families/small-lm/handle.js';
export {
  Tokenizer,
  PAD,
  BOS,
  EOS,
  UNK,
  SEP,
  SPECIAL_TOKENS,
  type TokenizerJson,
} from './families/small-lm/tokenizer.js';
export {
  initTransformer,
  transformerSpec,
  TransformerModel,
  type TransformerConfig,
  type TransformerParameters,
} from './families/small-lm/transformer.js';
export {
  trainLm,
  buildLmBatch,
  lmLoss,
  type TrainLmArgs,
  type TrainLmResult,
  type LmTrainingData,
} from './families/small-lm/trainer.js';
export {
  LanguageModel,
  TfjsLmEngine,
  encodeRecords,
  RecordEncodingError,
  type LmEngine,
  type Decoding,
  type TextPair,
} from './families/small-lm/language-model.js';
export { sampleToken } from './families/sampling.js';
export {
  saveLanguageModel,
  loadLanguageModel,
  hashLanguageModel,
  LM_FORMAT,
  type LanguageModelFile,
} from './families/small-lm/io.js';
export {
  transformerToOnnx,
  transformerFromOnnx,
  saveLanguageModelOnnx,
  isLanguageModelOnnx,
  OnnxLmEngine,
  TRANSFORMER_OPS,
  type OnnxLmOptions,
} from './families/small-lm/onnx.js';
export { trainLmOnnx, transformerTrainStepOnnx } from './families/small-lm/onnx-train.js';

// Hugging Face causal LMs (model folders): exact log-probs, sampling, LoRA and full students, folders written.
export {
  loadHfModel,
  hfFamily,
  HfHandle,
  HfTokenizer,
  HF_MODEL_TYPES,
  estimateLoadPeak,
  parseHfConfig,
  readHfModelFolder,
  saveHfModelFolder,
  createHfModelFolder,
  type SaveHfModelOptions,
  type CreateHfModelOptions,
  type HfModel,
  type LoadHfModelOptions,
  type HfArchitecture,
  type HfModelType,
  type HfActivation,
  type HfChatMessage,
  type HfEncoding,
  type HfModelFolder,
  type RenderChatOptions,
} from './families/hf/index.js';
export { HfLoraTrainer, type LoraExample, type LossTarget } from './families/hf/lora-train.js';
export { initLoraParams, loraAdapterSpecs, type LoraAdapterSpec } from './families/hf/lora.js';
export {
  loadScoringModel,
  scoreRecords,
  type ScoringModel,
  type ScoredRecord,
  type ScoreSummary,
  type ScoreOptions,
  type OverlongPolicy,
} from './score.js';
export { renderRecord, RenderError, type RenderTokenizer, type RenderedRecord } from './tokenizers/render.js';
