import { Agent, request } from 'undici';
import { Webhook } from 'standardwebhooks';

// The yardstick the sweep is measured against: what a plain HTTP client does to the same receiver
// with no database at all. 64 connections, as many requests in flight, each one signed.
export const PLAIN_CONNECTIONS = 64;

/**
 * Sends `count` signed Standard Webhooks POSTs to `url` with a plain undici client and returns the
 * rate (requests/s). Ids are `plain_<n>`, so the receiver can tell them from the sweep's.
 */
export async function plainClientRate(url: string, secret: string, count: number): Promise<number> {
  const agent = new Agent({ connections: PLAIN_CONNECTIONS });
  const signer = new Webhook(secret);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const n = next++;
      const id = `plain_${n}`;
      const now = new Date();
      const body = `{"type":"order.paid","timestamp":${JSON.stringify(now.toISOString())},"data":{"orderId":${n},"total":"12.50"}}`;
      const response = await request(url, {
        method: 'POST',
        dispatcher: agent,
        headers: {
          'content-type': 'application/json',
          'webhook-id': id,
          'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
          'webhook-signature': signer.sign(id, now, body),
        },
        body,
      });
      await response.body.text();
    }
  };
  const started = performance.now();
  try {
    await Promise.all(Array.from({ length: PLAIN_CONNECTIONS }, worker));
    return count / ((performance.now() - started) / 1000);
  } finally {
    await agent.close();
  }
}
