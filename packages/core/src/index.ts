export * from './contracts.js';
export { DistillGateError, isDistillGateError, type ErrorLocation } from './errors.js';
export { SeededRandom } from './random.js';
export { configSchema } from './config-schema.js';
export {
  loadConfig,
  parseSeeds,
  type ResolvedConfig,
  type ConfigOverrides,
  type PluginRef,
  type BackendPreference,
  type InferencePreference,
  type TrainerPreference,
  type InconclusivePolicy,
} from './config.js';
export { loadPlugin, type LoadedPlugin, type BuiltinPlugins } from './plugins.js';
export { applyFilters, applyTextFilters, type FilterCount, type FilteredDataset } from './filtering.js';
export {
  completePrompts,
  promptsOf,
  promptGeneratorHooks,
  samplingOptionsSchema,
  type SamplingOptions,
} from './text-generation.js';
export {
  readTextDataset,
  writeTextDataset,
  parseTextRecord,
  isTextDatasetPath,
  type ReadTextOptions,
} from './text-data.js';
export { runSequentialCheck } from './sequential.js';
export {
  runCheck,
  errorShare,
  parseShard,
  type CheckOptions,
  type CheckProgress,
  type CheckPhase,
  type ShardSpec,
} from './engine.js';
export { mergeResults, transferResult, overallVerdict } from './verdicts.js';
export * from './result.js';
export {
  tInterval,
  pairedTransfer,
  decideVerdict,
  studentTCdf,
  studentTQuantile,
  binomialUpperTail,
  clopperPearson,
  explicitContentTest,
  type ExplicitContentTest,
  mean,
  sampleSd,
  type Verdict,
  type TransferEstimate,
  type MeanInterval,
  type VerdictDecision,
  type VarianceComponents,
  varianceComponents,
  seedsForPower,
  type PowerPlan,
} from './stats.js';
export { writeFileAtomic, sha256File, sha256Floats } from './io.js';
export { compileSchema, nearest } from './validation.js';
export { formatMarkdown } from './markdown.js';
export { formatJUnit, formatSarif, datasetPathFromCwd } from './formats.js';
export { formatHtml } from './html.js';
export { writeReports } from './reports.js';
export { testPlugin, linearModel, type PluginTestCases } from './testkit.js';
