/** Entry of the bundled GitHub Action (action.yml runs bundle/index.js, built from this file). */
import { run } from './main.js';

process.exitCode = await run();
