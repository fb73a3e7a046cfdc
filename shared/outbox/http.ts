import { Agent, request } from 'undici';
import { Webhook } from 'standardwebhooks';
import { parseRetryAfter } from './backoff.js';
import { buildAllowList, checkUrl, guardedLookup, type UrlPolicy } from './ssrf.js';

/** One signed POST, as Standard Webhooks describes it. */
export interface WebhookRequest {
  url: string;
  /** Stable per event, so a receiver can drop a redelivery it already processed. */
  webhookId: string;
  timestamp: Date;
  body: string;
  /** The current secret, then the previous one during a rotation: each signs, space-separated. */
  secrets: string[];
}

export type SendOutcome =
  | { kind: 'delivered'; status: number; response: string }
  | { kind: 'gone'; status: 410; response: string }
  | { kind: 'throttled'; status: number; response: string; retryAfterMs?: number }
  | { kind: 'failed'; status?: number; response?: string; error: string };

// Enough to see an error page's message; a receiver streaming megabytes back must not cost us memory.
export const RESPONSE_CAP_BYTES = 4_096;
const THROTTLING = new Set([429, 502, 503, 504]);

/**
 * POSTs webhooks through one pooled keep-alive client. Connections are pinned to addresses the
 * SSRF policy has checked (the socket's own DNS lookup is the check), and redirects are never
 * followed: a 3xx is a failure, since following it would let a receiver aim us anywhere.
 */
export class WebhookSender {
  private readonly agent: Agent;
  private readonly allowed;
  private readonly signers = new Map<string, Webhook>();

  constructor(
    private readonly policy: UrlPolicy,
    connectionsPerOrigin: number,
  ) {
    this.allowed = buildAllowList(policy.allowedCidrs);
    this.agent = new Agent({ connections: connectionsPerOrigin, connect: { lookup: guardedLookup(this.allowed) } });
  }

  async send(webhook: WebhookRequest, timeoutMs: number): Promise<SendOutcome> {
    try {
      checkUrl(webhook.url, this.policy, this.allowed);
      const response = await request(webhook.url, {
        method: 'POST',
        dispatcher: this.agent,
        headers: this.headers(webhook),
        body: webhook.body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await readCapped(response.body);
      const status = response.statusCode;
      if (status >= 200 && status < 300) return { kind: 'delivered', status, response: text };
      if (status === 410) return { kind: 'gone', status, response: text };
      if (THROTTLING.has(status)) {
        const retryAfterMs = parseRetryAfter(header(response.headers['retry-after']));
        return { kind: 'throttled', status, response: text, ...(retryAfterMs !== undefined && { retryAfterMs }) };
      }
      const redirect = status >= 300 && status < 400 ? ` (redirect to ${header(response.headers.location) ?? '?'} not followed)` : '';
      return { kind: 'failed', status, response: text, error: `HTTP ${status}${redirect}` };
    } catch (error) {
      return { kind: 'failed', error: describe(error, timeoutMs) };
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }

  private headers(webhook: WebhookRequest): Record<string, string> {
    const signatures = webhook.secrets.map((secret) => this.signer(secret).sign(webhook.webhookId, webhook.timestamp, webhook.body));
    return {
      'content-type': 'application/json',
      'user-agent': 'chores-webhooks/1',
      'webhook-id': webhook.webhookId,
      'webhook-timestamp': String(Math.floor(webhook.timestamp.getTime() / 1000)),
      'webhook-signature': signatures.join(' '),
    };
  }

  private signer(secret: string): Webhook {
    let signer = this.signers.get(secret);
    if (!signer) this.signers.set(secret, (signer = new Webhook(secret)));
    return signer;
  }
}

async function readCapped(body: AsyncIterable<Buffer> & { destroy(): void }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= RESPONSE_CAP_BYTES) {
      body.destroy(); // stop reading; the connection is dropped rather than drained
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, RESPONSE_CAP_BYTES).toString('utf8');
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function describe(error: unknown, timeoutMs: number): string {
  const err = error as Error & { code?: string; cause?: Error };
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return `timed out after ${timeoutMs} ms`;
  const cause = err.cause instanceof Error ? err.cause : undefined;
  if (err.name === 'UnsafeUrlError' || cause?.name === 'UnsafeUrlError') return (cause ?? err).message;
  return [err.code, err.message].filter(Boolean).join(': ') || String(error);
}
