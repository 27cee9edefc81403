#!/usr/bin/env node
// Kept as plain JavaScript (committed, executable) so npm can link it before the TypeScript build has run.
import { runProcess } from '../dist/index.js';

await runProcess();
