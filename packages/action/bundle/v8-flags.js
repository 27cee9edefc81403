import { createRequire as __dgCreateRequire } from 'node:module';
import { fileURLToPath as __dgFileURLToPath } from 'node:url';
import { dirname as __dgDirname } from 'node:path';
const require = __dgCreateRequire(import.meta.url);
const __filename = __dgFileURLToPath(import.meta.url);
const __dirname = __dgDirname(__filename);
import{setFlagsFromString as o}from"node:v8";var t=typeof ArrayBuffer.prototype.transfer=="function",n=t?[]:["--harmony-rab-gsab-transfer"];function f(){for(let r of n)o(r)}export{n as TRAINING_V8_FLAGS,f as setTrainingV8Flags};
