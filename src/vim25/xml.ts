/**
 * A small, strict XML 1.0 reader for SOAP responses: elements, attributes, text, CDATA, comments and
 * processing instructions, the five predefined entities and character references. It has no DTD
 * support at all (a DOCTYPE is refused), so no entity expansion or external fetch can happen.
 *
 * It exists because fast-xml-parser 5.12 needs 175-210 ms (warm) just to parse a 2,000-VM
 * RetrievePropertiesEx (1.76 MB) on the development machine, while the whole decode on this reader
 * takes 25-30 ms (see docs/vim25-codec.md). Text is kept exactly as sent: no trimming,
 * whitespace-only text preserved.
 */
import { DecodeError } from './errors.ts';

/** An element of the parsed document. */
export interface XmlElement {
  /** Qualified name as written, e.g. `soapenv:Body` or `returnval`. */
  readonly name: string;
  /** Attributes as alternating name/value pairs (values decoded), or undefined when there are none. */
  readonly attrs: string[] | undefined;
  /** Child elements in document order, or undefined when there are none. */
  children: XmlElement[] | undefined;
  /**
   * Character data (text and CDATA, entities decoded) that came before the first child element.
   * For a leaf this is its whole text; text after a child element is formatting and is not kept.
   */
  text: string;
}

/** Deeper documents are refused: vim25 nests a few dozen levels; the limit bounds the work and memory
 * a hostile document can demand (and the recursion of tree helpers such as `decodeElement`). */
export const MAX_DEPTH = 512;

// Name characters by ASCII code: 2 may start a name, 1 may only continue one. Every non-ASCII
// character is accepted, a little wider than the XML Name production, which costs nothing in safety
// and keeps the scan to a table lookup (a regex per tag was a tenth of the parse time).
const NAME_CHARS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z_:]/.test(ch)) NAME_CHARS[c] = 2;
  else if (/[0-9.-]/.test(ch)) NAME_CHARS[c] = 1;
}
const LINE_END = /\r\n?/g;
// Longest reference a streaming scan waits for at the end of a piece (`&#x10FFFF;` is 10; zero
// padding is legal). A longer unterminated one is read at once and refused.
const MAX_REFERENCE = 32;
const ATTR_WHITESPACE = /[\t\n\r]/g;

// Offset of the scanner's buffer in the whole document, so that errors name absolute offsets.
let failBase = 0;

function fail(message: string, offset: number): never {
  throw new DecodeError(`malformed XML at offset ${failBase + offset}: ${message}`);
}

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 9 || c === 13;
}

function isHexDigit(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

function isDecimalDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

// What may follow the first character of an entity name: [\w.-].
function isEntityNameChar(c: number): boolean {
  return c < 128 && NAME_CHARS[c] !== 0 && c !== 58;
}

function predefinedEntity(name: string): string | undefined {
  switch (name) {
    case 'amp':
      return '&';
    case 'lt':
      return '<';
    case 'gt':
      return '>';
    case 'quot':
      return '"';
    case 'apos':
      return "'";
    default:
      return undefined;
  }
}

/**
 * Decodes entity and character references; an unknown entity or a bare `&` is an error. A loop
 * rather than `String.replace` with a callback: every annotation holds a dozen references, and the
 * callback form was a quarter of the scan on a large describe (see docs/performance.md, P2).
 */
function decodeEntities(raw: string, offset: number): string {
  let amp = raw.indexOf('&');
  if (amp < 0) return raw;
  // Pieces joined once: appending with += makes a rope of small strings per text, which costs
  // more memory than the text itself until it is flattened (measured on P5).
  const parts: string[] = [];
  let from = 0;
  while (amp >= 0) {
    if (amp > from) parts.push(raw.slice(from, amp));
    const first = raw.charCodeAt(amp + 1);
    let end = amp + 1;
    let replacement: string | undefined;
    if (first === 35 /* # */) {
      const hex = raw.charCodeAt(amp + 2) === 120; /* x */
      const digitsStart = hex ? amp + 3 : amp + 2;
      end = digitsStart;
      while (hex ? isHexDigit(raw.charCodeAt(end)) : isDecimalDigit(raw.charCodeAt(end))) end++;
      if (end > digitsStart && raw.charCodeAt(end) === 59 /* ; */) {
        const digits = raw.slice(digitsStart, end);
        const code = hex ? Number.parseInt(digits, 16) : Number(digits);
        // NUL, surrogates and values past Unicode cannot be characters. Other C0 controls are kept
        // (XML 1.1 allows them as references) so that no text the server sent is lost.
        if (code === 0 || (code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff) {
          fail(`character reference ${raw.slice(amp, end + 1)} is not a character`, offset + amp);
        }
        replacement = String.fromCodePoint(code);
      }
    } else if (first < 128 && NAME_CHARS[first] === 2 && first !== 58) {
      end = amp + 2;
      while (isEntityNameChar(raw.charCodeAt(end))) end++;
      if (raw.charCodeAt(end) === 59 /* ; */) {
        const name = raw.slice(amp + 1, end);
        replacement = predefinedEntity(name);
        if (replacement === undefined) fail(`undeclared entity &${name};`, offset + amp);
      }
    }
    if (replacement === undefined) fail(`'&' must start an entity reference ("&")`, offset + amp);
    parts.push(replacement);
    from = end + 1;
    amp = raw.indexOf('&', from);
  }
  if (from < raw.length) parts.push(raw.slice(from));
  return parts.join('');
}

/** Applies XML end-of-line handling, then decodes references. */
function decodeText(raw: string, offset: number): string {
  let text = raw;
  if (text.indexOf('\r') >= 0) text = text.replace(LINE_END, '\n');
  if (text.indexOf('&') >= 0) text = decodeEntities(text, offset);
  return text;
}

function isNameChar(c: number): boolean {
  // Past the end charCodeAt is NaN, which fails both tests.
  return c < 128 ? NAME_CHARS[c] !== 0 : c >= 128;
}

function readName(src: string, at: number): string {
  const first = src.charCodeAt(at);
  if (!(first >= 128 ? first !== 0xfeff : NAME_CHARS[first] === 2)) fail('expected a name', at);
  let end = at + 1;
  while (isNameChar(src.charCodeAt(end))) end++;
  return src.slice(at, end);
}

/**
 * True when the markup starting at `lt` is cut off by the end of `src` (its terminator has not
 * arrived yet), so a streaming scanner must wait for more text rather than report an error.
 */
function markupIncomplete(src: string, lt: number): boolean {
  if (src.charCodeAt(lt + 1) === 33 /* ! */) {
    if (src.length - lt < 9) return true;
    if (src.startsWith('<!--', lt)) return src.indexOf('-->', lt + 4) < 0;
    if (src.startsWith('<![CDATA[', lt)) return src.indexOf(']]>', lt + 9) < 0;
    return src.indexOf('>', lt) < 0;
  }
  if (src.charCodeAt(lt + 1) === 63 /* ? */) return src.indexOf('?>', lt + 2) < 0;
  // A tag ends at the first '>' outside a quoted attribute value.
  let quote = 0;
  for (let k = lt + 1; k < src.length; k++) {
    const c = src.charCodeAt(k);
    if (quote !== 0) {
      if (c === quote) quote = 0;
    } else if (c === 34 || c === 39) quote = c;
    else if (c === 62) return false;
  }
  return true;
}

/**
 * Receives a document's structure from {@link XmlScanner}, in document order. Names are qualified as
 * written (`soapenv:Body`); text and attribute values arrive with references decoded.
 */
export interface XmlHandler {
  /** A start tag; `attrs` alternates names and values, undefined when there are none. */
  open(name: string, attrs: string[] | undefined): void;
  /**
   * Character data (text or CDATA) that follows a start tag before any child element, possibly in
   * several calls. Text after a child element (formatting between elements, which vim25 data never
   * mixes with content) is checked for well-formedness but not reported.
   */
  text(text: string): void;
  /** The end of the element opened last (also sent for `<x/>`). */
  close(): void;
}

/**
 * Reads a document given in pieces (as a response body arrives) and reports it to a handler as far
 * as it goes. Markup or text cut off by the end of a piece is held until the next piece, so the
 * events are the same however the document is split, and only the unread tail is kept in memory.
 *
 * Errors are thrown by the `write` that reads the offending text or, for a document that ends too
 * early, by `end`; their offsets count from the start of the whole document.
 */
export class XmlScanner {
  readonly #handler: XmlHandler;
  /** Text received but not read yet (a cut-off tag or text run). */
  #pending = '';
  /** Offset of `#pending` in the whole document. */
  #base = 0;
  #started = false;
  #ended = false;
  #rootSeen = false;
  // Open element names; `depth` rather than push/pop keeps the array from shrinking and regrowing.
  readonly #open: string[] = [];
  #depth = 0;
  // True between a start tag and its first child or end: only there is text content reported.
  #inLeadingText = false;

  constructor(handler: XmlHandler) {
    this.#handler = handler;
  }

  /** Reads the next piece of the document. */
  write(piece: string): void {
    if (this.#ended) throw new DecodeError('XML scanner: write after end');
    let rest = piece;
    if (this.#pending !== '') {
      // Finish the held tail with the head of this piece alone, then read the rest as it is:
      // joining the tail to the whole piece would copy every piece of a large answer once more.
      const gt = piece.indexOf('>');
      if (gt >= 0 && gt < piece.length - 1) {
        this.#scan(piece.slice(0, gt + 1), false);
        rest = piece.slice(gt + 1);
      }
    }
    this.#scan(rest, false);
  }

  /**
   * Reads the last piece (if any) and checks that the document is complete.
   *
   * @throws DecodeError when the text is not well-formed XML, holds a DOCTYPE, or nests deeper than
   *   {@link MAX_DEPTH}; a handler's own errors propagate unchanged
   */
  end(piece = ''): void {
    if (this.#ended) throw new DecodeError('XML scanner: end called twice');
    this.#ended = true;
    this.#scan(piece, true);
    if (this.#depth > 0) fail(`<${this.#open[this.#depth - 1]}> is not closed`, this.#base);
    if (!this.#rootSeen) fail('no root element', this.#base);
  }

  #scan(piece: string, final: boolean): void {
    const src = this.#pending === '' ? piece : this.#pending + piece;
    const len = src.length;
    const handler = this.#handler;
    const open = this.#open;
    let depth = this.#depth;
    let rootSeen = this.#rootSeen;
    let inLeadingText = this.#inLeadingText;
    let i = 0;
    if (!this.#started) {
      if (len === 0 && !final) return;
      this.#started = true;
      if (src.charCodeAt(0) === 0xfeff) i = 1;
    }
    // Start of the markup being read, or -1 while reading text or calling the handler: an error
    // inside markup cut off by the end of the piece means "wait for more", not "malformed".
    let mark = -1;
    // Markup starting after the last '>' cannot be complete: hold it without trying (and failing).
    const lastGt = final ? len : src.lastIndexOf('>');
    failBase = this.#base;
    try {
      while (i < len) {
        const lt = src.indexOf('<', i);
        let textEnd = lt < 0 ? len : lt;
        if (lt < 0 && !final) {
          // The text run goes on in the next piece: read it up to a cut that splits neither a
          // reference nor a CR LF, and hold the rest. (Holding the whole run would make a long
          // text quadratic, each piece re-joined to all of it.)
          const amp = src.lastIndexOf('&');
          if (amp >= i && len - amp <= MAX_REFERENCE && src.indexOf(';', amp) < 0) textEnd = amp;
          if (textEnd > i && src.charCodeAt(textEnd - 1) === 13 /* \r */) textEnd--;
        }
        if (textEnd > i) {
          if (depth === 0) {
            for (let k = i; k < textEnd; k++)
              if (!isSpace(src.charCodeAt(k))) fail('text outside the root element', k);
          } else if (inLeadingText) {
            handler.text(decodeText(src.slice(i, textEnd), i));
          } else {
            // Formatting between child elements is dropped, but it must still be well-formed.
            const between = src.slice(i, textEnd);
            if (between.indexOf('&') >= 0) decodeEntities(between, i);
          }
          i = textEnd;
        }
        if (lt < 0) break;
        if (lt > lastGt) break;
        mark = lt;
        const next = src.charCodeAt(lt + 1);

        if (next === 47 /* / */) {
          // Compared in place: slicing out every end-tag name was a measurable share of the parse.
          const name = depth > 0 ? open[depth - 1] : undefined;
          let k = lt + 2 + (name?.length ?? 0);
          if (name === undefined || !src.startsWith(name, lt + 2) || isNameChar(src.charCodeAt(k))) {
            const found = readName(src, lt + 2);
            fail(name ? `</${found}> closes <${name}>` : `</${found}> has no open element`, lt);
          }
          while (isSpace(src.charCodeAt(k))) k++;
          if (src.charCodeAt(k) !== 62 /* > */) fail(`expected '>' to end </${name}`, k);
          mark = -1;
          depth--;
          inLeadingText = false;
          i = k + 1;
          handler.close();
          continue;
        }

        if (next === 33 /* ! */) {
          if (src.startsWith('<!--', lt)) {
            const end = src.indexOf('-->', lt + 4);
            if (end < 0) fail('unterminated comment', lt);
            i = end + 3;
          } else if (src.startsWith('<![CDATA[', lt)) {
            const end = src.indexOf(']]>', lt + 9);
            if (end < 0) fail('unterminated CDATA section', lt);
            if (depth === 0) fail('CDATA outside the root element', lt);
            mark = -1;
            i = end + 3;
            if (inLeadingText) {
              const data = src.slice(lt + 9, end);
              handler.text(data.indexOf('\r') >= 0 ? data.replace(LINE_END, '\n') : data);
            }
          } else if (src.startsWith('<!DOCTYPE', lt)) {
            fail('a DOCTYPE is not allowed in a SOAP message', lt);
          } else {
            fail('unexpected markup declaration', lt);
          }
          mark = -1;
          continue;
        }

        if (next === 63 /* ? */) {
          const end = src.indexOf('?>', lt + 2);
          if (end < 0) fail('unterminated processing instruction', lt);
          mark = -1;
          i = end + 2;
          continue;
        }

        // Start tag.
        if (depth === 0 && rootSeen) fail('content after the root element', lt);
        const name = readName(src, lt + 1);
        let k = lt + 1 + name.length;
        let attrs: string[] | undefined;
        let selfClosing = false;
        for (;;) {
          const before = k;
          while (isSpace(src.charCodeAt(k))) k++;
          const c = src.charCodeAt(k);
          if (c === 62 /* > */) {
            k++;
            break;
          }
          if (c === 47 /* / */) {
            if (src.charCodeAt(k + 1) !== 62) fail("expected '>' after '/'", k + 1);
            k += 2;
            selfClosing = true;
            break;
          }
          if (Number.isNaN(c)) fail(`unterminated start tag <${name}`, lt);
          if (k === before) fail('expected whitespace before an attribute', k);
          const attrName = readName(src, k);
          k += attrName.length;
          while (isSpace(src.charCodeAt(k))) k++;
          if (src.charCodeAt(k) !== 61 /* = */) fail(`expected '=' after attribute ${attrName}`, k);
          k++;
          while (isSpace(src.charCodeAt(k))) k++;
          const quote = src.charCodeAt(k);
          if (quote !== 34 && quote !== 39) fail(`attribute ${attrName} value must be quoted`, k);
          const end = src.indexOf(quote === 34 ? '"' : "'", k + 1);
          if (end < 0) fail(`unterminated value of attribute ${attrName}`, k);
          let value = src.slice(k + 1, end);
          if (value.indexOf('<') >= 0) fail(`'<' in the value of attribute ${attrName}`, k);
          // Attribute-value normalization: literal whitespace becomes a space, references do not.
          if (value.indexOf('\n') >= 0 || value.indexOf('\r') >= 0 || value.indexOf('\t') >= 0) {
            value = value.replace(LINE_END, ' ').replace(ATTR_WHITESPACE, ' ');
          }
          if (value.indexOf('&') >= 0) value = decodeEntities(value, k + 1);
          if (attrs === undefined) attrs = [];
          else
            for (let a = 0; a < attrs.length; a += 2)
              if (attrs[a] === attrName) fail(`duplicate attribute ${attrName}`, k);
          attrs.push(attrName, value);
          k = end + 1;
        }
        if (depth >= MAX_DEPTH) fail(`elements nest deeper than ${MAX_DEPTH} levels`, lt);
        mark = -1;
        rootSeen = true;
        i = k;
        if (selfClosing) {
          inLeadingText = false;
          handler.open(name, attrs);
          handler.close();
        } else {
          open[depth++] = name;
          inLeadingText = true;
          handler.open(name, attrs);
        }
      }
    } catch (error) {
      if (final || mark < 0 || !(error instanceof DecodeError) || !markupIncomplete(src, mark)) {
        failBase = 0;
        throw error;
      }
      i = mark;
    } finally {
      this.#depth = depth;
      this.#rootSeen = rootSeen;
      this.#inLeadingText = inLeadingText;
    }
    failBase = 0;
    this.#pending = i < len ? src.slice(i) : '';
    this.#base += i;
  }
}

/**
 * Reads a whole document and reports it to `handler`. Callers that build their own result from the
 * events (the response decoder) avoid the intermediate tree {@link parseXml} builds, which halves the
 * garbage produced for a large response.
 *
 * @throws DecodeError when the text is not well-formed XML, holds a DOCTYPE, or nests deeper than
 *   {@link MAX_DEPTH}; a handler's own errors propagate unchanged
 */
export function scanXml(src: string, handler: XmlHandler): void {
  new XmlScanner(handler).end(src);
}

/** Builds the element tree for {@link parseXml}. */
class TreeBuilder implements XmlHandler {
  root: XmlElement | undefined;
  readonly #stack: XmlElement[] = [];

  open(name: string, attrs: string[] | undefined): void {
    const element: XmlElement = { name, attrs, children: undefined, text: '' };
    const parent = this.#stack[this.#stack.length - 1];
    if (parent === undefined) this.root = element;
    else if (parent.children === undefined) parent.children = [element];
    else parent.children.push(element);
    this.#stack.push(element);
  }

  text(text: string): void {
    const current = this.#stack[this.#stack.length - 1]!;
    current.text += text;
  }

  close(): void {
    this.#stack.pop();
  }
}

/**
 * Parses a whole document into an element tree and returns its root element.
 *
 * @throws DecodeError when the text is not well-formed XML, holds a DOCTYPE, or nests deeper than
 *   {@link MAX_DEPTH}
 */
export function parseXml(src: string): XmlElement {
  const builder = new TreeBuilder();
  scanXml(src, builder);
  return builder.root!;
}

/** The part of a qualified name after the prefix: `soapenv:Body` -> `Body`. */
export function localName(name: string): string {
  const colon = name.indexOf(':');
  return colon < 0 ? name : name.slice(colon + 1);
}
