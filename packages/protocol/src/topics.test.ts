import { describe, expect, it } from 'vitest';
import { hasCode } from '@uniota/errors';
import { ProtocolErrorCode } from './errors.ts';
import { allDevicesFilter, deviceTopic, imageChunksTopic, isValidId, MAX_ID_LENGTH, parseTopic } from './topics.ts';

describe('topic tree', () => {
  it.each([
    ['hello', 'uniota/v1/devices/dev-1/hello'],
    ['online', 'uniota/v1/devices/dev-1/online'],
    ['command', 'uniota/v1/devices/dev-1/cmd'],
    ['status', 'uniota/v1/devices/dev-1/status'],
    ['chunk-request', 'uniota/v1/devices/dev-1/chunks/req'],
    ['chunk-data', 'uniota/v1/devices/dev-1/chunks/data'],
  ] as const)('%s topic is %s and parses back', (kind, topic) => {
    expect(deviceTopic(kind, 'dev-1')).toBe(topic);
    expect(parseTopic(topic)).toEqual({ kind, deviceId: 'dev-1' });
  });

  it('fan-out chunk topic round-trips', () => {
    expect(imageChunksTopic('img-9')).toBe('uniota/v1/images/img-9/chunks');
    expect(parseTopic('uniota/v1/images/img-9/chunks')).toEqual({ kind: 'chunk-fanout', imageId: 'img-9' });
  });

  it('server filter matches one level for the device id', () => {
    expect(allDevicesFilter('status')).toBe('uniota/v1/devices/+/status');
  });

  it.each(['', 'a/b', 'a+', '#', 'x#y', '$SYS', 'nul\u0000', 'x'.repeat(MAX_ID_LENGTH + 1)])(
    'rejects id %j in builders and parser',
    (id) => {
      expect(isValidId(id)).toBe(false);
      let err: unknown;
      try {
        deviceTopic('hello', id);
      } catch (e) {
        err = e;
      }
      expect(hasCode(err, ProtocolErrorCode.BAD_TOPIC_ID)).toBe(true);
      expect(parseTopic(`uniota/v1/devices/${id}/hello`)).toBeNull();
    },
  );

  it.each([
    'uniota/v2/devices/d/hello',
    'uniota/v1/devices/d',
    'uniota/v1/devices/d/hello/extra',
    'uniota/v1/devices/d/unknown',
    'uniota/v1/images/i/chunks/x',
    'other/v1/devices/d/hello',
    'uniota/v1/devices//hello',
  ])('parser rejects %s', (topic) => {
    expect(parseTopic(topic)).toBeNull();
  });

  it('accepts an id at the length limit', () => {
    expect(parseTopic(deviceTopic('hello', 'x'.repeat(MAX_ID_LENGTH)))).not.toBeNull();
  });
});
