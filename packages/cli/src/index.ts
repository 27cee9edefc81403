export { main, runProcess, buildProgram, check, readResultFile, type CheckCommandOptions } from './program.js';
export { VERSION } from './version.js';
export { TRAINING_V8_FLAGS, setTrainingV8Flags } from './v8-flags.js';
export { formatResultTable } from './table.js';
export { builtinPlugins } from './builtins.js';
export {
  AUX_OUTPUTS,
  BASE_SEED,
  CLASS_OUTPUTS,
  DIFFERENT_BASE_SEED,
  HYPER,
  LAYERS,
  NOISE_COUNT,
  TEACHER_SEED,
  mnistConfig,
  writeMnistModels,
} from './scenarios/mnist-subliminal.js';
export { pluginCatalog, describePlugin, formatPluginList, defaultOptions, PLUGIN_KEYWORD } from './plugin-catalog.js';
