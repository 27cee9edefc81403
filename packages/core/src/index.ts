export * from './contracts.js';
export { DistillGateError, isDistillGateError, type ErrorLocation } from './errors.js';
export { SeededRandom } from './random.js';
export { configSchema } from './config/schema.js';
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
  type ScreenSettings,
} from './config/load.js';
export {
  runSettings,
  runSettingList,
  runSettingsSchemaProperties,
  checkCommandOptions,
  actionInputs,
  settingFromInput,
  settingOverrides,
  resolveRunSettings,
  type RunSetting,
  type RunSettingKey,
  type RunSettingValues,
  type ConfigSettingKey,
  type CliSettingKey,
  type ActionSettingKey,
  type SettingOverrides,
  type ResolvedRunSettings,
  type CliOptionDescriptor,
  type ActionInputDescriptor,
  type BadRecordsPolicy,
  type OnnxRuntimeInput,
} from './config/settings.js';
export { loadPlugin, type LoadedPlugin, type BuiltinPlugins } from './plugins/loader.js';
export { applyFilters, applyTextFilters, type FilterCount, type FilteredDataset } from './data/filtering.js';
export {
  completePrompts,
  promptsOf,
  promptGeneratorHooks,
  samplingOptionsSchema,
  withSystemPrompt,
  type SamplingOptions,
} from './data/text-generation.js';
export {
  readTextDataset,
  writeTextDataset,
  parseTextRecord,
  isTextDatasetPath,
  type ReadTextOptions,
} from './data/text-data.js';
export { runSequentialCheck } from './check/sequential.js';
export {
  runCheck,
  parseShard,
  type CheckOptions,
  type CheckProgress,
  type CheckPhase,
  type ShardSpec,
} from './check/index.js';
export { errorShare } from './stats/multiplicity.js';
export { mergeResults } from './check/merge.js';
export * from './screen/index.js';
export {
  upperGamma,
  normalUpperTail,
  chiSquareUpperTail,
  mannWhitney,
  chiSquareCounts,
  conformalPValue,
  conformalCutoff,
} from './stats/screening.js';
export { CONTEXT_STEP } from './check/fit.js';
export {
  assemble,
  transferResult,
  overallVerdict,
  type AssemblyInput,
  type Assembled,
  type CheckScores,
} from './check/assemble.js';
export { PluginDriver, pluginError } from './plugins/driver.js';
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
  verdictProbability,
  transferVariance,
  MIN_DECISION_SEEDS,
  type VarianceSource,
  type PowerPlan,
} from './stats/estimates.js';
export { simulateGate, type SimulationDesign, type SimulationResult } from './stats/simulate.js';
export {
  writeFileAtomic,
  sha256File,
  sha256Floats,
  rememberTableHash,
  ensureWritableFolder,
  kindOf,
  fileInside,
  refuseIrregular,
} from './io.js';
export { compileSchema, nearest } from './validation.js';
export { formatMarkdown } from './reports/markdown.js';
export { formatJUnit, formatSarif, datasetPathFromCwd } from './reports/formats.js';
export { formatHtml } from './reports/html.js';
export { writeReports, resultSummary, itemLines, ITEMS_FILE } from './reports/index.js';
export { testPlugin, linearModel, type PluginTestCases } from './plugins/testkit.js';
export {
  readLabelledSet,
  labelledFormatOf,
  parseNpy,
  parseIdx,
  LABELLED_FORMATS,
  type LabelledSet,
  type LabelledSetSpec,
  type LabelledFormat,
  type LabelledScale,
} from './data/labelled.js';
export {
  pointerTo,
  duplicateKeyPointer,
  nonFinitePointer,
  parseStrictJsonObject,
  stripBom,
  MAX_JSON_BYTES,
} from './json-strict.js';
