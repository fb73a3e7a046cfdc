import type { Tracing } from '../tracing/tracing.js';
import { type SendOutcome, type SenderOptions, WebhookSender, type WebhookRequest } from './http.js';

/**
 * A `WebhookSender` whose every POST is a subsegment named by the receiver's host. What the trace
 * keeps: the method, the URL's origin (a receiver's path or query may hold its token), the status
 * and the outcome; never the body, the secrets or the signature header.
 */
export class TracedWebhookSender extends WebhookSender {
  constructor(
    options: SenderOptions,
    private readonly tracing: Tracing,
  ) {
    super(options);
  }

  override send(webhook: WebhookRequest, timeoutMs: number): Promise<SendOutcome> {
    const url = safeUrl(webhook.url);
    return this.tracing.span(
      url?.host ?? 'webhook',
      () => super.send(webhook, timeoutMs),
      ({ result }) => ({
        remote: true,
        annotations: { outcome: result?.kind ?? 'error' },
        http: { method: 'POST', url: url?.origin ?? 'invalid URL', ...(result?.status !== undefined && { status: result.status }) },
      }),
    );
  }
}

/** The sender the outbox should use: traced only when tracing is on, so local runs pay nothing. */
export function webhookSender(options: SenderOptions, tracing: Tracing | undefined): WebhookSender {
  return tracing?.active ? new TracedWebhookSender(options, tracing) : new WebhookSender(options);
}

function safeUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined; // the sender refuses it and says why; the span just has no host
  }
}
