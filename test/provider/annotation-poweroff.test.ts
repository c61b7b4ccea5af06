import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValidationError } from '../../src/errors.ts';
import { decodeAnnotation, encodeAnnotation, type InstanceMetadata } from '../../src/provider/annotation.ts';

const META: InstanceMetadata = {
  group: 'workers',
  configHash: 'abc',
  tags: { 'infrakit.group': 'workers', 'infrakit.config.hash': 'abc' },
};

describe('annotation: the power-off setting', () => {
  it('round-trips in the marker line, lines 0 and 1 unchanged', () => {
    const text = encodeAnnotation({
      ...META,
      powerOff: { mode: 'soft', timeoutSeconds: 90 },
      userText: 'notes',
    });
    const lines = text.split('\n');
    assert.deepEqual(lines.slice(0, 2), ['workers', 'abc']);
    assert.equal(
      lines[2],
      'infrakit-vsphere/v1 {"tags":{"infrakit.group":"workers","infrakit.config.hash":"abc"},"powerOff":{"mode":"soft","timeoutSeconds":90}}',
    );
    const decoded = decodeAnnotation(text);
    assert.equal(decoded.kind, 'ours');
    assert.deepEqual(decoded.kind === 'ours' && decoded.metadata.powerOff, {
      mode: 'soft',
      timeoutSeconds: 90,
    });
    assert.equal(decoded.kind === 'ours' && decoded.metadata.userText, 'notes');
  });

  it('is left out when not set, so notes without it are written as before', () => {
    assert.equal(
      encodeAnnotation(META),
      'workers\nabc\ninfrakit-vsphere/v1 {"tags":{"infrakit.group":"workers","infrakit.config.hash":"abc"}}',
    );
    const decoded = decodeAnnotation('workers\nabc\ninfrakit-vsphere/v1 {"tags":{}}');
    assert.equal(decoded.kind === 'ours' && 'powerOff' in decoded.metadata, false);
  });

  it('a broken setting (hand edit) is dropped, the rest of the notes still read', () => {
    for (const bad of [
      '"hard"',
      '{"mode":"off"}',
      '{"mode":"soft","timeoutSeconds":0}',
      '{"mode":"soft","timeoutSeconds":"9"}',
    ]) {
      const decoded = decodeAnnotation(
        `workers\nabc\ninfrakit-vsphere/v1 {"tags":{"a":"b"},"powerOff":${bad}}`,
      );
      assert.equal(decoded.kind, 'ours', bad);
      assert.equal(decoded.kind === 'ours' && decoded.metadata.powerOff, undefined, bad);
      assert.deepEqual(decoded.kind === 'ours' && decoded.metadata.tags, { a: 'b' });
    }
  });

  it('encode refuses a malformed setting, naming the field', () => {
    assert.throws(
      () => encodeAnnotation({ ...META, powerOff: { mode: 'later' as 'soft' } }),
      (error: unknown) => error instanceof ValidationError && error.issues[0]?.field === 'powerOff',
    );
  });
});
