export { main, buildProgram, check, readResultFile, type CheckCommandOptions } from './program.js';
export { VERSION } from './version.js';
export { formatResultTable } from './table.js';
export { builtinPlugins } from './builtins.js';
