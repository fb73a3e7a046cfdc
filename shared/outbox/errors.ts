import { ChoresError } from '../errors.js';

export class OutboxError extends ChoresError {}

/**
 * A failed step of a run as it reports it: what failed, Postgres' reason, and what became of the
 * deliveries, instead of a bare 'terminating connection due to administrator command'.
 *
 * @example stepFailed('claiming due deliveries', error, 'the claimed deliveries were given back')
 */
export function stepFailed(what: string, error: unknown, consequence: string): OutboxError {
  if (error instanceof OutboxError) return error; // already names what failed (a lock wait)
  const reason = error instanceof Error ? error.message : String(error);
  return new OutboxError(`${what} failed: ${reason} — ${consequence}`, { cause: error });
}

/** A webhook URL the SSRF policy refuses; `reason` says which rule and how to allow it. */
export class UnsafeUrlError extends OutboxError {
  /** The URL as shown: its origin, without credentials, path or query (see `shownUrl`). */
  readonly url: string;
  constructor(
    url: string,
    readonly reason: string,
  ) {
    super(`refusing webhook URL ${shownUrl(url)}: ${reason}`);
    this.url = shownUrl(url);
  }
}

/**
 * A webhook URL as errors show it: scheme and host, then `/…` for whatever followed. Secrets travel
 * in the other parts (`https://user:pass@…`, a token path such as `…/services/T0/B0/XXXX`), and a
 * refusal is kept in `last_error`, in the attempt's row and in the failed attempt's log line.
 */
function shownUrl(text: string): string {
  const [, scheme = '', host = '', rest = ''] = /^([^/?#]*\/\/)?(?:[^/?#]*@)?([^/?#]*)(.*)$/s.exec(text) ?? [];
  return `${scheme}${host}${rest.length > 1 ? '/…' : rest}`;
}

/** An SQS record whose body is not `{"eventIds": [...]}`. Only that record fails. */
export class MalformedDispatchMessageError extends OutboxError {}

export class EndpointNotFoundError extends OutboxError {
  constructor(readonly endpointId: string) {
    super(`no webhook endpoint with id ${endpointId} — see \`chores endpoints list\``);
  }
}

/** An event `publish` refuses (bad type, payload that is not JSON or that Postgres cannot store). Nothing was written. */
export class InvalidEventError extends OutboxError {}

/** A replay aimed at a disabled endpoint: nothing would be sent, so nothing is put back in line. */
export class EndpointDisabledError extends OutboxError {
  constructor(
    readonly endpointId: string,
    reason: string | null,
  ) {
    super(
      `endpoint ${endpointId} is disabled (${reason ?? 'no reason recorded'}) — enable it and replay in one step: ` +
        `\`chores endpoints enable ${endpointId} --replay-since <time>\``,
    );
  }
}

/** An event payload over OUTBOX_MAX_PAYLOAD_BYTES, refused at publish: nothing is written. */
export class PayloadTooLargeError extends OutboxError {
  constructor(
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(
      `event payload is ${bytes} bytes, over the ${limit}-byte limit (OUTBOX_MAX_PAYLOAD_BYTES); publish a reference to the data instead`,
    );
  }
}

/** A webhook secret that cannot be sealed or opened with the configured OUTBOX_SECRET_KEYS. */
export class SecretKeyError extends OutboxError {}
