import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValidationError } from '../../src/errors.ts';
import {
  describeJsonType,
  fieldPath,
  MAX_JSON_DEPTH,
  parseInstanceSpec,
  parseTags,
  previewValue,
} from '../../src/provider/spec.ts';
import type { InstanceSpec } from '../../src/spi/instance.ts';

function rejected(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ValidationError, `expected a ValidationError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a ValidationError');
}

function issues(error: ValidationError): string[] {
  return error.issues.map((issue) => `${issue.field}: ${issue.message}`);
}

describe('parseInstanceSpec: valid specs', () => {
  const cases: { name: string; raw: unknown; expected: InstanceSpec }[] = [
    { name: 'empty', raw: {}, expected: { Tags: {} } },
    {
      name: 'a full spec from the group plugin',
      raw: {
        Properties: { Template: 't', CPUs: '2', nested: [1, { a: null }] },
        Tags: { 'infrakit.group': 'workers', 'infrakit.config.hash': 'abc' },
        Init: '#!/bin/sh\necho hi\n',
        LogicalID: '10.0.0.1',
        Attachments: [{ ID: 'vol-1', Type: 'disk' }],
      },
      expected: {
        Properties: { Template: 't', CPUs: '2', nested: [1, { a: null }] },
        Tags: { 'infrakit.group': 'workers', 'infrakit.config.hash': 'abc' },
        Init: '#!/bin/sh\necho hi\n',
        LogicalID: '10.0.0.1',
        Attachments: [{ ID: 'vol-1', Type: 'disk' }],
      },
    },
    {
      name: 'nulls as Go marshals them',
      raw: { Properties: null, Tags: null, Init: null, LogicalID: null, Attachments: null },
      expected: { Properties: null, Tags: {}, LogicalID: null, Attachments: null },
    },
    { name: 'empty LogicalID is null', raw: { LogicalID: '' }, expected: { Tags: {}, LogicalID: null } },
    {
      name: 'attachment without Type',
      raw: { Attachments: [{ ID: 'a' }, { ID: 'b', Type: null }] },
      expected: {
        Tags: {},
        Attachments: [
          { ID: 'a', Type: '' },
          { ID: 'b', Type: '' },
        ],
      },
    },
    {
      name: 'unknown top-level keys are ignored',
      raw: { Tags: { a: 'b' }, Future: { x: 1 }, properties: 'lower-case is not Properties' },
      expected: { Tags: { a: 'b' } },
    },
    { name: 'Properties a string', raw: { Properties: 'x' }, expected: { Properties: 'x', Tags: {} } },
    { name: 'Properties a number', raw: { Properties: 5 }, expected: { Properties: 5, Tags: {} } },
    { name: 'Init empty', raw: { Init: '' }, expected: { Init: '', Tags: {} } },
    {
      name: 'tags with odd characters',
      raw: { Tags: { 'a b': ' ', '<&>': '🚀\r\n' } },
      expected: { Tags: { 'a b': ' ', '<&>': '🚀\r\n' } },
    },
  ];
  for (const { name, raw, expected } of cases) {
    it(name, () => {
      assert.deepEqual(parseInstanceSpec(raw), expected);
    });
  }

  it('accepts what JSON.parse produces for an InfraKit request', () => {
    const json =
      '{"Properties":{"ISOPath":"linuxkit.iso"},"Tags":{"infrakit.group":"w","__proto__":"x"},"Init":"","LogicalID":null,"Attachments":null}';
    const spec = parseInstanceSpec(JSON.parse(json));
    assert.deepEqual(Object.keys(spec.Tags ?? {}), ['infrakit.group', '__proto__']);
    assert.equal(Object.getPrototypeOf(spec.Tags), Object.prototype);
  });
});

describe('parseInstanceSpec: rejected specs name each field', () => {
  const cases: { name: string; raw: unknown; expected: string[] }[] = [
    { name: 'not an object (string)', raw: 'spec', expected: ['Spec: expected an object, got string'] },
    { name: 'not an object (null)', raw: null, expected: ['Spec: expected an object, got null'] },
    { name: 'not an object (array)', raw: [{}], expected: ['Spec: expected an object, got array'] },
    {
      name: 'not an object (undefined)',
      raw: undefined,
      expected: ['Spec: expected an object, got undefined'],
    },
    {
      name: 'tag value a number',
      raw: { Tags: { foo: 1 } },
      expected: ['Spec.Tags.foo: expected a string, got number'],
    },
    {
      name: 'several bad tags',
      raw: { Tags: { a: null, b: true, c: 'ok', 'd e': {} } },
      expected: [
        'Spec.Tags.a: expected a string, got null',
        'Spec.Tags.b: expected a string, got boolean',
        'Spec.Tags["d e"]: expected a string, got object',
      ],
    },
    {
      name: 'Tags an array',
      raw: { Tags: ['a'] },
      expected: ['Spec.Tags: expected an object of string to string, got array'],
    },
    {
      name: 'Tags a string',
      raw: { Tags: 'a=b' },
      expected: ['Spec.Tags: expected an object of string to string, got string'],
    },
    {
      name: 'empty tag name',
      raw: { Tags: { '': 'x' } },
      expected: ['Spec.Tags[""]: tag names must not be empty'],
    },
    {
      name: 'tag value with NUL',
      raw: { Tags: { a: 'x\u0000' } },
      expected: ['Spec.Tags.a: contains U+0000 at index 1, which XML 1.0 (and so vSphere) cannot carry'],
    },
    {
      name: 'tag name with a lone surrogate',
      raw: { Tags: { '\ud800': 'x' } },
      expected: [
        'Spec.Tags["\\ud800"]: tag name contains U+D800 at index 0, which XML 1.0 (and so vSphere) cannot carry',
      ],
    },
    { name: 'Init a number', raw: { Init: 5 }, expected: ['Spec.Init: expected a string, got number'] },
    {
      name: 'Init with U+0001',
      raw: { Init: 'a\u0001' },
      expected: ['Spec.Init: contains U+0001 at index 1, which XML 1.0 (and so vSphere) cannot carry'],
    },
    {
      name: 'LogicalID a number',
      raw: { LogicalID: 7 },
      expected: ['Spec.LogicalID: expected a string, got number'],
    },
    {
      name: 'LogicalID with a newline',
      raw: { LogicalID: 'a\nb' },
      expected: ['Spec.LogicalID: must not contain control characters (found U+000A)'],
    },
    {
      name: 'Attachments an object',
      raw: { Attachments: { ID: 'a' } },
      expected: ['Spec.Attachments: expected an array of {ID, Type} or null, got object'],
    },
    {
      name: 'bad attachments',
      raw: { Attachments: ['a', { Type: 'disk' }, { ID: '' }, { ID: 'x', Type: 3 }, null] },
      expected: [
        'Spec.Attachments[0]: expected an object {ID, Type}, got string',
        'Spec.Attachments[1].ID: expected a string, got undefined',
        'Spec.Attachments[2].ID: must not be empty',
        'Spec.Attachments[3].Type: expected a string, got number',
        'Spec.Attachments[4]: expected an object {ID, Type}, got null',
      ],
    },
    {
      name: 'everything wrong at once',
      raw: { Tags: { a: 1 }, Init: [], LogicalID: {}, Attachments: 1 },
      expected: [
        'Spec.Tags.a: expected a string, got number',
        'Spec.Init: expected a string, got array',
        'Spec.LogicalID: expected a string, got object',
        'Spec.Attachments: expected an array of {ID, Type} or null, got number',
      ],
    },
  ];
  for (const { name, raw, expected } of cases) {
    it(name, () => {
      const error = rejected(() => parseInstanceSpec(raw));
      assert.deepEqual(issues(error), expected);
      assert.ok(error.message.startsWith('invalid instance spec: '));
    });
  }
});

describe('parseInstanceSpec: Properties must be JSON data', () => {
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  let deep: unknown = 'leaf';
  for (let i = 0; i < MAX_JSON_DEPTH + 5; i++) deep = [deep];
  const shared = { x: 1 };

  const cases: { name: string; properties: unknown; expected: string[] }[] = [
    {
      name: 'a function',
      properties: { f: () => 1 },
      expected: ['Spec.Properties.f: expected JSON data, got function'],
    },
    {
      name: 'NaN',
      properties: { n: Number.NaN },
      expected: ['Spec.Properties.n: expected a finite number, got NaN'],
    },
    {
      name: 'Infinity in an array',
      properties: [1, Number.POSITIVE_INFINITY],
      expected: ['Spec.Properties[1]: expected a finite number, got Infinity'],
    },
    {
      name: 'a bigint',
      properties: { b: 1n },
      expected: ['Spec.Properties.b: expected JSON data, got bigint'],
    },
    {
      name: 'a Date',
      properties: { d: new Date(0) },
      expected: ['Spec.Properties.d: expected JSON data, got a non-plain object'],
    },
    { name: 'a cycle', properties: cyclic, expected: ['Spec.Properties.self: refers to itself (not JSON)'] },
    {
      name: 'too deep',
      properties: deep,
      expected: [
        `Spec.Properties${'[0]'.repeat(MAX_JSON_DEPTH)}: nested deeper than ${MAX_JSON_DEPTH} levels`,
      ],
    },
  ];
  for (const { name, properties, expected } of cases) {
    it(name, () => {
      assert.deepEqual(issues(rejected(() => parseInstanceSpec({ Properties: properties }))), expected);
    });
  }

  it('the same object twice (not a cycle) is fine', () => {
    assert.deepEqual(parseInstanceSpec({ Properties: { a: shared, b: [shared] } }).Properties, {
      a: shared,
      b: [shared],
    });
  });
});

describe('parseTags', () => {
  it('null and undefined give {}', () => {
    assert.deepEqual(parseTags(null, 'Labels'), {});
    assert.deepEqual(parseTags(undefined, 'Labels'), {});
  });

  it('returns a fresh copy', () => {
    const raw = { a: 'b' };
    const tags = parseTags(raw, 'Labels');
    assert.deepEqual(tags, raw);
    assert.notEqual(tags, raw);
  });

  it('keeps a "__proto__" tag as an ordinary own tag', () => {
    const tags = parseTags(JSON.parse('{"__proto__":"v"}'), 'Tags');
    assert.equal(Object.getPrototypeOf(tags), Object.prototype);
    assert.equal(Object.getOwnPropertyDescriptor(tags, '__proto__')?.value, 'v');
  });

  const bad: [unknown, string[]][] = [
    [5, ['Labels: expected an object of string to string, got number']],
    [[['a', 'b']], ['Labels: expected an object of string to string, got array']],
    [new Map([['a', 'b']]), ['Labels: expected an object of string to string, got object']],
    [{ a: 1, b: 'ok' }, ['Labels.a: expected a string, got number']],
  ];
  for (const [raw, expected] of bad) {
    it(`rejects ${Object.prototype.toString.call(raw)} ${JSON.stringify(raw) ?? ''}`, () => {
      const error = rejected(() => parseTags(raw, 'Labels'));
      assert.deepEqual(issues(error), expected);
      assert.ok(error.message.startsWith('invalid tags: '));
    });
  }

  it('a huge tag name is truncated in the field', () => {
    const error = rejected(() => parseTags({ ['k'.repeat(5000)]: 1 }, 'Tags'));
    assert.ok((error.issues[0]?.field.length ?? 0) < 60);
  });
});

describe('message helpers', () => {
  const types: [unknown, string][] = [
    [null, 'null'],
    [[], 'array'],
    [{}, 'object'],
    ['', 'string'],
    [0, 'number'],
    [false, 'boolean'],
    [undefined, 'undefined'],
  ];
  for (const [value, name] of types) {
    it(`describeJsonType → ${name}`, () => {
      assert.equal(describeJsonType(value), name);
    });
  }

  const previews: [unknown, string][] = [
    ['abc', '"abc"'],
    [12, '12'],
    [null, 'null'],
    [{ secret: 'x' }, 'object'],
    ['a'.repeat(100), `"${'a'.repeat(58)}…`],
  ];
  for (const [value, expected] of previews) {
    it(`previewValue(${JSON.stringify(value).slice(0, 20)})`, () => {
      assert.equal(previewValue(value), expected);
    });
  }

  it('previewValue does not split a surrogate pair', () => {
    const preview = previewValue('🚀'.repeat(100));
    assert.ok(!/[\ud800-\udbff]…$/.test(preview));
    assert.ok(preview.length <= 60);
  });

  const paths: [string, string][] = [
    ['foo', 'Spec.Tags.foo'],
    ['infrakit.group', 'Spec.Tags.infrakit.group'],
    ['a b', 'Spec.Tags["a b"]'],
    ['', 'Spec.Tags[""]'],
    ['x\ny', 'Spec.Tags["x\\ny"]'],
  ];
  for (const [key, expected] of paths) {
    it(`fieldPath(${JSON.stringify(key)})`, () => {
      assert.equal(fieldPath('Spec.Tags', key), expected);
    });
  }
});
