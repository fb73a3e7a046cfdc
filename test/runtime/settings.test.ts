import { describe, expect, it } from 'vitest';
import { parseSettings } from '../../shared/runtime/settings.js';

describe('manual payload settings', () => {
  it('name an unknown key inside a nested setting by its whole path', () => {
    const payload = { replay: { endpointId: '3', sinse: '24h' } };

    const parse = () => parseSettings('outbox-deliver', payload);

    expect(parse).toThrow('invalid payload for outbox-deliver: unknown setting "replay.sinse"');
  });

  it('name an unknown top-level key as it is', () => {
    expect(() => parseSettings('results-cleanup', { dryrun: true })).toThrow(
      'invalid payload for results-cleanup: unknown setting "dryrun"',
    );
  });
});
