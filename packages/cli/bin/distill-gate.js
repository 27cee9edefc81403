#!/usr/bin/env node
// Kept as plain JavaScript (committed, executable) so npm can link it before the TypeScript build has run.
// The V8 settings come first, before the CLI's modules load (src/v8-flags.ts says why).
import { setTrainingV8Flags } from '../dist/v8-flags.js';

setTrainingV8Flags();
const { runProcess } = await import('../dist/index.js');
await runProcess();
