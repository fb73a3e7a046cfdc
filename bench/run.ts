import { cpus, totalmem } from 'node:os';
import { benchResultsCleanup } from './results-cleanup.js';

// Benchmarks print numbers; they never fail the build. Targets are shown beside each figure.
console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`);
await benchResultsCleanup();
