/**
 * Reads vim25 SOAP responses into plain JS values, driven by the schema: the declared type of each
 * element (or its `xsi:type`, which wins) decides whether it is a number, a boolean, a string, a
 * {@link ManagedObjectReference}, an array or a typed object. Types the schema does not describe are
 * decoded generically, so a newer server's extra fields or types are kept, never dropped or fatal.
 *
 * Values are built straight from the XML reader's events, without an intermediate element tree: on a
 * 2,000-VM RetrievePropertiesEx that tree was half of all the garbage the decode produced.
 */
import { DecodeError } from './errors.ts';
import { type VimFault, vimFaultFromDetail } from './fault.ts';
import { ManagedObjectReference } from './moref.ts';
import { hasType, isEnum, method, type SchemaType, typeInfo, XSD_PRIMITIVES } from './schema.ts';
import { localName, type XmlElement, type XmlHandler, XmlScanner } from './xml.ts';

/** A decoded data object: `_type` names its runtime type, the other keys are its fields. */
export type DecodedObject = { _type?: string } & Record<string, unknown>;

// `ArrayOfX` boxes primitives with a capitalised name (`ArrayOfString` holds `<string>` items).
const BOXED_PRIMITIVES: Record<string, string> = {
  String: 'string',
  Boolean: 'boolean',
  Byte: 'byte',
  Short: 'short',
  Int: 'int',
  Long: 'long',
  Float: 'float',
  Double: 'double',
  DateTime: 'dateTime',
  Base64Binary: 'base64Binary',
  AnyURI: 'anyURI',
  Uri: 'anyURI',
  AnyType: 'anyType',
};
const INTEGER_TYPES = new Set(['byte', 'short', 'int', 'long']);
const INTEGER_TEXT = /^[+-]?\d+$/;
const FLOAT_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

// What an open element is. Envelope machinery first, then the kinds of values.
const SKIP = 0;
const ENVELOPE = 1;
const BODY = 2;
const RESPONSE = 3;
const PRIMITIVE = 4;
const MOREF = 5;
const OBJECT = 6;
const ARRAY = 7;
const GENERIC = 8;

/** State of one open element; reused across elements at the same depth. */
class Frame {
  mode = SKIP;
  /** Local name: the field it sets in its parent. */
  key = '';
  /** PRIMITIVE: the XML type; OBJECT/GENERIC: the runtime type name (`_type`). */
  type: string | undefined = undefined;
  /** OBJECT: the schema type describing its fields. */
  info: SchemaType | undefined = undefined;
  /** ARRAY: the type of the items. */
  itemType = '';
  /** OBJECT/GENERIC: the object being built; ARRAY: the items. */
  value: DecodedObject | unknown[] | undefined = undefined;
  /** The field is declared as repeating in the parent's type. */
  repeats = false;
  text = '';
  hasChildren = false;
  attrs: string[] | undefined = undefined;
  /** OBJECT decoded by its declared type because its xsi:type is not in the schema. */
  fallback = false;
  /** The SOAP Fault element, whose `detail` children are typed by their names. */
  faultRoot = false;
  /** A SOAP `detail`: children are faults typed by name (`DuplicateNameFault` -> `DuplicateName`). */
  typesChildrenByName = false;
  /** A `returnval`: its items named by the item sink go to the sink. */
  isReturn = false;
}

/**
 * Takes the items of one field of the returned value as they are decoded, instead of collecting
 * them in the result: the `objects` of a RetrievePropertiesEx can then be used and dropped one by
 * one while the body is still arriving.
 */
export interface ReturnItemSink {
  /** The field of the returned object whose items are handed over, e.g. `objects`. */
  readonly field: string;
  /** Receives each item as soon as its element closes; it is not kept in the result. */
  item(value: unknown): void;
}

/** Builds the result of one response (or one fragment) from the XML reader's events. */
class ResponseDecoder implements XmlHandler {
  readonly #frames: Frame[] = [];
  #depth = 0;
  readonly #responseName: string;
  readonly #returnType: string | undefined;
  readonly #fragment: boolean;
  readonly #sink: ReturnItemSink | undefined;
  #bodySeen = false;
  #payloadSeen = false;
  #fault = false;
  faultValue: unknown;
  readonly values: unknown[] = [];

  /**
   * @param methodName - the method called, or undefined to decode a lone fragment as a returnval
   * @param returnType - the declared type of each returnval
   * @param sink - takes the items of one field of the returnval as they close
   */
  constructor(methodName: string | undefined, returnType: string | undefined, sink?: ReturnItemSink) {
    this.#responseName = methodName === undefined ? '' : `${methodName}Response`;
    this.#returnType = returnType;
    this.#sink = sink;
    this.#fragment = methodName === undefined;
    if (this.#fragment) {
      // A fragment: pretend it is the content of a response whose only child is the returnval.
      const root = new Frame();
      root.mode = RESPONSE;
      this.#frames.push(root);
      this.#depth = 1;
    }
  }

  get bodySeen(): boolean {
    return this.#bodySeen;
  }

  get payloadSeen(): boolean {
    return this.#payloadSeen;
  }

  get fault(): boolean {
    return this.#fault;
  }

  open(name: string, attrs: string[] | undefined): void {
    const depth = this.#depth;
    let frame = this.#frames[depth];
    if (frame === undefined) {
      frame = new Frame();
      this.#frames.push(frame);
    }
    this.#depth = depth + 1;
    frame.text = '';
    frame.hasChildren = false;
    frame.attrs = attrs;
    frame.repeats = false;
    frame.fallback = false;
    frame.faultRoot = false;
    frame.typesChildrenByName = false;
    frame.isReturn = false;
    const local = localName(name);
    frame.key = local;
    const parent = depth > 0 ? this.#frames[depth - 1]! : undefined;
    if (parent === undefined) {
      if (local !== 'Envelope') throw new DecodeError(`not a SOAP envelope: the root element is <${name}>`);
      frame.mode = ENVELOPE;
      return;
    }
    parent.hasChildren = true;
    switch (parent.mode) {
      case SKIP:
        frame.mode = SKIP;
        return;
      case ENVELOPE:
        frame.mode = local === 'Body' && !this.#bodySeen ? BODY : SKIP;
        if (frame.mode === BODY) this.#bodySeen = true;
        return;
      case BODY:
        if (this.#payloadSeen) {
          frame.mode = SKIP;
          return;
        }
        this.#payloadSeen = true;
        if (local === 'Fault') {
          this.#fault = true;
          this.#startValue(frame, undefined, undefined);
          frame.faultRoot = true;
        } else if (local === this.#responseName) {
          frame.mode = RESPONSE;
        } else {
          throw new DecodeError(`expected <${this.#responseName}> in the SOAP Body, got <${name}>`);
        }
        return;
      case RESPONSE:
        if (local === 'returnval' || this.#fragment) {
          this.#startValue(frame, this.#returnType, attrs);
          frame.isReturn = true;
        } else frame.mode = SKIP;
        return;
      case OBJECT: {
        const field = parent.info!.field(local);
        this.#startValue(frame, field?.type, attrs);
        frame.repeats = field?.array === true;
        return;
      }
      case ARRAY:
        this.#startValue(frame, parent.itemType, attrs);
        return;
      case PRIMITIVE:
      case MOREF:
        // Children where text was declared: keep them rather than lose them.
        parent.mode = GENERIC;
        parent.type = undefined;
        break;
      default:
        break;
    }
    // GENERIC parent.
    parent.value ??= parent.type === undefined ? {} : { _type: parent.type };
    this.#startValue(frame, parent.typesChildrenByName ? faultTypeFromName(local) : undefined, attrs);
    if (parent.faultRoot && (local === 'detail' || local === 'Detail')) frame.typesChildrenByName = true;
  }

  /** Sets up `frame` for a value declared as `declared` (its xsi:type wins). */
  #startValue(frame: Frame, declared: string | undefined, attrs: string[] | undefined): void {
    const xsiType = xsiTypeOf(attrs);
    const type = xsiType ?? declared;
    frame.info = undefined;
    frame.value = undefined;
    frame.type = undefined;
    if (type === undefined || type === 'anyType') {
      frame.mode = GENERIC;
    } else if (type === 'ManagedObjectReference') {
      frame.mode = MOREF;
    } else if (XSD_PRIMITIVES.has(type)) {
      frame.mode = PRIMITIVE;
      frame.type = type;
    } else {
      let info = typeInfo(type);
      if (info === undefined && !type.startsWith('ArrayOf') && !isEnum(type) && xsiType !== undefined) {
        // A subtype this schema does not know (a newer server): the declared type still describes
        // the inherited fields, so decode by it and keep the real type name.
        info = declared === undefined ? undefined : typeInfo(declared);
        frame.fallback = info !== undefined;
      }
      if (info !== undefined) {
        frame.mode = OBJECT;
        frame.info = info;
        frame.type = type;
        frame.value = { _type: type };
      } else if (type.startsWith('ArrayOf')) {
        frame.mode = ARRAY;
        const boxed = type.slice(7);
        frame.itemType = BOXED_PRIMITIVES[boxed] ?? boxed;
        frame.value = [];
      } else if (isEnum(type)) {
        frame.mode = PRIMITIVE;
        frame.type = 'string';
      } else {
        frame.mode = GENERIC;
        frame.type = type;
      }
    }
  }

  text(text: string): void {
    const frame = this.#frames[this.#depth - 1]!;
    frame.text = frame.text === '' ? text : frame.text + text;
  }

  close(): void {
    const depth = --this.#depth;
    const frame = this.#frames[depth]!;
    let value: unknown;
    switch (frame.mode) {
      case PRIMITIVE:
        value = decodePrimitive(frame.type!, frame.text);
        break;
      case MOREF:
        value = toMoRef(frame.attrs, frame.text);
        break;
      case OBJECT:
        // Mirrors the generic rule for an unknown typed leaf that carries text: it is that text.
        value = frame.fallback && !frame.hasChildren && frame.text !== '' ? frame.text : frame.value;
        break;
      case ARRAY:
        value = frame.value;
        break;
      case GENERIC:
        if (frame.hasChildren) value = frame.value;
        else if (attributeValue(frame.attrs, 'type') !== undefined) value = toMoRef(frame.attrs, frame.text);
        // A typed element with no content is an object with no fields set (e.g. an empty fault).
        else if (frame.type !== undefined && frame.text === '') value = { _type: frame.type };
        else value = frame.text;
        break;
      default:
        frame.text = '';
        return;
    }
    // Release what the frame held: frames are reused and would otherwise pin the values.
    frame.value = undefined;
    frame.attrs = undefined;
    frame.text = '';
    const parent = this.#frames[depth - 1]!;
    if (parent.isReturn && this.#sink !== undefined && frame.key === this.#sink.field) {
      this.#sink.item(value);
      return;
    }
    switch (parent.mode) {
      case RESPONSE:
        this.values.push(value);
        break;
      case BODY:
        this.faultValue = value;
        break;
      case ARRAY:
        (parent.value as unknown[]).push(value);
        break;
      case OBJECT:
        if (frame.repeats) {
          const object = parent.value as DecodedObject;
          const list = object[frame.key];
          if (Array.isArray(list)) list.push(value);
          else object[frame.key] = [value];
          break;
        }
        addRepeatable(parent.value as DecodedObject, frame.key, value);
        break;
      default:
        addRepeatable(parent.value as DecodedObject, frame.key, value);
        break;
    }
  }
}

/**
 * Decodes the response to a vim25 call.
 *
 * @param xml - the HTTP response body (text or bytes, UTF-8)
 * @param methodName - the method that was called, e.g. `RetrievePropertiesEx`
 * @returns the decoded `returnval`: `undefined` when absent, always an array (possibly empty) when
 *   the method returns an array. A method the schema does not know is decoded generically.
 * @throws VimFault when the body holds a SOAP fault
 * @throws DecodeError when the body is not well-formed XML, holds a DOCTYPE, or is not a SOAP
 *   envelope answering `methodName`
 */
export function decodeResponse(xml: string | Buffer | Uint8Array, methodName: string): unknown {
  const stream = new ResponseStream(methodName);
  if (typeof xml === 'string') return stream.endText(xml);
  if (!(xml instanceof Uint8Array)) {
    throw new DecodeError(`expected a string or bytes, got ${xml === null ? 'null' : typeof xml}`);
  }
  stream.write(xml);
  return stream.end();
}

/**
 * Decodes the response to a vim25 call as its body arrives, piece by piece: the same result and
 * errors as {@link decodeResponse}, without the whole body ever being held as bytes or text.
 * With a {@link ReturnItemSink}, the items of one field of the result are handed over (and
 * released) as each one is decoded.
 */
export class ResponseStream {
  readonly #decoder: ResponseDecoder;
  readonly #scanner: XmlScanner;
  readonly #returns: { type: string; array: boolean } | undefined;
  readonly #utf8 = new TextDecoder('utf-8', { fatal: true });

  /**
   * @param methodName - the method that was called, e.g. `RetrievePropertiesEx`
   * @param sink - takes the items of one field of the returned value as they are decoded
   */
  constructor(methodName: string, sink?: ReturnItemSink) {
    this.#returns = method(methodName)?.returns;
    this.#decoder = new ResponseDecoder(methodName, this.#returns?.type, sink);
    this.#scanner = new XmlScanner(this.#decoder);
  }

  /**
   * Reads the next piece of the body (UTF-8 bytes; a character may be split between pieces).
   *
   * @throws DecodeError as soon as the text read so far is not well-formed or not UTF-8; a sink's
   *   own errors propagate unchanged
   */
  write(bytes: Uint8Array): void {
    this.#scanner.write(this.#text(bytes, true));
  }

  /**
   * Ends the body and returns the decoded `returnval` (as {@link decodeResponse} does; the items
   * given to a sink are not in it).
   *
   * @throws VimFault when the body holds a SOAP fault
   * @throws DecodeError when the body is incomplete, malformed or not the expected response
   */
  end(): unknown {
    return this.endText(this.#text(new Uint8Array(0), false));
  }

  /** Ends the body with its last piece given as text. */
  endText(text: string): unknown {
    this.#scanner.end(text);
    const decoder = this.#decoder;
    if (!decoder.bodySeen) throw new DecodeError('not a SOAP envelope: no Body');
    if (!decoder.payloadSeen) throw new DecodeError('the SOAP Body is empty');
    if (decoder.fault) throw faultFromSoap(decoder.faultValue);
    const values = decoder.values;
    const returns = this.#returns;
    if (returns === undefined) return values.length > 1 ? values : values[0];
    return returns.array ? values : values[0];
  }

  #text(bytes: Uint8Array, more: boolean): string {
    try {
      return this.#utf8.decode(bytes, { stream: more });
    } catch (error) {
      throw new DecodeError('the response is not valid UTF-8', { cause: error });
    }
  }
}

/**
 * Decodes one parsed element as a value of `declaredType` (its `xsi:type` wins); with no type the
 * element is decoded generically. For callers holding a fragment rather than a response.
 */
export function decodeElement(element: XmlElement, declaredType: string | undefined): unknown {
  const decoder = new ResponseDecoder(undefined, declaredType);
  const replay = (e: XmlElement): void => {
    decoder.open(e.name, e.attrs);
    if (e.text !== '') decoder.text(e.text);
    for (const child of e.children ?? []) replay(child);
    decoder.close();
  };
  replay(element);
  return decoder.values[0];
}

// Arrays made by addRepeatable, so that a field whose single value is itself an array (a generic
// ArrayOf) is not mistaken for one of them.
const repeatedLists = new WeakSet<unknown[]>();

/** Sets a field, turning it into an array if the element unexpectedly repeats (keeps every value). */
function addRepeatable(out: DecodedObject, name: string, value: unknown): void {
  if (!Object.hasOwn(out, name)) {
    // An element named __proto__ (only possible in a generic decode) must become a field, not a
    // prototype swap.
    if (name === '__proto__')
      Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
    else out[name] = value;
    return;
  }
  const prior = out[name];
  if (Array.isArray(prior) && repeatedLists.has(prior)) prior.push(value);
  else {
    const list = [prior, value];
    repeatedLists.add(list);
    out[name] = list;
  }
}

function decodePrimitive(type: string, text: string): unknown {
  switch (type) {
    case 'boolean':
      if (text === 'true' || text === '1') return true;
      if (text === 'false' || text === '0') return false;
      return text;
    case 'byte':
    case 'short':
    case 'int':
    case 'long':
    case 'float':
    case 'double':
      return toNumber(type, text);
    default:
      return text;
  }
}

/** A number, a bigint for a `long` past 2^53, or the text itself when it is not a number. */
function toNumber(type: string, text: string): unknown {
  if (INTEGER_TYPES.has(type)) {
    if (!INTEGER_TEXT.test(text)) return text;
    const n = Number(text);
    return Number.isSafeInteger(n) ? n : BigInt(text);
  }
  if (FLOAT_TEXT.test(text)) return Number(text);
  if (text === 'INF') return Number.POSITIVE_INFINITY;
  if (text === '-INF') return Number.NEGATIVE_INFINITY;
  if (text === 'NaN') return Number.NaN;
  return text;
}

function toMoRef(attrs: string[] | undefined, text: string): ManagedObjectReference {
  return new ManagedObjectReference(
    attributeValue(attrs, 'type') ?? '',
    text,
    attributeValue(attrs, 'serverGuid'),
  );
}

/** An attribute by exact name; the unprefixed `type` is a MoRef's (the only one in vim25). */
function attributeValue(attrs: string[] | undefined, name: string): string | undefined {
  if (attrs === undefined) return undefined;
  for (let a = 0; a < attrs.length; a += 2) if (attrs[a] === name) return attrs[a + 1];
  return undefined;
}

/**
 * The xsi:type, local part only (`xsd:string` -> `string`). Any prefixed attribute whose local name
 * is `type` counts: vcsim declares its own prefix for nested values (`XMLSchema-instance:type`), so
 * matching the literal `xsi:` would miss them.
 */
function xsiTypeOf(attrs: string[] | undefined): string | undefined {
  if (attrs === undefined) return undefined;
  for (let a = 0; a < attrs.length; a += 2) {
    const name = attrs[a]!;
    const colon = name.indexOf(':');
    if (colon > 0 && name.length === colon + 5 && name.endsWith(':type') && !name.startsWith('xmlns:')) {
      const value = attrs[a + 1]!;
      const c = value.indexOf(':');
      return c < 0 ? value : value.slice(c + 1);
    }
  }
  return undefined;
}

/** vCenter wraps a fault in `<XFault xsi:type="X">`; without the xsi:type the name says it. */
function faultTypeFromName(name: string): string {
  return name.endsWith('Fault') && hasType(name.slice(0, -5)) ? name.slice(0, -5) : name;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function stringField(record: unknown, name: string): string | undefined {
  const value = isRecord(record) ? record[name] : undefined;
  return typeof value === 'string' ? value : undefined;
}

/**
 * Builds the {@link VimFault} for a decoded SOAP 1.1 `Fault` (`faultcode`, `faultstring`, `detail`);
 * SOAP 1.2 (`Code/Value`, `Reason/Text`, `Detail`) is read too.
 */
function faultFromSoap(fault: unknown): VimFault {
  const f = isRecord(fault) ? fault : {};
  const faultString = stringField(f, 'faultstring') ?? stringField(f.Reason, 'Text') ?? '';
  const faultCode = stringField(f, 'faultcode') ?? stringField(f.Code, 'Value');
  const holder = isRecord(f.detail) ? f.detail : isRecord(f.Detail) ? f.Detail : undefined;
  const detail = holder === undefined ? undefined : Object.values(holder)[0];
  return vimFaultFromDetail(detail, faultString, faultCode);
}
