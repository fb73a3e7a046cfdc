import { fromEnv } from '@aws-sdk/credential-provider-env';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';

// RDS accepts a token for 15 minutes; it is only checked when a connection opens.
const TOKEN_TTL_SECONDS = 900;

/**
 * An RDS IAM authentication token: the SigV4 presign of `GET https://host:port/?Action=connect&DBUser=user`
 * for service `rds-db`, as `@aws-sdk/rds-signer` makes it. That package also loads the SDK's whole
 * credential-provider chain (~280 KiB, which put outbox-deliver's bundle over 1 MB); Lambda hands
 * the function its role's credentials in the environment, so `fromEnv` is all it needs.
 */
export function rdsAuthTokenSigner(options: { host: string; port: number; user: string; region: string }): () => Promise<string> {
  const signer = new SignatureV4({ service: 'rds-db', region: options.region, credentials: fromEnv(), sha256: Hash.bind(null, 'sha256') });
  return async () => {
    const presigned = await signer.presign(
      {
        method: 'GET',
        protocol: 'https:',
        hostname: options.host,
        port: options.port,
        path: '/',
        query: { Action: 'connect', DBUser: options.user },
        headers: { host: `${options.host}:${options.port}` },
      },
      { expiresIn: TOKEN_TTL_SECONDS },
    );
    const query = Object.entries(presigned.query ?? {})
      .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`)
      .join('&');
    return `${options.host}:${options.port}/?${query}`;
  };
}
