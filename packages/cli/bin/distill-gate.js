#!/usr/bin/env node
// Kept as plain JavaScript (committed, executable) so npm can link it before the TypeScript build has run.
import { main } from '../dist/index.js';

process.exitCode = await main(process.argv);
