/**
 * Property-based checks (fast-check) of the two codecs everything else stands on, shared by the
 * CI tests (test/unit/fuzz-*.test.ts, about 10 000 runs each) and the soak run (100 000):
 *
 * - the annotation codec: random metadata (tag maps of any XML-carriable text) round-trips through
 *   encodeAnnotation → decodeAnnotation exactly, or is refused with a typed error; and no input
 *   at all (any string, mutated annotations, values that are not strings) makes the decoder throw;
 * - the vim25 codec: random values of random vim25 data types, written by encodeRequest, reshaped
 *   into the XML vcsim answers with (a RetrievePropertiesEx whose property holds the value, nested
 *   types as `XMLSchema-instance:type` with their own prefix declaration, or as `xsi:type`), and
 *   read back by decodeResponse, come back equal (every object with its `_type`).
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { VSphereError } from '../../src/errors.ts';
import {
  AnnotationError,
  decodeAnnotation,
  encodeAnnotation,
  findXmlInvalidChar,
  type InstanceMetadata,
  MAX_ANNOTATION_LENGTH,
  utf8Length,
} from '../../src/provider/annotation.ts';
import {
  decodeResponse,
  encodeRequest,
  fieldsOf,
  isEnum,
  isSubtypeOf,
  ManagedObjectReference,
  type SchemaField,
  typeNames,
  XSD_PRIMITIVES,
} from '../../src/vim25/index.ts';

export interface FuzzRun {
  numRuns: number;
  seed: number;
}

/** fast-check parameters; a failure reports its seed and path, replayed with FUZZ_SEED. */
function params(run: FuzzRun): fc.Parameters<unknown> {
  return { numRuns: run.numRuns, seed: run.seed, endOnFailure: true };
}

// ---------------------------------------------------------------------------------------------
// Text.

/** Characters that break naive handling, mixed into random text. */
const NASTY = [
  '\n',
  '\r',
  '\r\n',
  '\t',
  '<',
  '>',
  '&',
  '"',
  "'",
  ']]>',
  '&amp;',
  '&#13;',
  '\\',
  '/',
  '%',
  '%2f',
  '{',
  '}',
  '"tags":',
  'infrakit-vsphere/v1 ',
  'Deleted by InfraKit',
  '__proto__',
  '\u0085',
  '\u00a0',
  '\u2028',
  '\ufeff',
  '\ufffd',
  '日本',
  '🚀',
  '👩‍👩‍👧',
  'session[',
];

/** Any text XML 1.0 can carry (what vSphere can store), weighted towards the nasty parts. */
export const xmlText = (maxLength = 40): fc.Arbitrary<string> =>
  fc
    .array(fc.oneof(fc.string({ unit: 'binary', maxLength: 8 }), fc.constantFrom(...NASTY)), {
      maxLength: Math.max(1, Math.ceil(maxLength / 4)),
    })
    .map((parts) => parts.join(''))
    .filter((s) => findXmlInvalidChar(s) < 0);

/** Text acceptable on lines 0/1 of an annotation: one line, no control characters, no padding. */
const lineText = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 30 })
  .map((s) =>
    [...s]
      .map((c) => {
        const code = c.charCodeAt(0);
        return code < 0x20 || (code >= 0x7f && code <= 0x9f) ? 'x' : c;
      })
      .join('')
      .trim(),
  )
  .filter((s) => s.length > 0 && findXmlInvalidChar(s) < 0);

// ---------------------------------------------------------------------------------------------
// Annotation codec.

const metadata: fc.Arbitrary<InstanceMetadata> = fc
  .record(
    {
      group: lineText,
      configHash: lineText,
      tags: fc.dictionary(xmlText(20), xmlText(30), { maxKeys: 12 }),
      withGroupTag: fc.boolean(),
      withHashTags: fc.constantFrom<('infrakit.config.hash' | 'infrakit.config_sha')[]>(
        [],
        ['infrakit.config.hash'],
        ['infrakit.config_sha'],
        ['infrakit.config.hash', 'infrakit.config_sha'],
      ),
      logicalId: fc.option(xmlText(20), { nil: undefined }),
      userText: fc.option(
        fc.oneof(
          { arbitrary: xmlText(200), weight: 30 },
          // Now and then notes too long for vSphere: refused with an AnnotationError.
          { arbitrary: fc.integer({ min: 12_000, max: 20_000 }).map((n) => 'é'.repeat(n)), weight: 1 },
        ),
        { nil: undefined },
      ),
    },
    { requiredKeys: ['group', 'configHash', 'tags', 'withGroupTag', 'withHashTags'] },
  )
  .map(({ group, configHash, tags, withGroupTag, withHashTags, logicalId, userText }) => {
    const all: Record<string, string> = {};
    for (const [key, value] of Object.entries(tags)) {
      Object.defineProperty(all, key, { value, enumerable: true, writable: true, configurable: true });
    }
    delete all['infrakit.group'];
    delete all['infrakit.config.hash'];
    delete all['infrakit.config_sha'];
    if (withGroupTag) all['infrakit.group'] = group;
    for (const tag of withHashTags) all[tag] = configHash;
    const meta: InstanceMetadata = { group, configHash, tags: all };
    if (logicalId !== undefined) meta.logicalId = logicalId;
    if (userText !== undefined) meta.userText = userText;
    return meta;
  });

/**
 * Random metadata round-trips exactly: encode then decode gives `ours` and the same group, hash,
 * tags (own keys, `__proto__` included), logical id and user text; an annotation too long for
 * vSphere is refused with an AnnotationError instead. Returns how many were too long.
 */
export function annotationRoundTrip(run: FuzzRun): { tooLong: number } {
  let tooLong = 0;
  fc.assert(
    fc.property(metadata, (meta) => {
      let text: string;
      try {
        text = encodeAnnotation(meta);
      } catch (error) {
        if (error instanceof AnnotationError) {
          tooLong += 1;
          assert.ok(error.length > MAX_ANNOTATION_LENGTH);
          return;
        }
        throw error;
      }
      assert.ok(utf8Length(text) <= MAX_ANNOTATION_LENGTH);
      const decoded = decodeAnnotation(text);
      assert.equal(decoded.kind, 'ours');
      if (decoded.kind !== 'ours') return;
      assert.equal(decoded.metadata.group, meta.group);
      assert.equal(decoded.metadata.configHash, meta.configHash);
      assert.deepStrictEqual(Object.entries(decoded.metadata.tags).sort(), Object.entries(meta.tags).sort());
      assert.equal(decoded.metadata.logicalId, meta.logicalId);
      assert.equal(decoded.metadata.userText, meta.userText);
      // What the original Go plugin reads: line 0 and line 1.
      const lines = text.split('\n');
      assert.equal(lines[0], meta.group);
      assert.equal(lines[1], meta.configHash);
    }),
    params(run),
  );
  return { tooLong };
}

/** Edits a hand could make to an annotation: cut, insert, swap lines, change characters. */
const mutated: fc.Arbitrary<string> = fc
  .tuple(
    metadata,
    fc.array(
      fc.record({
        at: fc.nat(),
        cut: fc.nat({ max: 20 }),
        insert: fc.oneof(fc.string({ unit: 'binary', maxLength: 6 }), fc.constantFrom(...NASTY)),
      }),
      { minLength: 1, maxLength: 6 },
    ),
  )
  .map(([meta, edits]) => {
    let text: string;
    try {
      text = encodeAnnotation(meta);
    } catch {
      text = `${meta.group}\n${meta.configHash}`;
    }
    for (const { at, cut, insert } of edits) {
      const i = text.length === 0 ? 0 : at % (text.length + 1);
      text = text.slice(0, i) + insert + text.slice(i + cut);
    }
    return text;
  });

/** Checks one decoded result is well formed (what callers rely on). */
function wellFormed(decoded: ReturnType<typeof decodeAnnotation>): void {
  assert.ok(['ours', 'legacy', 'deleted', 'foreign'].includes(decoded.kind));
  if (decoded.kind === 'ours' || decoded.kind === 'legacy') {
    const m = decoded.metadata;
    assert.equal(typeof m.group, 'string');
    assert.equal(typeof m.configHash, 'string');
    assert.ok(m.group.length > 0 && !m.group.includes('\n'));
    for (const value of Object.values(m.tags)) assert.equal(typeof value, 'string');
    if (m.logicalId !== undefined) assert.equal(typeof m.logicalId, 'string');
    if (m.userText !== undefined) assert.equal(typeof m.userText, 'string');
  }
  if (decoded.kind === 'foreign') assert.equal(typeof decoded.text, 'string');
}

/**
 * Whatever reaches the decoder (any string, hand-mutated annotations, values of any type), it
 * never throws and returns a well-formed result; encoding what it decoded never throws anything
 * but a typed error.
 */
export function annotationDecoderTotal(run: FuzzRun): { kinds: Record<string, number> } {
  const kinds: Record<string, number> = {};
  const input = fc.oneof(
    { arbitrary: fc.string({ unit: 'binary', maxLength: 300 }), weight: 3 },
    { arbitrary: mutated, weight: 5 },
    { arbitrary: fc.anything(), weight: 1 },
  );
  fc.assert(
    fc.property(input, (value) => {
      const decoded = decodeAnnotation(value as string);
      kinds[decoded.kind] = (kinds[decoded.kind] ?? 0) + 1;
      wellFormed(decoded);
      if (decoded.kind === 'ours' || decoded.kind === 'legacy') {
        try {
          decodeAnnotation(encodeAnnotation(decoded.metadata));
        } catch (error) {
          assert.ok(error instanceof VSphereError, `untyped ${String(error)}`);
        }
      }
    }),
    params(run),
  );
  return { kinds };
}

// ---------------------------------------------------------------------------------------------
// vim25 codec.

const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;
const MAX_DEPTH = 3;

let dataTypes: string[] | undefined;
const subtypes = new Map<string, string[]>();

function allDataTypes(): string[] {
  dataTypes ??= typeNames().filter((t) => !isEnum(t) && !XSD_PRIMITIVES.has(t));
  return dataTypes;
}

function subtypesOf(type: string): string[] {
  let list = subtypes.get(type);
  if (!list) {
    list = allDataTypes().filter((t) => t === type || isSubtypeOf(t, type));
    subtypes.set(type, list);
  }
  return list;
}

const identifier = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_-]{0,12}$/);

const moref = fc
  .record(
    { type: identifier, value: xmlText(20), serverGuid: fc.option(identifier, { nil: undefined }) },
    { requiredKeys: ['type', 'value'] },
  )
  .map(({ type, value, serverGuid }) => new ManagedObjectReference(type, value, serverGuid));

/** A value for one primitive XML type, in the form the decoder gives back. */
function primitive(type: string): fc.Arbitrary<unknown> | undefined {
  switch (type) {
    case 'string':
    case 'anyURI':
      return xmlText(30);
    case 'boolean':
      return fc.boolean();
    case 'byte':
      return fc.integer({ min: -128, max: 127 });
    case 'short':
      return fc.integer({ min: -32768, max: 32767 });
    case 'int':
      return fc.integer({ min: -2147483648, max: 2147483647 });
    case 'long':
      return fc.oneof(
        fc.maxSafeInteger(),
        fc
          .bigInt({ min: LONG_MIN, max: LONG_MAX })
          .filter((b) => b > BigInt(Number.MAX_SAFE_INTEGER) || b < BigInt(Number.MIN_SAFE_INTEGER)),
      );
    case 'float':
    case 'double':
      return fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Object.is(d, -0));
    case 'dateTime':
      return fc
        .date({ min: new Date(0), max: new Date(Date.UTC(9999, 0, 1)), noInvalidDate: true })
        .map((d) => d.toISOString());
    case 'base64Binary':
      return fc.uint8Array({ maxLength: 24 }).map((b) => Buffer.from(b).toString('base64'));
    default:
      return undefined;
  }
}

/** The arbitrary for a field (or undefined when the field cannot be generated: anyType). */
function fieldValue(field: SchemaField, depth: number): fc.Arbitrary<unknown> | undefined {
  const one = arbitraryOf(field.type, depth);
  if (!one) return undefined;
  return field.array ? fc.array(one, { minLength: 1, maxLength: 3 }) : one;
}

function arbitraryOf(type: string, depth: number): fc.Arbitrary<unknown> | undefined {
  if (type === 'anyType') return undefined;
  if (type === 'ManagedObjectReference') return moref;
  if (XSD_PRIMITIVES.has(type)) return primitive(type);
  if (isEnum(type)) return xmlText(12);
  if (depth >= MAX_DEPTH) return undefined;
  const choices = subtypesOf(type);
  if (choices.length === 0) return undefined;
  return fc.constantFrom(...choices).chain((runtime) => objectOf(runtime, depth + 1));
}

/** An object of exactly `runtime`, with a random subset of its fields, `_type` set. */
function objectOf(runtime: string, depth: number): fc.Arbitrary<Record<string, unknown>> {
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const field of fieldsOf(runtime) ?? []) {
    const arbitrary = fieldValue(field, depth);
    if (arbitrary) model[field.name] = arbitrary;
  }
  return fc.record(model, { requiredKeys: [] }).map((fields) => ({ _type: runtime, ...fields }));
}

/** The library's own data types first, then any type of the schema. */
const FAVOURITES = [
  'VirtualMachineConfigSpec',
  'VirtualMachineCloneSpec',
  'VirtualMachineRelocateSpec',
  'VirtualDeviceConfigSpec',
  'TaskInfo',
  'ObjectContent',
  'PropertyFilterSpec',
  'UpdateSet',
  'LocalizedMethodFault',
  'GuestNicInfo',
  'UserSession',
  'ServiceContent',
];

const rootValue = fc
  .oneof(
    { arbitrary: fc.constantFrom(...FAVOURITES), weight: 2 },
    { arbitrary: fc.constantFrom(...allDataTypes()), weight: 3 },
  )
  .chain((type) => objectOf(type, 1));

const XSI = 'http://www.w3.org/2001/XMLSchema-instance';

/**
 * The value as vcsim would answer it: a RetrievePropertiesEx whose one property holds it. The
 * element text comes from encodeRequest (UpdateOptions carries an anyType, so the value is written
 * with its xsi:type), then the attributes are respelled the way vcsim writes them when asked to.
 */
function vcsimResponse(value: Record<string, unknown>, vcsimPrefixes: boolean): string {
  const request = encodeRequest('UpdateOptions', {
    _this: new ManagedObjectReference('OptionManager', 'OptionManager'),
    changedValue: [{ key: 'fuzz', value }],
  });
  const start = request.indexOf('<value ');
  const end = request.lastIndexOf('</value>');
  assert.ok(start > 0 && end > start, 'the value element is in the request');
  let element = `<val${request.slice(start + '<value'.length, end)}</val>`;
  if (vcsimPrefixes) {
    element = element.replaceAll(
      ' xsi:type="',
      ` xmlns:XMLSchema-instance="${XSI}" XMLSchema-instance:type="`,
    );
  }
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="${XSI}">` +
    '<soapenv:Body><RetrievePropertiesExResponse xmlns="urn:vim25"><returnval><objects>' +
    '<obj type="OptionManager">OptionManager</obj><propSet><name>setting</name>' +
    `${element}</propSet></objects></returnval></RetrievePropertiesExResponse></soapenv:Body></soapenv:Envelope>`
  );
}

/**
 * Random values of random vim25 types round-trip: encodeRequest → vcsim-shaped XML →
 * decodeResponse gives the same value. Returns how many distinct root types were tried.
 */
export function vim25RoundTrip(run: FuzzRun): { types: number; bytes: number; maxBytes: number } {
  const seen = new Set<string>();
  let bytes = 0;
  let maxBytes = 0;
  fc.assert(
    fc.property(rootValue, fc.boolean(), (value, vcsimPrefixes) => {
      seen.add(String(value._type));
      const xml = vcsimResponse(value, vcsimPrefixes);
      bytes += xml.length;
      maxBytes = Math.max(maxBytes, xml.length);
      const result = decodeResponse(xml, 'RetrievePropertiesEx') as {
        objects: { propSet: { name: string; val: unknown }[] }[];
      };
      const decoded = result.objects[0]?.propSet[0]?.val;
      assert.deepStrictEqual(decoded, value);
    }),
    params(run),
  );
  return { types: seen.size, bytes, maxBytes };
}

/** Primitives in an anyType field (OptionValue.value) come back with their type. */
export function vim25PrimitivesRoundTrip(run: FuzzRun): void {
  const value = fc.oneof(
    xmlText(40),
    fc.boolean(),
    fc.maxSafeInteger(),
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Number.isInteger(d)),
    fc.array(xmlText(10), { minLength: 1, maxLength: 4 }),
    fc.array(fc.maxSafeInteger(), { minLength: 1, maxLength: 4 }),
    fc.array(moref, { minLength: 1, maxLength: 3 }),
    moref,
  );
  fc.assert(
    fc.property(value, fc.boolean(), (v, vcsimPrefixes) => {
      const xml = vcsimResponse(v as unknown as Record<string, unknown>, vcsimPrefixes);
      const result = decodeResponse(xml, 'RetrievePropertiesEx') as {
        objects: { propSet: { val: unknown }[] }[];
      };
      assert.deepStrictEqual(result.objects[0]?.propSet[0]?.val, v);
    }),
    params(run),
  );
}

/** Any bytes to decodeResponse: a value or a typed error (VIM25_DECODE or VIM_FAULT), never anything else. */
export function vim25DecoderTotal(run: FuzzRun): { decoded: number; refused: number } {
  let decoded = 0;
  let refused = 0;
  const realistic = rootValue.map((v) => vcsimResponse(v, true));
  const input = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc
      .tuple(realistic, fc.nat(), fc.nat({ max: 30 }), fc.string({ unit: 'binary', maxLength: 8 }))
      .map(([xml, at, cut, insert]) => {
        const i = at % (xml.length + 1);
        return xml.slice(0, i) + insert + xml.slice(i + cut);
      }),
    fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
  );
  fc.assert(
    fc.property(input, (xml) => {
      try {
        decodeResponse(xml, 'RetrievePropertiesEx');
        decoded += 1;
      } catch (error) {
        refused += 1;
        assert.ok(error instanceof VSphereError, `untyped ${String(error)}`);
        assert.ok(['VIM25_DECODE', 'VIM_FAULT'].includes(error.code), error.code);
      }
    }),
    params(run),
  );
  return { decoded, refused };
}

/** `FUZZ_SEED` replays a reported failure; otherwise each run has its own fixed seed. */
export function fuzzSeed(fallback: number): number {
  const fromEnv = process.env.FUZZ_SEED;
  return fromEnv === undefined || fromEnv === '' ? fallback : Number(fromEnv);
}
