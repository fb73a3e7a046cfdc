import { freeLoopbackPort } from '../../shared/db/embedded.js';

/** A loopback port nothing listens on (free when probed): a server that is down. */
export const closedPort = freeLoopbackPort;
