/**
 * Seeded, deterministic randomized tests of the annotation codec (fast-check is not a dependency).
 * A failure prints the seed and case number; rerun with ANNOTATION_SEED=<seed> to reproduce.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ANNOTATION_MARKER_PREFIX,
  AnnotationError,
  belongsToGroup,
  decodeAnnotation,
  encodeAnnotation,
  type InstanceMetadata,
} from '../../src/provider/annotation.ts';
import { seededRandom } from '../reliability/rng.ts';

const SEED = Number(process.env.ANNOTATION_SEED ?? 0x5eed1234);
const CASES = 10_000;

/** Characters XML can carry, weighted toward the troublesome ones. */
const TEXT_ATOMS = [
  'a',
  'Z',
  '0',
  ' ',
  '   ',
  '\t',
  '\n',
  '\r',
  '\r\n',
  '<',
  '>',
  '&',
  '"',
  "'",
  ']]>',
  '<![CDATA[',
  '\\',
  '/',
  '%',
  '%2f',
  '{',
  '}',
  '[',
  ':',
  ',',
  '\\u0000',
  'é',
  'ß',
  '日本',
  '€',
  '🚀',
  '👩‍👩‍👧',
  '\u00a0',
  '\u2028',
  '\u2029',
  '\ufeff',
  '\ufffd',
  '\ud7ff',
  '\ue000',
  'infrakit-vsphere/v1 ',
  '{"tags":{}}',
  'Deleted by InfraKit',
  '__proto__',
  'constructor',
];
/** Characters allowed on lines 0/1 (no controls, no padding handled separately). */
const ID_ATOMS = ['a', 'b', 'z', '0', '9', '-', '_', '.', ' ', 'é', '日', '🚀', '<', '&', '%', '/', '"'];

function generator(random: () => number) {
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
  const text = (maxAtoms: number): string => {
    let out = '';
    const n = int(maxAtoms + 1);
    for (let i = 0; i < n; i++) out += pick(TEXT_ATOMS);
    return out;
  };
  const id = (): string => {
    let out = '';
    const n = 1 + int(12);
    for (let i = 0; i < n; i++) out += pick(ID_ATOMS);
    out = out.trim();
    return out === '' ? 'x' : out;
  };
  const metadata = (): InstanceMetadata => {
    const group = id();
    const configHash = id();
    const entries: [string, string][] = [];
    const tagCount = int(8);
    for (let i = 0; i < tagCount; i++) entries.push([text(4), text(6)]);
    if (random() < 0.7) entries.push(['infrakit.group', group]);
    if (random() < 0.7)
      entries.push([random() < 0.5 ? 'infrakit.config.hash' : 'infrakit.config_sha', configHash]);
    const result: InstanceMetadata = { group, configHash, tags: Object.fromEntries(entries) };
    if (random() < 0.5) result.logicalId = text(3);
    if (random() < 0.6) result.userText = text(10);
    return result;
  };
  return { int, pick, text, metadata };
}

describe(`annotation codec, seeded random (seed ${SEED})`, () => {
  it(`round-trips ${CASES} random metadata values exactly`, () => {
    const gen = generator(seededRandom(SEED));
    for (let i = 0; i < CASES; i++) {
      const input = gen.metadata();
      let text: string;
      try {
        text = encodeAnnotation(input);
      } catch (error) {
        assert.fail(`case ${i} (seed ${SEED}): encode threw ${String(error)} for ${JSON.stringify(input)}`);
      }
      const decoded = decodeAnnotation(text);
      assert.deepEqual(decoded, { kind: 'ours', version: 1, metadata: input }, `case ${i} (seed ${SEED})`);
      const lines = text.split('\n');
      assert.equal(lines[0], input.group, `case ${i}: original plugin reads the group from line 0`);
      assert.equal(lines[1], input.configHash, `case ${i}: original plugin reads the hash from line 1`);
      assert.ok(belongsToGroup(decoded, input.group));
    }
  });

  it(`never throws on ${CASES} random or mutated annotations, and only returns well-typed results`, () => {
    const random = seededRandom(SEED ^ 0xa5a5a5a5);
    const gen = generator(random);
    const anyChar = () => String.fromCharCode(gen.int(0x10000));
    for (let i = 0; i < CASES; i++) {
      let text: string;
      const mode = i % 4;
      if (mode === 0) {
        // Free-form garbage from hostile atoms and arbitrary UTF-16 units.
        text = '';
        const n = gen.int(30);
        for (let j = 0; j < n; j++) text += random() < 0.3 ? anyChar() : gen.pick(TEXT_ATOMS);
      } else {
        // A valid annotation, then mutated: characters replaced, inserted or deleted.
        let valid: string;
        try {
          valid = encodeAnnotation(gen.metadata());
        } catch (error) {
          if (error instanceof AnnotationError) continue;
          throw error;
        }
        const chars = [...valid];
        const edits = 1 + gen.int(mode === 3 ? 20 : 3);
        for (let j = 0; j < edits; j++) {
          const at = gen.int(chars.length + 1);
          const what = gen.int(3);
          if (what === 0) chars.splice(at, 1);
          else if (what === 1)
            chars.splice(at, 0, random() < 0.5 ? anyChar() : gen.pick(['"', '{', '}', '\n', ':']));
          else chars[at] = anyChar();
        }
        text = chars.join('');
      }
      let decoded: ReturnType<typeof decodeAnnotation>;
      try {
        decoded = decodeAnnotation(text);
      } catch (error) {
        assert.fail(`case ${i} (seed ${SEED}): decode threw ${String(error)} for ${JSON.stringify(text)}`);
      }
      switch (decoded.kind) {
        case 'ours':
        case 'legacy': {
          const m = decoded.metadata;
          assert.equal(typeof m.group, 'string');
          assert.equal(typeof m.configHash, 'string');
          assert.notEqual(m.group, '');
          assert.equal(Object.getPrototypeOf(m.tags), Object.prototype, `case ${i}`);
          for (const value of Object.values(m.tags)) assert.equal(typeof value, 'string', `case ${i}`);
          if (m.logicalId !== undefined) assert.equal(typeof m.logicalId, 'string');
          if (m.userText !== undefined) assert.equal(typeof m.userText, 'string');
          // Our own text survives a second pass unchanged when it is still valid ours.
          if (decoded.kind === 'ours') {
            assert.ok(text.split('\n')[2]?.startsWith(ANNOTATION_MARKER_PREFIX), `case ${i}`);
          } else {
            assert.deepEqual(m.tags, {});
          }
          break;
        }
        case 'foreign':
          assert.equal(decoded.text, text);
          break;
        case 'deleted':
          assert.equal(text.trimEnd(), 'Deleted by InfraKit');
          break;
        default:
          assert.fail(`case ${i}: unexpected kind`);
      }
    }
  });
});
