import { createSocket } from 'node:dgram';
import type { AddressInfo } from 'node:net';

/** One segment document as the X-Ray SDK sends it (the fields the tests look at). */
export interface XrayDocument {
  name: string;
  id: string;
  trace_id: string;
  parent_id?: string;
  type?: string;
  namespace?: string;
  annotations?: Record<string, string | number | boolean>;
  metadata?: Record<string, unknown>;
  http?: { request?: { method?: string; url?: string }; response?: { status?: number } };
  sql?: Record<string, string>;
  aws?: Record<string, unknown>;
  error?: boolean;
  fault?: boolean;
  throttle?: boolean;
  /** The datagram as received, to search for what must not be there. */
  raw: string;
}

export interface XrayDaemon {
  /** `AWS_XRAY_DAEMON_ADDRESS` and the rest of what Lambda sets for a function with active tracing. */
  lambdaEnv: Record<string, string>;
  /** Every document received so far, after the ones in flight have landed. */
  documents(): Promise<XrayDocument[]>;
  close(): Promise<void>;
}

export const TRACE_HEADER = 'Root=1-67890abc-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1';

/**
 * A stand-in for the X-Ray daemon: a real UDP socket on 127.0.0.1 collecting the segment documents
 * the SDK sends (`{"format":"json","version":1}` then the document, one per datagram).
 */
export async function xrayDaemon(): Promise<XrayDaemon> {
  const socket = createSocket('udp4');
  const received: XrayDocument[] = [];
  socket.on('message', (message) => {
    const text = message.toString('utf8');
    const body = text.slice(text.indexOf('\n') + 1);
    received.push({ ...(JSON.parse(body) as Omit<XrayDocument, 'raw'>), raw: text });
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address() as AddressInfo;
  return {
    lambdaEnv: {
      AWS_LAMBDA_FUNCTION_NAME: 'chores-test',
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      LAMBDA_TASK_ROOT: process.cwd(),
      _HANDLER: 'index.handler',
      AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${port}`,
      AWS_XRAY_CONTEXT_MISSING: 'LOG_ERROR',
      _X_AMZN_TRACE_ID: TRACE_HEADER,
    },
    // Datagrams on loopback land within milliseconds; a short pause lets the last ones in.
    documents: async () => {
      await new Promise((resolve) => setTimeout(resolve, 100));
      return [...received];
    },
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}
