export {
  createTrainingCore,
  chooseInference,
  chooseTrainer,
  MlpHandle,
  LmHandle,
  encodeTextDataset,
  type TrainingCoreOptions,
} from './runtime.js';
export {
  selectBackend,
  BACKEND_PRIORITY,
  type BackendName,
  type BackendRequest,
  type SelectedBackend,
} from './backend.js';
export { initMlp, MlpModel, parameterNames, parameterShapes, type MlpLayers, type MlpParameters } from './mlp.js';
export {
  trainMlp,
  lossFn,
  stepsPerEpoch,
  type TrainMlpArgs,
  type TrainMlpResult,
  type LossName,
  type TrainingData,
  type TrainingRunArgs,
  type TrainingRunResult,
} from './trainer.js';
export { matMulExplicitGrad, matMulFor, batchMatMulExplicitGrad, batchMatMulFor } from './ops.js';
export { saveMlp, loadMlp, hashParameters, readTensorDataset, writeTensorDataset } from './model-io.js';
export {
  readSafetensorsHeader,
  readSafetensor,
  writeSafetensors,
  type SafetensorsHeader,
  type TensorToWrite,
} from './safetensors.js';
export {
  mlpToOnnx,
  mlpFromOnnx,
  saveMlpOnnx,
  loadMlpOnnx,
  loadOnnxRuntime,
  ONNXRUNTIME_NODE_VERSION,
  OnnxMlpSession,
  detectOrtProviders,
  type OrtProvider,
  type OrtAvailability,
} from './onnx.js';
export { runPool, toShared, defaultWorkerCount, type PoolResult } from './pool.js';
export type { WorkerJob } from './protocol.js';
export { Tokenizer, PAD, BOS, EOS, UNK, SEP, SPECIAL_TOKENS, type TokenizerJson } from './tokenizer.js';
export {
  initTransformer,
  transformerSpec,
  TransformerModel,
  type TransformerConfig,
  type TransformerParameters,
} from './transformer.js';
export {
  trainLm,
  buildLmBatch,
  lmLoss,
  type TrainLmArgs,
  type TrainLmResult,
  type LmTrainingData,
} from './lm-trainer.js';
export { LanguageModel, encodeRecords, sampleToken, RecordEncodingError, type TextPair } from './language-model.js';
export { saveLanguageModel, loadLanguageModel, hashLanguageModel, LM_FORMAT, type LanguageModelFile } from './lm-io.js';
export {
  transformerToOnnx,
  transformerFromOnnx,
  saveLanguageModelOnnx,
  isLanguageModelOnnx,
  OnnxLmEngine,
  TRANSFORMER_OPS,
  type OnnxLmOptions,
} from './onnx-lm.js';
export { TfjsLmEngine, type LmEngine, type Decoding } from './language-model.js';
export { convertModel, readModelFile, formatOf, type ConvertResult, type LoadedModelFile } from './convert.js';
export {
  trainMlpOnnx,
  mlpTrainStepOnnx,
  mlpTrainState,
  type TrainMlpOnnxArgs,
  type MlpTrainGraphOptions,
} from './onnx-train.js';
export { trainLmOnnx, transformerTrainStepOnnx } from './onnx-lm-train.js';
