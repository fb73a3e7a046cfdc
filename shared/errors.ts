/**
 * The base of every error chores raises on purpose. Domain errors extend it so callers can tell
 * "chores refused or failed, and says why" apart from a bug, and so `cause` is always kept.
 */
export class ChoresError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The environment (or a manual payload) does not describe a runnable configuration. */
export class ConfigError extends ChoresError {
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
  }
}
