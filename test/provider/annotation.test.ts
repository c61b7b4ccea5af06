import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValidationError, VSphereError } from '../../src/errors.ts';
import {
  AnnotationError,
  belongsToGroup,
  DELETED_ANNOTATION,
  type DecodedAnnotation,
  decodeAnnotation,
  encodeAnnotation,
  findXmlInvalidChar,
  type InstanceMetadata,
  MAX_ANNOTATION_LENGTH,
  MAX_ID_LENGTH,
  utf8Length,
} from '../../src/provider/annotation.ts';

const HASH = 'x7ma6bkuqz3jm4xo6tmv7ndbg2g4cxrv';

function meta(overrides: Partial<InstanceMetadata> = {}): InstanceMetadata {
  return {
    group: 'workers',
    configHash: HASH,
    tags: { 'infrakit.group': 'workers', 'infrakit.config.hash': HASH },
    ...overrides,
  };
}

/** The original Go plugin's reading rule: split on \n, line 0 group, line 1 hash. */
function originalRead(text: string): { group: string | undefined; hash: string | undefined } {
  const lines = text.split('\n');
  return { group: lines[0], hash: lines[1] };
}

function expectValidationFields(fn: () => unknown, fields: string[]): ValidationError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ValidationError, `expected a ValidationError, got ${String(caught)}`);
  assert.equal(caught.code, 'VALIDATION');
  assert.deepEqual(
    caught.issues.map((issue) => issue.field),
    fields,
  );
  return caught;
}

describe('encodeAnnotation / decodeAnnotation round trip', () => {
  const cases: { name: string; meta: InstanceMetadata }[] = [
    { name: 'group and hash tags only', meta: meta() },
    { name: 'no tags at all', meta: meta({ tags: {} }) },
    { name: 'whitespace-only value', meta: meta({ tags: { spaces: '   ' } }) },
    { name: 'XML specials', meta: meta({ tags: { '<&"\'>': '<&"\'>', amp: '&amp;&lt;' } }) },
    { name: 'CRLF and LF in values and keys', meta: meta({ tags: { 'a\r\nb': 'line1\r\nline2\nline3\r' } }) },
    { name: 'CDATA terminator', meta: meta({ tags: { cdata: ']]>', 'k]]>': '<![CDATA[x]]>' } }) },
    { name: 'non-ASCII', meta: meta({ tags: { größe: 'Ünïcödé — 日本語 — עברית' } }) },
    { name: 'emoji (astral plane)', meta: meta({ tags: { '🚀': '👩‍👩‍👧 🇫🇷' } }) },
    { name: 'empty string values', meta: meta({ tags: { empty: '', other: '' } }) },
    { name: 'empty key', meta: meta({ tags: { '': 'v' } }) },
    { name: '__proto__ key', meta: meta({ tags: JSON.parse('{"__proto__":"x","constructor":"y"}') }) },
    { name: 'tab and backslash', meta: meta({ tags: { tab: 'a\tb', bs: 'C:\\path\\"q"' } }) },
    { name: 'JSON-looking value', meta: meta({ tags: { json: '{"tags":{"a":1}}' } }) },
    { name: 'logical id', meta: meta({ logicalId: '10.0.0.12' }) },
    { name: 'logical id empty', meta: meta({ logicalId: '' }) },
    { name: 'logical id with newline', meta: meta({ logicalId: 'a\nb' }) },
    { name: 'user text one line', meta: meta({ userText: 'my notes' }) },
    { name: 'user text empty', meta: meta({ userText: '' }) },
    { name: 'user text multi-line CRLF', meta: meta({ userText: 'a\r\nb\r\n\r\n' }) },
    {
      name: 'user text that looks like a marker',
      meta: meta({ userText: 'infrakit-vsphere/v1 {"tags":{}}' }),
    },
    { name: 'user text "Deleted by InfraKit"', meta: meta({ userText: DELETED_ANNOTATION }) },
    {
      name: 'legacy hash tag',
      meta: meta({ tags: { 'infrakit.group': 'workers', 'infrakit.config_sha': HASH } }),
    },
    { name: 'group with dots and spaces inside', meta: meta({ group: 'my group.v2', tags: {} }) },
    { name: 'non-ASCII group', meta: meta({ group: 'ワーカー', tags: { 'infrakit.group': 'ワーカー' } }) },
    { name: 'group equal to the deleted text', meta: meta({ group: DELETED_ANNOTATION, tags: {} }) },
    {
      name: 'everything',
      meta: meta({
        tags: { 'infrakit.group': 'workers', 'infrakit.config.hash': HASH, 'infrakit.logical_id': 'db-1' },
        logicalId: 'db-1',
        userText: 'owner: ops\n<b>bold</b> & more',
      }),
    },
  ];

  for (const { name, meta: input } of cases) {
    it(`round-trips: ${name}`, () => {
      const text = encodeAnnotation(input);
      const decoded = decodeAnnotation(text);
      assert.deepEqual(decoded, { kind: 'ours', version: 1, metadata: input });
      // The original plugin still sees group and hash.
      assert.deepEqual(originalRead(text), { group: input.group, hash: input.configHash });
      assert.ok(belongsToGroup(decoded, input.group));
    });
  }

  it('writes the documented layout', () => {
    const text = encodeAnnotation(
      meta({ tags: { 'infrakit.group': 'workers', a: 'b' }, logicalId: 'l1', userText: 'notes\nline 2' }),
    );
    assert.equal(
      text,
      `workers\n${HASH}\ninfrakit-vsphere/v1 {"tags":{"infrakit.group":"workers","a":"b"},"logicalId":"l1"}\nnotes\nline 2`,
    );
  });

  it('omits the user text line when userText is undefined, keeps it when empty', () => {
    assert.equal(encodeAnnotation(meta({ tags: {} })), `workers\n${HASH}\ninfrakit-vsphere/v1 {"tags":{}}`);
    assert.equal(
      encodeAnnotation(meta({ tags: {}, userText: '' })),
      `workers\n${HASH}\ninfrakit-vsphere/v1 {"tags":{}}\n`,
    );
  });

  it('decoded tags are a fresh object with own properties only', () => {
    const decoded = decodeAnnotation(encodeAnnotation(meta({ tags: JSON.parse('{"__proto__":"p"}') })));
    assert.equal(decoded.kind, 'ours');
    if (decoded.kind !== 'ours') return;
    assert.equal(Object.getPrototypeOf(decoded.metadata.tags), Object.prototype);
    assert.deepEqual(Object.keys(decoded.metadata.tags), ['__proto__']);
    assert.equal(Object.getOwnPropertyDescriptor(decoded.metadata.tags, '__proto__')?.value, 'p');
  });
});

describe('decodeAnnotation: original plugin format', () => {
  const cases: { name: string; text: string; expected: DecodedAnnotation }[] = [
    {
      name: 'group, hash and multi-line notes',
      text: 'workers\nabc123\nmy notes\nmore',
      expected: {
        kind: 'legacy',
        metadata: { group: 'workers', configHash: 'abc123', tags: {}, userText: 'my notes\nmore' },
      },
    },
    {
      name: 'no Annotation property (trailing newline)',
      text: 'workers\nabc123\n',
      expected: { kind: 'legacy', metadata: { group: 'workers', configHash: 'abc123', tags: {} } },
    },
    {
      name: 'only two lines',
      text: 'workers\nabc123',
      expected: { kind: 'legacy', metadata: { group: 'workers', configHash: 'abc123', tags: {} } },
    },
    {
      name: 'edited on Windows (CRLF)',
      text: 'workers\r\nabc123\r\nnotes\r\n',
      expected: {
        kind: 'legacy',
        metadata: { group: 'workers', configHash: 'abc123', tags: {}, userText: 'notes\r\n' },
      },
    },
    {
      name: 'notes that start like a marker but are not one',
      text: 'workers\nabc123\ninfrakit-vsphere/version 2',
      expected: {
        kind: 'legacy',
        metadata: {
          group: 'workers',
          configHash: 'abc123',
          tags: {},
          userText: 'infrakit-vsphere/version 2',
        },
      },
    },
  ];
  for (const { name, text, expected } of cases) {
    it(name, () => {
      const decoded = decodeAnnotation(text);
      assert.deepEqual(decoded, expected);
      assert.ok(belongsToGroup(decoded, 'workers'));
      assert.ok(!belongsToGroup(decoded, 'other'));
    });
  }

  it('reads ours written on Windows (CRLF on lines 0-2)', () => {
    const text = `workers\r\n${HASH}\r\ninfrakit-vsphere/v1 {"tags":{"a":"b"}}\r\nnotes`;
    assert.deepEqual(decodeAnnotation(text), {
      kind: 'ours',
      version: 1,
      metadata: { group: 'workers', configHash: HASH, tags: { a: 'b' }, userText: 'notes' },
    });
  });

  it('reads a newer format version with the same JSON shape, ignoring unknown JSON keys', () => {
    const text = `workers\n${HASH}\ninfrakit-vsphere/v2 {"tags":{"a":"b"},"logicalId":"x","extra":[1]}`;
    assert.deepEqual(decodeAnnotation(text), {
      kind: 'ours',
      version: 2,
      metadata: { group: 'workers', configHash: HASH, tags: { a: 'b' }, logicalId: 'x' },
    });
  });

  it('lines 0/1 win over hand-edited tags that contradict them', () => {
    const text = `renamed\nnewhash\ninfrakit-vsphere/v1 {"tags":{"infrakit.group":"workers","infrakit.config.hash":"old","infrakit.config_sha":"old","k":"v"}}`;
    assert.deepEqual(decodeAnnotation(text), {
      kind: 'ours',
      version: 1,
      metadata: {
        group: 'renamed',
        configHash: 'newhash',
        tags: {
          'infrakit.group': 'renamed',
          'infrakit.config.hash': 'newhash',
          'infrakit.config_sha': 'newhash',
          k: 'v',
        },
      },
    });
  });
});

describe('decodeAnnotation: deleted and foreign', () => {
  const deleted = [
    DELETED_ANNOTATION,
    `${DELETED_ANNOTATION}\n`,
    `${DELETED_ANNOTATION}\r\n`,
    `${DELETED_ANNOTATION}   \t\n\n`,
  ];
  for (const text of deleted) {
    it(`deleted: ${JSON.stringify(text)}`, () => {
      const decoded = decodeAnnotation(text);
      assert.deepEqual(decoded, { kind: 'deleted' });
      assert.ok(!belongsToGroup(decoded, DELETED_ANNOTATION));
      assert.ok(!belongsToGroup(decoded, 'workers'));
    });
  }

  const foreign = [
    '',
    'workers',
    'Deleted by InfraKit!',
    ' Deleted by InfraKit',
    'deleted by infrakit',
    `Deleted by InfraKit\nworkers`.replace('workers', ''), // "Deleted by InfraKit\n" is deleted; this is the same
    '\nabc123',
    'workers\n',
    'workers\n\nnotes',
    ' workers\nabc123',
    'workers \nabc123',
    'workers\n abc123',
    'work\u0001ers\nabc',
    'workers\nab\tc',
  ];
  for (const text of foreign) {
    if (text.trimEnd() === DELETED_ANNOTATION) continue;
    it(`foreign: ${JSON.stringify(text)}`, () => {
      const decoded = decodeAnnotation(text);
      assert.deepEqual(decoded, { kind: 'foreign', text });
      assert.ok(!belongsToGroup(decoded, 'workers'));
      assert.ok(!belongsToGroup(decoded, ''));
    });
  }

  it('undefined is foreign with empty text', () => {
    assert.deepEqual(decodeAnnotation(undefined), { kind: 'foreign', text: '' });
  });
});

describe('decodeAnnotation: hostile input never throws and never yields mistyped tags', () => {
  const big = 'x'.repeat(MAX_ANNOTATION_LENGTH * 4);
  const hostile: { text: unknown; kind: DecodedAnnotation['kind'] }[] = [
    { text: 'workers\nabc\ninfrakit-vsphere/v1 {', kind: 'legacy' },
    { text: 'workers\nabc\ninfrakit-vsphere/v1 ', kind: 'legacy' },
    { text: 'workers\nabc\ninfrakit-vsphere/v1', kind: 'legacy' },
    { text: 'workers\nabc\ninfrakit-vsphere/v1 null', kind: 'legacy' },
    { text: 'workers\nabc\ninfrakit-vsphere/v1 []', kind: 'legacy' },
    { text: 'workers\nabc\ninfrakit-vsphere/v1 "tags"', kind: 'legacy' },
    { text: 'workers\nabc\ninfrakit-vsphere/v1 {"tags":null}', kind: 'legacy' },
    { text: 'workers\nabc\ninfrakit-vsphere/v1 {"tags":[]}', kind: 'legacy' },
    { text: 'workers\nabc\ninfrakit-vsphere/v1 {"tags":["a","b"]}', kind: 'legacy' },
    { text: 'workers\nabc\ninfrakit-vsphere/v1 {"tags":{"a":1}}', kind: 'legacy' },
    { text: 'workers\nabc\ninfrakit-vsphere/v1 {"tags":{"a":{"b":"c"}}}', kind: 'legacy' },
    { text: 'workers\nabc\ninfrakit-vsphere/v1 {"tags":{"a":null}}', kind: 'legacy' },
    { text: 'workers\nabc\ninfrakit-vsphere/v1 {"tags":{},"logicalId":5}', kind: 'legacy' },
    { text: 'workers\nabc\ninfrakit-vsphere/v1 {"logicalId":"x"}', kind: 'legacy' },
    { text: 'workers\nabc\ninfrakit-vsphere/v0 {"tags":{}}', kind: 'legacy' },
    { text: 'workers\nabc\ninfrakit-vsphere/v-1 {"tags":{}}', kind: 'legacy' },
    { text: 'workers\nabc\ninfrakit-vsphere/v99999999 {"tags":{}}', kind: 'legacy' },
    { text: 'workers\nabc\ninfrakit-vsphere/v1{"tags":{}}', kind: 'legacy' },
    { text: 'workers\nabc\ninfrakit-vsphere/v1 {"tags":{}} trailing', kind: 'legacy' },
    { text: 'workers\nabc\ninfrakit-vsphere/v1 {"tags":{"a":"\\ud800"}}', kind: 'ours' },
    { text: `workers\nabc\ninfrakit-vsphere/v1 {"tags":{"a":"${big}"}}`, kind: 'legacy' },
    { text: `workers\nabc\ninfrakit-vsphere/v1 ${'['.repeat(100000)}`, kind: 'legacy' },
    { text: `workers\nabc\ninfrakit-vsphere/v1 {"tags":{"__proto__":{"polluted":"yes"}}}`, kind: 'legacy' },
    { text: big, kind: 'foreign' },
    { text: `${big}\n${big}`, kind: 'foreign' },
    { text: '\n\n\n\n', kind: 'foreign' },
    { text: '\r\n\r\n', kind: 'foreign' },
    { text: '\r', kind: 'foreign' },
    { text: '\ud800\nabc', kind: 'foreign' },
    { text: '\u0000\n\u0000', kind: 'foreign' },
    { text: '\ufeffworkers\nabc', kind: 'foreign' },
    { text: 'workers\r\r\nabc', kind: 'foreign' },
    { text: null, kind: 'foreign' },
    { text: 42, kind: 'foreign' },
    { text: { toString: () => 'workers\nabc' }, kind: 'foreign' },
    {
      text: {
        toString() {
          throw new Error('boom');
        },
      },
      kind: 'foreign',
    },
    { text: ['workers', 'abc'], kind: 'foreign' },
  ];
  hostile.forEach(({ text, kind }, index) => {
    it(`hostile #${index}: ${typeof text === 'string' ? JSON.stringify(text.slice(0, 60)) : typeof text}`, () => {
      const decoded = decodeAnnotation(text as string);
      assert.equal(decoded.kind, kind);
      if (decoded.kind === 'ours' || decoded.kind === 'legacy') {
        for (const value of Object.values(decoded.metadata.tags)) assert.equal(typeof value, 'string');
        assert.equal(decoded.metadata.group, 'workers');
        assert.equal(decoded.metadata.configHash, 'abc');
      }
      if (decoded.kind === 'legacy') assert.deepEqual(decoded.metadata.tags, {});
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    });
  });
});

describe('encodeAnnotation rejects bad input with a ValidationError naming the field', () => {
  const cases: { name: string; meta: InstanceMetadata; fields: string[] }[] = [
    { name: 'empty group', meta: meta({ group: '', tags: {} }), fields: ['group'] },
    { name: 'group with newline', meta: meta({ group: 'a\nb', tags: {} }), fields: ['group'] },
    { name: 'group with CR', meta: meta({ group: 'a\r', tags: {} }), fields: ['group'] },
    { name: 'group with leading space', meta: meta({ group: ' a', tags: {} }), fields: ['group'] },
    { name: 'group with trailing tab', meta: meta({ group: 'a\t', tags: {} }), fields: ['group'] },
    { name: 'empty hash', meta: meta({ configHash: '', tags: {} }), fields: ['configHash'] },
    { name: 'hash with newline', meta: meta({ configHash: 'a\nb', tags: {} }), fields: ['configHash'] },
    {
      name: 'both lines bad',
      meta: meta({ group: '', configHash: ' x', tags: {} }),
      fields: ['group', 'configHash'],
    },
    {
      name: 'group tag disagrees',
      meta: meta({ tags: { 'infrakit.group': 'other' } }),
      fields: ['tags["infrakit.group"]'],
    },
    {
      name: 'hash tag disagrees',
      meta: meta({ tags: { 'infrakit.config.hash': 'old' } }),
      fields: ['tags["infrakit.config.hash"]'],
    },
    {
      name: 'legacy hash tag disagrees',
      meta: meta({ tags: { 'infrakit.config_sha': 'old' } }),
      fields: ['tags["infrakit.config_sha"]'],
    },
    { name: 'NUL in a tag value', meta: meta({ tags: { a: 'x\u0000' } }), fields: ['tags["a"]'] },
    {
      name: 'U+000B in a tag key',
      meta: meta({ tags: { 'a\u000b': 'x' } }),
      fields: ['tags["a\\u000b"] (key)'],
    },
    { name: 'lone high surrogate in a value', meta: meta({ tags: { a: '\ud83d' } }), fields: ['tags["a"]'] },
    { name: 'lone low surrogate in a value', meta: meta({ tags: { a: 'x\ude00y' } }), fields: ['tags["a"]'] },
    { name: 'U+FFFE in a value', meta: meta({ tags: { a: '\ufffe' } }), fields: ['tags["a"]'] },
    { name: 'U+001F in logicalId', meta: meta({ logicalId: 'a\u001f' }), fields: ['logicalId'] },
    { name: 'U+000C in userText', meta: meta({ userText: 'page\fbreak' }), fields: ['userText'] },
    {
      name: 'non-string tag value',
      meta: meta({ tags: { n: 1 as unknown as string, ok: 'x' } }),
      fields: ['tags["n"]'],
    },
    {
      name: 'tags not an object',
      meta: meta({ tags: null as unknown as Record<string, string> }),
      fields: ['tags'],
    },
    {
      name: 'several problems at once',
      meta: meta({ group: '', tags: { a: '\u0001' }, userText: '\u0002' }),
      fields: ['group', 'tags["a"]', 'userText'],
    },
  ];
  for (const { name, meta: input, fields } of cases) {
    it(name, () => {
      const error = expectValidationFields(() => encodeAnnotation(input), fields);
      assert.ok(error.message.startsWith('invalid annotation: '));
    });
  }

  it('names the offending character', () => {
    const error = expectValidationFields(
      () => encodeAnnotation(meta({ userText: 'ok\u0007' })),
      ['userText'],
    );
    assert.match(error.message, /U\+0007 at index 2/);
  });
});

describe('size bound', () => {
  const overhead = utf8Length(encodeAnnotation(meta({ tags: {}, userText: '' })));

  it('accepts an annotation of exactly MAX_ANNOTATION_LENGTH bytes', () => {
    const userText = 'a'.repeat(MAX_ANNOTATION_LENGTH - overhead);
    const text = encodeAnnotation(meta({ tags: {}, userText }));
    assert.equal(utf8Length(text), MAX_ANNOTATION_LENGTH);
    assert.equal(decodeAnnotation(text).kind, 'ours');
  });

  const cases: { name: string; meta: InstanceMetadata; field: string }[] = [
    {
      name: 'user text one byte over',
      meta: meta({ tags: {}, userText: 'a'.repeat(MAX_ANNOTATION_LENGTH - overhead + 1) }),
      field: 'userText',
    },
    {
      name: 'user text over in multi-byte characters',
      meta: meta({ tags: {}, userText: '€'.repeat(MAX_ANNOTATION_LENGTH / 3) }),
      field: 'userText',
    },
    {
      name: 'too many tags',
      meta: meta({
        tags: Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`tag${i}`, 'v'.repeat(20)])),
      }),
      field: 'tags',
    },
    {
      name: 'huge logical id',
      meta: meta({ logicalId: 'l'.repeat(MAX_ANNOTATION_LENGTH) }),
      field: 'logicalId',
    },
  ];
  for (const { name, meta: input, field } of cases) {
    it(`rejects: ${name}`, () => {
      let caught: unknown;
      try {
        encodeAnnotation(input);
      } catch (error) {
        caught = error;
      }
      assert.ok(caught instanceof AnnotationError);
      assert.ok(caught instanceof VSphereError);
      assert.equal(caught.code, 'ANNOTATION');
      assert.equal(caught.field, field);
      assert.equal(caught.limit, MAX_ANNOTATION_LENGTH);
      assert.ok(caught.length > MAX_ANNOTATION_LENGTH);
      assert.match(
        caught.message,
        new RegExp(`annotation too long: \\d+ UTF-8 bytes, limit ${MAX_ANNOTATION_LENGTH}`),
      );
      assert.ok(caught.message.includes(field));
      assert.ok(caught.message.length < 200, 'the message must not echo the content');
    });
  }
});

describe('helpers', () => {
  const utf8: [string, number][] = [
    ['', 0],
    ['abc', 3],
    ['é', 2],
    ['€', 3],
    ['🚀', 4],
    ['\ud800', 3],
    ['a\udc00b', 5],
  ];
  for (const [text, bytes] of utf8) {
    it(`utf8Length(${JSON.stringify(text)}) = ${bytes}`, () => {
      assert.equal(utf8Length(text), bytes);
      if (findXmlInvalidChar(text) < 0) assert.equal(utf8Length(text), Buffer.byteLength(text, 'utf8'));
    });
  }

  const xml: [string, number][] = [
    ['plain', -1],
    ['tab\tlf\ncr\r', -1],
    ['🚀', -1],
    ['\ud7ff\ue000\ufffd', -1],
    ['a\u0000', 1],
    ['\u0008', 0],
    ['\u000b', 0],
    ['\u000c', 0],
    ['\u000e', 0],
    ['\u001f', 0],
    ['ab\ud800', 2],
    ['\udc00', 0],
    ['\ud83d\ud83d\ude80', 0],
    ['\uffff', 0],
  ];
  for (const [text, index] of xml) {
    it(`findXmlInvalidChar(${JSON.stringify(text)}) = ${index}`, () => {
      assert.equal(findXmlInvalidChar(text), index);
    });
  }

  it('belongsToGroup is false for an empty group name', () => {
    assert.equal(belongsToGroup(decodeAnnotation('workers\nabc'), ''), false);
  });
});

describe('group id and hash length', () => {
  it('accepts MAX_ID_LENGTH characters and rejects one more', () => {
    const long = 'g'.repeat(MAX_ID_LENGTH);
    assert.equal(decodeAnnotation(encodeAnnotation(meta({ group: long, tags: {} }))).kind, 'ours');
    expectValidationFields(() => encodeAnnotation(meta({ group: `${long}g`, tags: {} })), ['group']);
    expectValidationFields(
      () => encodeAnnotation(meta({ configHash: `${long}h`, tags: {} })),
      ['configHash'],
    );
    assert.equal(decodeAnnotation(`${long}g\nabc`).kind, 'foreign');
    assert.equal(decodeAnnotation(`workers\n${long}h`).kind, 'foreign');
  });
});
