import { createHash, createHmac } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { rdsAuthTokenSigner } from '../../shared/db/iam-token.js';

const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();

/** SigV4 for a presigned GET, computed here from the spec, independently of the signer under test. */
function expectedSignature(token: string, secret: string, region: string): string {
  const [hostPort, queryString] = token.split('/?') as [string, string];
  const params = new URLSearchParams(queryString);
  const date = params.get('X-Amz-Date')!;
  const canonicalQuery = [...params]
    .filter(([key]) => key !== 'X-Amz-Signature')
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .sort()
    .join('&');
  const canonicalRequest = ['GET', '/', canonicalQuery, `host:${hostPort}\n`, 'host', createHash('sha256').update('').digest('hex')].join(
    '\n',
  );
  const scope = `${date.slice(0, 8)}/${region}/rds-db/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', date, scope, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date.slice(0, 8)), region), 'rds-db'), 'aws4_request');
  return createHmac('sha256', key).update(toSign).digest('hex');
}

afterEach(() => vi.unstubAllEnvs());

describe('RDS IAM auth tokens', () => {
  it('are a SigV4 presign of Action=connect for the user, valid 15 minutes, verifiable independently', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLE');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY');
    vi.stubEnv('AWS_SESSION_TOKEN', 'session-token-from-the-lambda-role');

    const token = await rdsAuthTokenSigner({
      host: 'chores-proxy.proxy-abc.eu-west-1.rds.amazonaws.com',
      port: 5432,
      user: 'chores',
      region: 'eu-west-1',
    })();
    const params = new URLSearchParams(token.split('/?')[1]);

    expect(token.startsWith('chores-proxy.proxy-abc.eu-west-1.rds.amazonaws.com:5432/?')).toBe(true);
    expect(params.get('Action')).toBe('connect');
    expect(params.get('DBUser')).toBe('chores');
    expect(params.get('X-Amz-Expires')).toBe('900');
    expect(params.get('X-Amz-Security-Token')).toBe('session-token-from-the-lambda-role');
    expect(params.get('X-Amz-Credential')).toMatch(/^AKIDEXAMPLE\/\d{8}\/eu-west-1\/rds-db\/aws4_request$/);
    expect(params.get('X-Amz-Signature')).toBe(expectedSignature(token, 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', 'eu-west-1'));
  });
});
