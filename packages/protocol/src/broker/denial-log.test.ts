import { describe, expect, it } from 'vitest';
import { parseBrokerLogLine } from './denial-log.ts';

describe('parseBrokerLogLine (the uniota mosquitto plugin log format)', () => {
  it('reads a denied SUBSCRIBE as the embedded broker reports it', () => {
    expect(parseBrokerLogLine('uniota-acl denied subscribe user=dev-a client=dev-a topic=#')).toEqual({
      kind: 'denied', clientId: 'dev-a', denial: { kind: 'subscribe', username: 'dev-a', filter: '#' },
    });
  });

  it('reads a denied PUBLISH, with mosquitto log timestamp in front', () => {
    expect(parseBrokerLogLine('1764210000: uniota-acl denied publish user=dev-a client=dev-a topic=uniota/v1/devices/dev-b/status')).toEqual({
      kind: 'denied', clientId: 'dev-a', denial: { kind: 'publish', username: 'dev-a', topic: 'uniota/v1/devices/dev-b/status' },
    });
  });

  it('decodes percent-encoded spaces, newlines, percent signs and UTF-8, so a topic cannot forge a field', () => {
    const e = parseBrokerLogLine('uniota-acl denied publish user=dev-a client=dev-a topic=a%20user=x%0Ab%25/%C3%A9t%C3%A9');
    expect(e).toEqual({ kind: 'denied', clientId: 'dev-a', denial: { kind: 'publish', username: 'dev-a', topic: 'a user=x\nb%/été' } });
  });

  it('reads the flood bound line', () => {
    expect(parseBrokerLogLine('uniota-acl suppressed 412 denials')).toEqual({ kind: 'suppressed', count: 412 });
  });

  it.each([
    'Client dev-a disconnected due to protocol error.',
    'uniota-acl denied read user=dev-a client=dev-a topic=#',
    'uniota-acl denied publish user=dev-a client=dev-a topic=a b',
    'uniota-acl denied publish user=dev-a client=dev-a topic=bad%2',
    'uniota-acl denied publish user=dev-a client=dev-a topic=bad%zz',
    'uniota-acl denied publish user=dev-a topic=x',
    'xx uniota-acl denied publish user=dev-a client=dev-a topic=x',
    'uniota-acl suppressed many denials',
    '',
  ])('ignores a line the plugin did not write: %j', (line) => {
    expect(parseBrokerLogLine(line)).toBeNull();
  });
});
