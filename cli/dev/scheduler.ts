import { jobNames, jobs, type JobName } from '../../shared/jobs.js';
import { nextRun, parseSchedule, type Schedule } from '../../shared/schedule/expression.js';

/**
 * Fires each job on its registry schedule, evaluated as EventBridge Scheduler would (cron with
 * timezone and DST, rate from the start). Runs go one at a time, in order of their due times, so
 * the output reads as a log.
 */
export class LocalScheduler {
  private readonly schedules = new Map<JobName, Schedule>(
    jobNames.map((job) => [job, parseSchedule(jobs[job].schedule, jobs[job].timezone)]),
  );
  private readonly due = new Map<JobName, Date>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly run: (job: JobName) => Promise<void>,
    private readonly started = new Date(),
  ) {}

  /** Each job's next run time, for the start-up banner. */
  plan(): [JobName, Date][] {
    for (const [job, schedule] of this.schedules) this.due.set(job, nextRun(schedule, new Date(), this.started));
    return [...this.due].sort((a, b) => a[1].getTime() - b[1].getTime());
  }

  start(): void {
    this.plan();
    this.arm();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private arm(): void {
    if (this.stopped) return;
    const [job, at] = [...this.due].sort((a, b) => a[1].getTime() - b[1].getTime())[0]!;
    this.timer = setTimeout(
      () => {
        this.due.set(job, nextRun(this.schedules.get(job)!, at, this.started));
        this.running = this.running.then(() => this.run(job));
        this.arm();
      },
      Math.max(0, at.getTime() - Date.now()),
    );
  }
}
