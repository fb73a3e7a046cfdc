import { describe, expect, it } from 'vitest';
import { addEndpoint } from '../../shared/outbox/endpoints.js';
import { UnsafeUrlError } from '../../shared/outbox/errors.js';
import { WebhookSender } from '../../shared/outbox/http.js';
import { buildAllowList, checkUrl, guardedLookup, whyRefused } from '../../shared/outbox/ssrf.js';
import { schema, testDatabase } from '../helpers/db.js';
import { startReceiver } from '../helpers/receiver.js';

const { db } = await testDatabase();
const strict = { allowHttp: false, allowedCidrs: [], secretKeys: [] };

describe('the webhook URL policy', () => {
  it.each([
    ['http://example.com/hook', /only https/],
    ['https://user:pass@example.com/hook', /credentials/],
    ['not a url', /not a valid absolute URL/],
  ])('refuses %s', (url, reason) => {
    expect(() => checkUrl(url, strict)).toThrow(UnsafeUrlError);
    expect(() => checkUrl(url, strict)).toThrow(reason);
  });

  // Only globally routable unicast addresses pass; each refusal names the range (IANA's IPv4 and
  // IPv6 special-purpose registries), and forms carrying an IPv4 address are judged by that address.
  it.each([
    ['0.0.0.0', '"this network"'],
    ['10.1.2.3', 'private'],
    ['100.64.0.1', 'shared address space (CGNAT)'],
    ['127.0.0.1', 'loopback'],
    ['169.254.169.254', 'link-local (where cloud metadata services live)'],
    ['172.20.0.1', 'private'],
    ['192.0.0.8', 'IETF protocol assignments'],
    ['192.0.2.10', 'documentation (TEST-NET-1)'],
    ['192.88.99.1', 'the deprecated 6to4 relay anycast'],
    ['192.168.1.1', 'private'],
    ['198.18.0.1', 'benchmarking'],
    ['198.51.100.7', 'documentation (TEST-NET-2)'],
    ['203.0.113.9', 'documentation (TEST-NET-3)'],
    ['224.0.0.251', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'broadcast'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['::8.8.8.8', 'IPv4-compatible (deprecated)'],
    ['::ffff:127.0.0.1', 'IPv4-mapped, carrying 127.0.0.1: loopback'],
    ['::ffff:a00:1', 'IPv4-mapped, carrying 10.0.0.1: private'],
    ['::ffff:0:10.0.0.1', 'IPv4-translated (SIIT), carrying 10.0.0.1: private'],
    ['64:ff9b::a9fe:a9fe', 'NAT64, carrying 169.254.169.254: link-local (where cloud metadata services live)'],
    ['64:ff9b:1::1', 'local-use NAT64'],
    ['2002:c0a8:101::1', '6to4, carrying 192.168.1.1: private'],
    ['100::1', 'discard-only'],
    ['2001::1', 'Teredo (refused: the address it leads to cannot be judged)'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'Teredo (refused: the address it leads to cannot be judged)'],
    ['2001:2::1', 'IETF protocol assignments'],
    ['2001:db8::1', 'documentation'],
    ['3fff::1', 'documentation'],
    ['fd00:ec2::254', 'unique-local (the AWS metadata service fd00:ec2::254 included)'],
    ['fe80::1', 'link-local'],
    ['fec0::1', 'site-local (deprecated)'],
    ['ff02::1', 'multicast'],
    ['5f00::1', 'outside global unicast (2000::/3)'],
    ['4000::1', 'outside global unicast (2000::/3)'],
  ])('refuses %s: %s', (address, why) => {
    const url = `https://${address.includes(':') ? `[${address}]` : address}/hook`;

    expect(whyRefused(address, buildAllowList([]))).toBe(why);
    expect(() => checkUrl(url, strict)).toThrow(UnsafeUrlError);
    expect(() => checkUrl(url, strict)).toThrow(/is not a globally routable unicast address: .*\(allow it with OUTBOX_ALLOWED_CIDRS\)/);
  });

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '93.184.216.34',
    '2606:4700:4700::1111',
    '2a00:1450:4001:80b::200e',
    '::ffff:8.8.8.8',
    '::ffff:0:8.8.8.8',
    '64:ff9b::808:808',
    '2002:808:808::1',
  ])('accepts the globally routable %s', (address) => {
    expect(whyRefused(address, buildAllowList([]))).toBeUndefined();
  });

  it('lets OUTBOX_ALLOWED_CIDRS open a range, for the address itself and for a form carrying it', () => {
    const loopback = buildAllowList(['127.0.0.0/8', 'fd00::/8']);

    expect(whyRefused('127.0.0.1', loopback)).toBeUndefined();
    expect(whyRefused('::ffff:127.0.0.1', loopback)).toBeUndefined();
    expect(whyRefused('fd00:ec2::254', loopback)).toBeUndefined();
    expect(whyRefused('10.0.0.1', loopback)).toBe('private');
  });

  it('accepts a public https URL, and internal ones only when listed in OUTBOX_ALLOWED_CIDRS', () => {
    expect(checkUrl('https://hooks.example.com/x', strict).hostname).toBe('hooks.example.com');
    expect(checkUrl('https://8.8.8.8/x', strict).hostname).toBe('8.8.8.8');
    expect(checkUrl('http://127.0.0.1:9000/x', { allowHttp: true, allowedCidrs: ['127.0.0.0/8'] }).port).toBe('9000');
    expect(() => checkUrl('https://10.0.0.1/x', { allowHttp: false, allowedCidrs: ['127.0.0.0/8'] })).toThrow(UnsafeUrlError);
  });

  it('refuses a hostname that resolves to a refused address, at connect time', async () => {
    const lookup = guardedLookup(buildAllowList([]), ((_host: string, _opts: unknown, cb: (e: null, a: unknown) => void) =>
      cb(null, [
        { address: '93.184.216.34', family: 4 },
        { address: '169.254.169.254', family: 4 },
      ])) as never);

    const error = await new Promise<Error | null>((resolve) => lookup('rebind.example', { all: false }, (e) => resolve(e)));

    expect(error?.message).toMatch(
      /rebind\.example resolves to 169\.254\.169\.254, which is not a globally routable unicast address: link-local/,
    );
  });

  it('never connects to a real loopback receiver reached by name unless loopback is allowed', async () => {
    const receiver = await startReceiver();
    const port = new URL(receiver.url).port;
    const blocked = new WebhookSender({ allowHttp: true, allowedCidrs: [], secretKeys: [] });
    const allowed = new WebhookSender({ allowHttp: true, allowedCidrs: ['127.0.0.0/8', '::1/128'], secretKeys: [] });
    const webhook = {
      url: `http://localhost:${port}/x`,
      webhookId: 'msg_1',
      timestamp: new Date(),
      body: '{}',
      secrets: [`whsec_${Buffer.from('k').toString('base64')}`],
    };

    const refused = await blocked.send(webhook, 2_000);
    const sent = await allowed.send(webhook, 2_000);
    await Promise.all([blocked.close(), allowed.close()]);

    expect(refused).toMatchObject({ kind: 'refused', error: expect.stringMatching(/localhost resolves to (127\.0\.0\.1|::1)/) });
    expect(sent).toMatchObject({ kind: 'delivered', status: 200 });
    expect(receiver.received).toHaveLength(1);
  });

  it('never repeats credentials or a token path in a refusal, which is kept in last_error and logged', async () => {
    const sender = new WebhookSender(strict);
    const webhook = { webhookId: 'msg_1', timestamp: new Date(), body: '{}', secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'] };

    const withCredentials = await sender.send({ ...webhook, url: 'https://hooks:s3cret-pass@example.com/in' }, 2_000);
    const tokenPath = await sender.send({ ...webhook, url: 'https://10.0.0.8/services/T0/B0/t0ken-xyz' }, 2_000);
    await sender.close();

    expect(withCredentials).toMatchObject({
      kind: 'refused',
      error: expect.stringMatching(/^refusing webhook URL https:\/\/example\.com\/…: credentials/),
    });
    expect(tokenPath).toMatchObject({
      kind: 'refused',
      error: expect.stringMatching(
        /^refusing webhook URL https:\/\/10\.0\.0\.8\/…: 10\.0\.0\.8 is not a globally routable unicast address: private/,
      ),
    });
    expect(JSON.stringify([withCredentials, tokenPath])).not.toMatch(/s3cret|t0ken/);
  });

  it('rejects a bad CIDR naming it', () => {
    expect(() => buildAllowList(['10.0.0.0/33'])).toThrow(/"10\.0\.0\.0\/33" is not a CIDR/);
  });

  it('makes `endpoints add` refuse an unsafe URL and store nothing', async () => {
    await expect(addEndpoint(db, schema, strict, { url: 'https://169.254.169.254/', eventTypes: [] })).rejects.toThrow(
      /refusing webhook URL/,
    );

    expect((await db.query('SELECT count(*)::int AS n FROM chores.webhook_endpoints')).rows[0].n).toBe(0);
  });
});
