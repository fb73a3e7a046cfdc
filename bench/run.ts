import { cpus, totalmem } from 'node:os';
import { benchOutbox } from './outbox.js';
import { benchResultsCleanup } from './results-cleanup.js';

// Benchmarks print numbers; they never fail the build. Targets are shown beside each figure.
console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`);
// `npm run bench -- outbox` runs one benchmark; no argument runs them all.
const only = process.argv[2];
if (!only || only === 'results') await benchResultsCleanup();
if (!only || only === 'outbox') await benchOutbox();
