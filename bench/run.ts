import { cpus, totalmem } from 'node:os';
import { benchBundles } from './bundles.js';
import { reportingSteal } from './host.js';
import { benchOutbox } from './outbox.js';
import { benchResultsAtScale, benchResultsCleanup } from './results-cleanup.js';
import { benchTablesCleanup } from './tables-cleanup.js';
import { benchUploads } from './uploads.js';

// Benchmarks print numbers; they never fail the build. Targets are shown beside each figure.
// Lambda runs nodejs22.x; the SDK's notice about this machine's Node 20 is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`);
// `npm run bench -- outbox` runs one benchmark; no argument runs them all.
const only = process.argv[2];
if (!only || only === 'results') await reportingSteal(benchResultsCleanup);
// Seeds 10M rows: the longest part of a full run (`npm run bench -- scale` runs it alone).
if (!only || only === 'scale') await reportingSteal(benchResultsAtScale);
if (!only || only === 'tables') await reportingSteal(benchTablesCleanup);
if (!only || only === 'outbox') await reportingSteal(benchOutbox);
if (!only || only === 'uploads') await reportingSteal(benchUploads);
if (!only || only === 'bundles') await reportingSteal(benchBundles);
