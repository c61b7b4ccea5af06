import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  configHashOf,
  echoConfigHash,
  mirrorHashLabels,
  splitHashQuery,
} from '../../src/plugin/config-hash.ts';
import type { InstanceDescription } from '../../src/spi/instance.ts';

const NEW = 'infrakit.config.hash';
const OLD = 'infrakit.config_sha';

describe('configHashOf', () => {
  it('reads the asked spelling first, then the other', () => {
    assert.equal(configHashOf({ [NEW]: 'a', [OLD]: 'b' }, NEW), 'a');
    assert.equal(configHashOf({ [NEW]: 'a', [OLD]: 'b' }, OLD), 'b');
    assert.equal(configHashOf({ [OLD]: 'b' }, NEW), 'b');
    assert.equal(configHashOf({ other: 'x' }, NEW), undefined);
  });
});

describe('splitHashQuery', () => {
  it('takes both spellings out of the provider query', () => {
    assert.deepEqual(splitHashQuery({ 'infrakit.group': 'g', [OLD]: 'h' }), {
      tags: { 'infrakit.group': 'g' },
      hash: [{ spelling: OLD, value: 'h' }],
    });
    assert.deepEqual(splitHashQuery({ 'infrakit.group': 'g' }), {
      tags: { 'infrakit.group': 'g' },
      hash: [],
    });
  });
});

describe('echoConfigHash', () => {
  const stored: InstanceDescription[] = [
    { ID: 'old', Tags: { g: 'w', [OLD]: 'h1' } },
    { ID: 'new', Tags: { g: 'w', [NEW]: 'h2' } },
    { ID: 'both', Tags: { g: 'w', [NEW]: 'h3', [OLD]: 'stale' } },
    { ID: 'none', Tags: { g: 'w' } },
  ];

  it('adds the missing spelling, keeps instances without a hash and never overwrites', () => {
    const out = echoConfigHash(stored, splitHashQuery({ g: 'w' }));
    assert.deepEqual(
      out.map((d) => [d.ID, d.Tags[NEW], d.Tags[OLD]]),
      [
        ['old', 'h1', 'h1'],
        ['new', 'h2', 'h2'],
        ['both', 'h3', 'stale'],
        ['none', undefined, undefined],
      ],
    );
  });

  it('filters on the query hash under either spelling, reading the asked spelling first', () => {
    assert.deepEqual(
      echoConfigHash(stored, splitHashQuery({ [NEW]: 'h1' })).map((d) => d.ID),
      ['old'],
    );
    assert.deepEqual(
      echoConfigHash(stored, splitHashQuery({ [OLD]: 'h2' })).map((d) => d.ID),
      ['new'],
    );
    assert.deepEqual(
      echoConfigHash(stored, splitHashQuery({ [OLD]: 'stale' })).map((d) => d.ID),
      ['both'],
    );
    assert.deepEqual(
      echoConfigHash(stored, splitHashQuery({ [NEW]: 'stale' })).map((d) => d.ID),
      [],
    );
  });

  it('does not modify the provider objects, and tolerates missing Tags', () => {
    const input: InstanceDescription[] = [{ ID: 'x', Tags: { [OLD]: 'h' } }];
    echoConfigHash(input, splitHashQuery({}));
    assert.deepEqual(input[0]?.Tags, { [OLD]: 'h' });
    const untagged = [{ ID: 'y' } as InstanceDescription];
    assert.deepEqual(echoConfigHash(untagged, splitHashQuery({})), [{ ID: 'y', Tags: {} }]);
  });
});

describe('mirrorHashLabels', () => {
  it('writes a hash label under both spellings and leaves other labels alone', () => {
    assert.deepEqual(mirrorHashLabels({ [OLD]: 'h', env: 'prod' }), { [OLD]: 'h', [NEW]: 'h', env: 'prod' });
    assert.deepEqual(mirrorHashLabels({ env: 'prod' }), { env: 'prod' });
    assert.deepEqual(mirrorHashLabels({ [OLD]: 'a', [NEW]: 'b' }), { [OLD]: 'a', [NEW]: 'b' });
  });
});
