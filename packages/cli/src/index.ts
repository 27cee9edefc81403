export { main, buildProgram, check, VERSION, type CheckCommandOptions } from './program.js';
export { formatResultTable } from './table.js';
