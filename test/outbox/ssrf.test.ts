import { describe, expect, it } from 'vitest';
import { addEndpoint } from '../../shared/outbox/endpoints.js';
import { UnsafeUrlError } from '../../shared/outbox/errors.js';
import { WebhookSender } from '../../shared/outbox/http.js';
import { buildAllowList, checkUrl, guardedLookup } from '../../shared/outbox/ssrf.js';
import { schema, testDatabase } from '../helpers/db.js';
import { startReceiver } from '../helpers/receiver.js';

const { db } = await testDatabase();
const strict = { allowHttp: false, allowedCidrs: [] };

describe('the webhook URL policy', () => {
  it.each([
    ['http://example.com/hook', /only https/],
    ['https://127.0.0.1/hook', /internal address/],
    ['https://10.1.2.3/hook', /internal address/],
    ['https://172.20.0.1/hook', /internal address/],
    ['https://192.168.1.1/hook', /internal address/],
    ['https://169.254.169.254/latest/meta-data', /internal address/],
    ['https://100.64.0.1/hook', /internal address/],
    ['https://[::1]/hook', /internal address/],
    ['https://[fd00:ec2::254]/hook', /internal address/],
    ['https://[fe80::1]/hook', /internal address/],
    ['https://[::ffff:127.0.0.1]/hook', /internal address/],
    ['https://user:pass@example.com/hook', /credentials/],
    ['not a url', /not a valid absolute URL/],
  ])('refuses %s', (url, reason) => {
    expect(() => checkUrl(url, strict)).toThrow(UnsafeUrlError);
    expect(() => checkUrl(url, strict)).toThrow(reason);
  });

  it('accepts a public https URL, and internal ones only when listed in OUTBOX_ALLOWED_CIDRS', () => {
    expect(checkUrl('https://hooks.example.com/x', strict).hostname).toBe('hooks.example.com');
    expect(checkUrl('https://8.8.8.8/x', strict).hostname).toBe('8.8.8.8');
    expect(checkUrl('http://127.0.0.1:9000/x', { allowHttp: true, allowedCidrs: ['127.0.0.0/8'] }).port).toBe('9000');
    expect(() => checkUrl('https://10.0.0.1/x', { allowHttp: false, allowedCidrs: ['127.0.0.0/8'] })).toThrow(UnsafeUrlError);
  });

  it('refuses a hostname that resolves to a refused address, at connect time', async () => {
    const lookup = guardedLookup(buildAllowList([]), ((_host: string, _opts: unknown, cb: (e: null, a: unknown) => void) =>
      cb(null, [{ address: '93.184.216.34', family: 4 }, { address: '169.254.169.254', family: 4 }])) as never);

    const error = await new Promise<Error | null>((resolve) => lookup('rebind.example', { all: false }, (e) => resolve(e)));

    expect(error?.message).toMatch(/rebind\.example resolves to 169\.254\.169\.254/);
  });

  it('never connects to a real loopback receiver reached by name unless loopback is allowed', async () => {
    const receiver = await startReceiver();
    const port = new URL(receiver.url).port;
    const blocked = new WebhookSender({ allowHttp: true, allowedCidrs: [] }, 1);
    const allowed = new WebhookSender({ allowHttp: true, allowedCidrs: ['127.0.0.0/8', '::1/128'] }, 1);
    const webhook = { url: `http://localhost:${port}/x`, webhookId: 'msg_1', timestamp: new Date(), body: '{}', secrets: ['whsec_' + Buffer.from('k').toString('base64')] };

    const refused = await blocked.send(webhook, 2_000);
    const sent = await allowed.send(webhook, 2_000);
    await Promise.all([blocked.close(), allowed.close()]);

    expect(refused).toMatchObject({ kind: 'failed', error: expect.stringMatching(/localhost resolves to (127\.0\.0\.1|::1)/) });
    expect(sent).toMatchObject({ kind: 'delivered', status: 200 });
    expect(receiver.received).toHaveLength(1);
  });

  it('rejects a bad CIDR naming it', () => {
    expect(() => buildAllowList(['10.0.0.0/33'])).toThrow(/"10\.0\.0\.0\/33" is not a CIDR/);
  });

  it('makes `endpoints add` refuse an unsafe URL and store nothing', async () => {
    await expect(addEndpoint(db, schema, strict, { url: 'https://169.254.169.254/', eventTypes: [] })).rejects.toThrow(/refusing webhook URL/);

    expect((await db.query('SELECT count(*)::int AS n FROM chores.webhook_endpoints')).rows[0].n).toBe(0);
  });
});
