// A webhook receiver in its own process: counts each webhook-id and notes when it arrived, so the
// parent can compute duplicates and commit-to-receipt latency. Talks to the parent over IPC.
import { createServer } from 'node:http';

const seen = new Map(); // webhook-id → receipts
const arrivals = new Map(); // webhook-id → first receipt time (epoch ms, sub-ms precision)
const now = () => performance.timeOrigin + performance.now();

const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const id = req.headers['webhook-id'];
    seen.set(id, (seen.get(id) ?? 0) + 1);
    if (!arrivals.has(id)) arrivals.set(id, now());
    res.end('ok');
  });
});
server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));

process.on('message', (message) => {
  if (message === 'reset') {
    seen.clear();
    arrivals.clear();
    process.send({ reset: true });
  } else if (message === 'report') {
    let total = 0;
    for (const count of seen.values()) total += count;
    process.send({ total, unique: seen.size, arrivals: Object.fromEntries(arrivals) });
  } else if (message === 'stop') {
    server.close();
    process.exit(0);
  }
});
