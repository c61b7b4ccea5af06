/**
 * Streaming decode: the XML scanner and the response decoder fed a body in pieces, cut anywhere
 * (inside tags, attribute values, references, CR LF pairs, comments, CDATA, multi-byte UTF-8),
 * must report exactly what they report for the whole body, errors and their offsets included.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  DecodeError,
  decodeResponse,
  ResponseStream,
  scanXml,
  VimFault,
  type XmlHandler,
  XmlScanner,
} from '../../src/vim25/index.ts';
import { largeRetrieveResponse } from './bench-decode.ts';

const FIXTURES = new URL('./fixtures/', import.meta.url);
const fixtureNames = readdirSync(FIXTURES).filter((name) => name.endsWith('.xml'));
const fixture = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');

/** Records events, joining adjacent text events (a split text run may arrive in several). */
class Recorder implements XmlHandler {
  readonly #events: string[] = [];
  #text: string[] = [];
  get events(): string[] {
    this.#flush();
    return this.#events;
  }
  open(name: string, attrs: string[] | undefined): void {
    this.#flush();
    this.#events.push(`open ${name} ${JSON.stringify(attrs ?? null)}`);
  }
  text(text: string): void {
    this.#text.push(text);
  }
  close(): void {
    this.#flush();
    this.#events.push('close');
  }
  #flush(): void {
    if (this.#text.length > 0) this.#events.push(`text ${this.#text.join('')}`);
    this.#text = [];
  }
}

type Outcome = { events: string[] } | { error: string };

function whole(xml: string): Outcome {
  const recorder = new Recorder();
  try {
    scanXml(xml, recorder);
    return { events: recorder.events };
  } catch (error) {
    assert.ok(error instanceof DecodeError, `a DecodeError, got ${error}`);
    return { error: error.message };
  }
}

function pieces(xml: string, cuts: number[]): Outcome {
  const recorder = new Recorder();
  const scanner = new XmlScanner(recorder);
  let from = 0;
  try {
    for (const cut of [...cuts].sort((a, b) => a - b)) {
      scanner.write(xml.slice(from, cut));
      from = cut;
    }
    scanner.end(xml.slice(from));
    return { events: recorder.events };
  } catch (error) {
    assert.ok(error instanceof DecodeError, `a DecodeError, got ${error}`);
    return { error: error.message };
  }
}

// Each one puts a construct a cut could break at some offset.
const TRICKY = [
  '\uFEFF<?xml version="1.0"?><a x="1 > 2" y=\'"\'><!-- a > b -- c --><b/>t&amp;u&#x41;&#66;</a>',
  '<a>line1\r\nline2\rline3&#xD;&#10;</a>',
  '<a><![CDATA[x > y ]] ]> <b>]]>tail</a>',
  '<a  b = "v&#9;w\tx" ><c\n/>  \n  <d>é€😀</d></a >',
  '<r><s:t xmlns:s="urn:x">1</s:t><?pi data?>  <u></u></r>\n',
];
const MALFORMED = [
  '<a>&bogus;</a>',
  '<a>&constructor;</a>',
  '<a>& b</a>',
  '<a>&#0;</a>',
  '<a>&#xD800;</a>',
  '<a><b></a>',
  '<a x="1" x="2"/>',
  '<a>text',
  '<a><!-- unterminated',
  '<a><![CDATA[ unterminated</a>',
  '<!DOCTYPE a><a/>',
  '<a/><b/>',
  'text<a/>',
  '<a x=1/>',
  '<a></a',
  '',
];

describe('XmlScanner, fed in pieces', () => {
  it('reports the same events as a whole scan, for every cut of documents with tricky constructs', () => {
    for (const xml of TRICKY) {
      const expected = whole(xml);
      assert.ok('events' in expected, `${JSON.stringify(xml)} is well-formed`);
      for (let cut = 0; cut <= xml.length; cut++) {
        assert.deepEqual(pieces(xml, [cut]), expected, `cut at ${cut} of ${JSON.stringify(xml)}`);
      }
      const everyChar = Array.from({ length: xml.length }, (_, k) => k);
      assert.deepEqual(pieces(xml, everyChar), expected, `one character at a time: ${JSON.stringify(xml)}`);
    }
  });

  it('refuses malformed documents with the same message and offset however they are cut', () => {
    for (const xml of MALFORMED) {
      const expected = whole(xml);
      assert.ok('error' in expected, `${JSON.stringify(xml)} is refused whole`);
      for (let cut = 0; cut <= xml.length; cut++) {
        assert.deepEqual(pieces(xml, [cut]), expected, `cut at ${cut} of ${JSON.stringify(xml)}`);
      }
    }
  });

  it('an undeclared entity named like an Object.prototype member is refused, not expanded', () => {
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      assert.deepEqual(whole(`<a>&${name};</a>`), {
        error: `malformed XML at offset 3: undeclared entity &${name};`,
      });
    }
  });

  it('keeps only the unread tail: a long text run fed in pieces is not re-joined each time', () => {
    // 4 MB of text in 4 KB pieces: quadratic re-joining would copy ~2 GB and take seconds.
    const piece = 'abcdefgh&amp;'.repeat(315);
    const recorder = new Recorder();
    const scanner = new XmlScanner(recorder);
    scanner.write('<a>');
    const started = performance.now();
    for (let k = 0; k < 1000; k++) scanner.write(piece);
    scanner.end('</a>');
    const ms = performance.now() - started;
    assert.equal(recorder.events[1], `text ${'abcdefgh&'.repeat(315 * 1000)}`);
    // Generous: the linear scan takes ~20 ms here; the quadratic one took far longer than this.
    assert.ok(ms < 2_000, `took ${Math.round(ms)} ms`);
  });

  it('write after end and a second end are refused', () => {
    const scanner = new XmlScanner(new Recorder());
    scanner.end('<a/>');
    assert.throws(() => scanner.write('x'), DecodeError);
    assert.throws(() => scanner.end(), DecodeError);
  });

  it(`random cuts of every vcsim fixture give the same events (${fixtureNames.length} fixtures)`, () => {
    fc.assert(
      fc.property(fc.constantFrom(...fixtureNames), fc.array(fc.nat(), { maxLength: 12 }), (name, raw) => {
        const xml = fixture(name);
        const cuts = raw.map((n) => n % (xml.length + 1));
        assert.deepEqual(pieces(xml, cuts), whole(xml));
      }),
      { numRuns: 400, seed: 0x5eed },
    );
  });
});

/** Feeds UTF-8 bytes to a ResponseStream in pieces of `size` bytes. */
function streamDecode(
  xml: string,
  method: string,
  size: number,
  sink?: ConstructorParameters<typeof ResponseStream>[1],
) {
  const bytes = Buffer.from(xml, 'utf8');
  const stream = new ResponseStream(method, sink);
  for (let at = 0; at < bytes.length; at += size) stream.write(bytes.subarray(at, at + size));
  return stream.end();
}

describe('ResponseStream', () => {
  it('decodes every fixture exactly as decodeResponse does, in pieces of 1, 7 and 4,096 bytes', () => {
    const methods: Record<string, string> = {
      'continue-retrieve.xml': 'ContinueRetrievePropertiesEx',
      'create-folder.xml': 'CreateFolder',
      'create-vm-task.xml': 'CreateVM_Task',
      'current-time.xml': 'CurrentTime',
      'find-by-inventory-path-absent.xml': 'FindByInventoryPath',
      'find-by-inventory-path.xml': 'FindByInventoryPath',
      'login.xml': 'Login',
      'logout.xml': 'Logout',
      'query-options.xml': 'QueryOptions',
      'retrieve-devices.xml': 'RetrievePropertiesEx',
      'retrieve-unauthenticated.xml': 'RetrievePropertiesEx',
      'retrieve-vms.xml': 'RetrievePropertiesEx',
      'service-content.xml': 'RetrieveServiceContent',
      'task-info-error.xml': 'RetrievePropertiesEx',
      'task-info-not-supported.xml': 'RetrievePropertiesEx',
      'task-info-success.xml': 'RetrievePropertiesEx',
      'wait-for-updates.xml': 'WaitForUpdatesEx',
    };
    let compared = 0;
    for (const [name, method] of Object.entries(methods)) {
      const xml = fixture(name);
      const expected = decodeResponse(xml, method);
      for (const size of [1, 7, 4096])
        assert.deepEqual(streamDecode(xml, method, size), expected, `${name} in ${size}-byte pieces`);
      compared += 1;
    }
    assert.equal(compared, Object.keys(methods).length);
  });

  it('a fault arrives as the same VimFault', () => {
    for (const name of ['fault-duplicate-name.xml', 'fault-not-authenticated.xml']) {
      const xml = fixture(name);
      let whole: unknown;
      let streamed: unknown;
      try {
        decodeResponse(xml, 'CreateFolder');
      } catch (error) {
        whole = error;
      }
      try {
        streamDecode(xml, 'CreateFolder', 5);
      } catch (error) {
        streamed = error;
      }
      assert.ok(whole instanceof VimFault && streamed instanceof VimFault, name);
      assert.equal(streamed.faultType, whole.faultType);
      assert.equal(streamed.message, whole.message);
    }
  });

  it('hands the objects of a RetrieveResult to the sink one by one and leaves them out of the result', () => {
    const xml = largeRetrieveResponse(300);
    const expected = decodeResponse(xml, 'RetrievePropertiesEx') as { objects: unknown[]; token?: string };
    const items: unknown[] = [];
    const rest = streamDecode(xml, 'RetrievePropertiesEx', 1000, {
      field: 'objects',
      item: (value) => items.push(value),
    }) as { objects?: unknown[] };
    assert.equal(items.length, 300);
    assert.deepEqual(items, expected.objects);
    assert.equal(rest.objects, undefined);
    const { objects: _objects, ...others } = expected;
    assert.deepEqual({ ...rest }, others);
  });

  it('a sink error stops the decode and propagates unchanged', () => {
    const xml = largeRetrieveResponse(5);
    const stop = new Error('enough');
    let seen = 0;
    assert.throws(
      () =>
        streamDecode(xml, 'RetrievePropertiesEx', 64, {
          field: 'objects',
          item: () => {
            seen += 1;
            if (seen === 2) throw stop;
          },
        }),
      (error) => error === stop,
    );
    assert.equal(seen, 2);
  });

  it('a multi-byte character split between pieces is decoded; invalid UTF-8 is a DecodeError', () => {
    const xml = fixture('current-time.xml').replace(
      /<returnval[^>]*>[^<]*/,
      (m) => `${m.split('>')[0]}>é€😀`,
    );
    const expected = decodeResponse(xml, 'CurrentTime');
    assert.equal(expected, 'é€😀');
    assert.equal(streamDecode(xml, 'CurrentTime', 1), expected);
    const bad = Buffer.from(xml, 'utf8');
    bad[bad.indexOf(0xc3)] = 0xff;
    const stream = new ResponseStream('CurrentTime');
    assert.throws(() => {
      stream.write(bad);
      stream.end();
    }, /not valid UTF-8/);
  });

  it('a body cut short is refused, with the error decodeResponse gives for the same bytes', () => {
    const xml = fixture('retrieve-vms.xml');
    let refused = 0;
    for (const cut of [xml.length - 40, xml.length - 12, Math.floor(xml.length / 2), 300]) {
      const truncated = xml.slice(0, cut);
      let expected: unknown;
      try {
        decodeResponse(truncated, 'RetrievePropertiesEx');
      } catch (error) {
        expected = error;
      }
      assert.ok(expected instanceof DecodeError, `cut at ${cut} is refused whole`);
      assert.throws(
        () => streamDecode(truncated, 'RetrievePropertiesEx', 333),
        (error) => error instanceof DecodeError && error.message === expected.message,
      );
      refused += 1;
    }
    assert.equal(refused, 4);
  });
});
