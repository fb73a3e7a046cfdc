import { createHmac } from 'node:crypto';
import http, { type IncomingMessage, type RequestOptions } from 'node:http';
import https from 'node:https';
import { urlToHttpOptions } from 'node:url';
import { parseRetryAfter } from './backoff.js';
import { UnsafeUrlError } from './errors.js';
import { CONNECTIONS_PER_ORIGIN } from './limits.js';
import { SecretBox, type SecretKey } from './secrets.js';
import { buildAllowList, checkUrl, guardedLookup, type UrlPolicy } from './ssrf.js';

/** A checked URL, ready to send to: the request function and options for its scheme. */
interface Target {
  send: typeof http.request;
  options: RequestOptions;
  /** The Host header. */
  host: string;
}

/** One signed POST, as Standard Webhooks describes it. */
export interface WebhookRequest {
  url: string;
  /** Stable per event, so a receiver can drop a redelivery it already processed. */
  webhookId: string;
  timestamp: Date;
  body: string;
  /**
   * The current secret, then the previous one during a rotation: each signs, space-separated. As
   * stored: sealed (`enc:v1:…`), opened here with the sender's keys only to sign.
   */
  secrets: string[];
}

/** The SSRF policy, and the keys that open sealed secrets (`config.outbox` has both). */
export interface SenderOptions extends UrlPolicy {
  secretKeys: SecretKey[];
}

export type SendOutcome =
  | { kind: 'delivered'; status: number; response: string }
  | { kind: 'gone'; status: 410; response: string }
  | { kind: 'throttled'; status: number; response: string; retryAfterMs?: number }
  | { kind: 'failed'; status?: number; response?: string; error: string }
  /** The URL is refused by the SSRF policy: retrying cannot help, so the delivery fails at once. */
  | { kind: 'refused'; status?: undefined; response?: undefined; error: string }
  /** Never sent: the stored payload is over OUTBOX_MAX_PAYLOAD_BYTES (decided by the engine). */
  | { kind: 'undeliverable'; status?: undefined; response?: undefined; error: string };

// Enough to see an error page's message; a receiver streaming megabytes back must not cost us memory.
export const RESPONSE_CAP_BYTES = 4_096;
const THROTTLING = new Set([429, 502, 503, 504]);
// An idle pooled connection is closed after this long (undici's default). Receivers close idle
// keep-alive connections too (Node's http server after 5 s); a POST written onto one the receiver is
// closing fails with EPIPE or ECONNRESET, so ours must let go first.
const IDLE_CONNECTION_MS = 4_000;

/**
 * POSTs webhooks through Node's own keep-alive HTTP(S) agents (node:https rather than undici: undici
 * was 522 KiB of outbox-deliver's 841 KiB bundle and delivered no faster, see the README's benchmarks).
 * Connections are pinned to addresses the SSRF policy has checked (the socket's own DNS lookup is the
 * check), and redirects are never followed (node:http has no redirect handling at all): a 3xx is a
 * failure, since following it would let a receiver aim us anywhere. Each agent may open as many
 * connections per origin as a run has requests in flight, so no request waits in the pool: its
 * timeout runs while it is actually being sent.
 */
export class WebhookSender {
  private readonly agents: { 'http:': http.Agent; 'https:': https.Agent };
  private readonly allowed;
  /** Signing keys, by stored (sealed) secret. */
  private readonly keys = new Map<string, Buffer>();
  /**
   * URLs the policy has passed, as request options: each is checked and converted once, since the
   * check is pure and repeating it for every POST cost ~0.3 s of CPU per 10,000.
   */
  private readonly targets = new Map<string, Target>();
  private readonly box: SecretBox;

  constructor(private readonly policy: SenderOptions) {
    this.allowed = buildAllowList(policy.allowedCidrs);
    this.box = new SecretBox(policy.secretKeys);
    // `timeout` is the socket's idle timeout: the agent closes a pooled socket idle that long; on a
    // socket in use it only emits 'timeout', which nothing here listens to (the POST has its own).
    const pool = { keepAlive: true, maxSockets: CONNECTIONS_PER_ORIGIN, timeout: IDLE_CONNECTION_MS, lookup: guardedLookup(this.allowed) };
    this.agents = { 'http:': new http.Agent(pool), 'https:': new https.Agent(pool) };
  }

  async send(webhook: WebhookRequest, timeoutMs: number): Promise<SendOutcome> {
    // Started when the POST is: the pool never queues it (see the class comment). A plain timer that
    // destroys the request (and so the response being read): an AbortSignal per POST, with the
    // listeners node:http hangs on it, took a third of the sender's CPU (outbox bench).
    let request: http.ClientRequest | undefined;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      request?.destroy();
    }, timeoutMs);
    try {
      const response = await this.post(webhook, this.target(webhook.url), (started) => (request = started));
      const text = await readCapped(response);
      const status = response.statusCode!;
      if (status >= 200 && status < 300) return { kind: 'delivered', status, response: text };
      if (status === 410) return { kind: 'gone', status, response: text };
      if (THROTTLING.has(status)) {
        const retryAfterMs = parseRetryAfter(header(response.headers['retry-after']));
        return { kind: 'throttled', status, response: text, ...(retryAfterMs !== undefined && { retryAfterMs }) };
      }
      const redirect = status >= 300 && status < 400 ? ` (redirect to ${header(response.headers.location) ?? '?'} not followed)` : '';
      return { kind: 'failed', status, response: text, error: `HTTP ${status}${redirect}` };
    } catch (error) {
      const refusal = refusalIn(error);
      if (refusal) return { kind: 'refused', error: refusal };
      // A timeout surfaces as the destroyed socket's error ('socket hang up', 'aborted'), not as its own.
      if (timedOut) return { kind: 'failed', error: `timed out after ${timeoutMs} ms` };
      return { kind: 'failed', error: describe(error, timeoutMs) };
    } finally {
      clearTimeout(timer);
    }
  }

  close(): Promise<void> {
    this.agents['http:'].destroy();
    this.agents['https:'].destroy();
    return Promise.resolve();
  }

  /** Sends the signed POST and resolves with the response head; the body is read by the caller. */
  private post(webhook: WebhookRequest, target: Target, started: (request: http.ClientRequest) => void): Promise<IncomingMessage> {
    const headers = this.headers(webhook, target.host);
    return new Promise((resolve, reject) => {
      const request = target.send({ ...target.options, headers }, resolve);
      started(request);
      request.on('error', reject);
      // As a string, the body goes out in the same write as the headers (a Buffer is a second chunk).
      request.end(webhook.body);
    });
  }

  /** The URL as the SSRF policy passed it, ready to send to; a refused one throws, every time. */
  private target(text: string): Target {
    let target = this.targets.get(text);
    if (target === undefined) {
      const url = checkUrl(text, this.policy, this.allowed);
      const secure = url.protocol === 'https:';
      // Only what a request uses (checkUrl refuses credentials, so there is no `auth`): node:http and
      // its agent copy the options, property by property, twice per POST; urlToHttpOptions' hash,
      // search, pathname and href made that ~40% more work. `headers` is here, unset, so that each
      // POST's `{ ...options, headers }` only overwrites it: on Node 20's V8 a spread followed by a
      // property its source lacks takes a slow path (~1.6 µs).
      const { protocol, hostname, port, path } = urlToHttpOptions(url);
      const agent = secure ? this.agents['https:'] : this.agents['http:'];
      target = {
        send: secure ? https.request : http.request,
        options: { protocol, hostname, port, path, method: 'POST', agent, headers: undefined },
        host: url.host,
      };
      this.targets.set(text, target);
    }
    return target;
  }

  /**
   * As a flat list, which node:http writes as given: as an object, each header went through
   * setHeader and was copied again when the head was written. The list form adds no Host, so it
   * is here (`URL.host`: the port only when it is not the scheme's default).
   */
  private headers(webhook: WebhookRequest, host: string): string[] {
    const timestamp = String(Math.floor(webhook.timestamp.getTime() / 1000));
    const signed = `${webhook.webhookId}.${timestamp}.${webhook.body}`;
    const signatures = webhook.secrets.map((secret) => `v1,${createHmac('sha256', this.key(secret)).update(signed).digest('base64')}`);
    // biome-ignore format: one header per line, name then value
    return [
      'host', host,
      'content-type', 'application/json',
      'content-length', String(Buffer.byteLength(webhook.body)),
      'user-agent', 'chores-webhooks/1',
      'webhook-id', webhook.webhookId,
      'webhook-timestamp', timestamp,
      'webhook-signature', signatures.join(' '),
    ];
  }

  /**
   * The Standard Webhooks signing key: the secret's base64 after `whsec_`. Each stored secret is
   * opened once per container, only to sign. Signed with Node's HMAC rather than the
   * `standardwebhooks` package's pure-JS SHA-256, which took 8% of a sweep's CPU; the tests and the
   * dev receiver verify every signature with that package.
   */
  private key(stored: string): Buffer {
    let key = this.keys.get(stored);
    if (key === undefined) {
      key = Buffer.from(this.box.open(stored).replace(/^whsec_/, ''), 'base64');
      if (key.length === 0) throw new Error('the endpoint secret is empty');
      this.keys.set(stored, key);
    }
    return key;
  }
}

/**
 * Reads the response body up to the cap; a timeout firing while it streams aborts the read too.
 * NUL becomes U+FFFD: Postgres text cannot hold it, and one body with it (a gzipped answer, which
 * starts 1f 8b 08 00) failed the whole flush, every outcome of the batch sent again.
 * With listeners rather than `for await`: the stream's async iterator cost a promise per chunk and
 * more per response than the rest of the read.
 */
function readCapped(body: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => resolve(Buffer.concat(chunks).subarray(0, RESPONSE_CAP_BYTES).toString('utf8').replaceAll('\0', '\uFFFD'));
    body.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= RESPONSE_CAP_BYTES) {
        body.destroy(); // stop reading; the connection is dropped rather than drained
        done();
      }
    });
    body.on('end', done);
    body.on('error', reject);
    // A destroyed response (the timeout) may end with neither 'end' nor 'error'.
    body.on('close', () => (body.complete ? done() : reject(new Error('aborted'))));
  });
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The SSRF refusal behind an error (thrown by checkUrl, or by the socket's lookup), if it is one. */
function refusalIn(error: unknown): string | undefined {
  if (error instanceof UnsafeUrlError) return error.message;
  const { cause } = error as { cause?: unknown };
  return cause instanceof UnsafeUrlError ? cause.message : undefined;
}

function describe(error: unknown, timeoutMs: number): string {
  const err = error as Error & { code?: string };
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return `timed out after ${timeoutMs} ms`;
  return [err.code, err.message].filter(Boolean).join(': ') || String(error);
}
