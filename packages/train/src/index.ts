export { createTrainingCore, MlpHandle, type TrainingCoreOptions } from './runtime.js';
export { selectBackend, BACKEND_PRIORITY, type BackendName, type BackendRequest, type SelectedBackend } from './backend.js';
export { initMlp, MlpModel, parameterNames, parameterShapes, type MlpLayers, type MlpParameters } from './mlp.js';
export { trainMlp, lossFn, stepsPerEpoch, type TrainMlpArgs, type TrainMlpResult, type LossName, type TrainingData } from './trainer.js';
export { matMulExplicitGrad, matMulFor } from './ops.js';
export { saveMlp, loadMlp, hashParameters, readTensorDataset, writeTensorDataset } from './model-io.js';
export { readSafetensorsHeader, readSafetensor, writeSafetensors, type SafetensorsHeader, type TensorToWrite } from './safetensors.js';
export { runPool, toShared, defaultWorkerCount, type PoolResult } from './pool.js';
export type { WorkerJob } from './protocol.js';
