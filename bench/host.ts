import { readFileSync } from 'node:fs';

/** The host's CPU time by kind (jiffies, all cores), from /proc/stat; undefined off Linux. */
function cpuTimes(): { steal: number; idle: number; total: number } | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already counted in user).
    const [user, nice, system, idle, iowait, irq, softirq, steal] = fields as number[];
    return { steal: steal!, idle: idle! + iowait!, total: user! + nice! + system! + idle! + iowait! + irq! + softirq! + steal! };
  } catch {
    return undefined;
  }
}

/**
 * Runs one part of the benchmark and prints the share of the machine's CPU time the hypervisor
 * gave to other guests meanwhile (steal): on a shared host it is what moves the figures most, so
 * every part says how much of it there was.
 */
export async function reportingSteal(part: () => Promise<void>): Promise<void> {
  const before = cpuTimes();
  await part();
  const after = cpuTimes();
  if (!before || !after || after.total === before.total) return;
  const share = (key: 'steal' | 'idle') => (100 * (after[key] - before[key])) / (after.total - before.total);
  console.log(
    `  host during this part: ${share('steal').toFixed(0)}% of CPU time stolen by the hypervisor, ${share('idle').toFixed(0)}% idle`,
  );
}
