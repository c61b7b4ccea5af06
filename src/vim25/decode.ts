/**
 * Reads vim25 SOAP responses into plain JS values, driven by the schema: the declared type of each
 * element (or its `xsi:type`, which wins) decides whether it is a number, a boolean, a string, a
 * {@link ManagedObjectReference}, an array or a typed object. Types the schema does not describe are
 * decoded generically, so a newer server's extra fields or types are kept, never dropped or fatal.
 */
import { DecodeError } from './errors.ts';
import { type VimFault, vimFaultFromDetail } from './fault.ts';
import { ManagedObjectReference } from './moref.ts';
import { isEnum, method, type SchemaType, typeInfo, XSD_PRIMITIVES } from './schema.ts';
import { localName, parseXml, type XmlElement } from './xml.ts';

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

const utf8 = new TextDecoder('utf-8', { fatal: true });

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
  const body = soapBody(xml);
  const payload = firstChild(body);
  if (payload === undefined) throw new DecodeError('the SOAP Body is empty');
  const payloadName = localName(payload.name);
  if (payloadName === 'Fault') throw faultFromSoap(payload);
  if (payloadName !== `${methodName}Response`) {
    throw new DecodeError(`expected <${methodName}Response> in the SOAP Body, got <${payload.name}>`);
  }
  const returns = method(methodName)?.returns;
  const values: unknown[] = [];
  for (const child of payload.children ?? []) {
    if (localName(child.name) === 'returnval') values.push(decodeElement(child, returns?.type));
  }
  if (returns === undefined) return values.length > 1 ? values : values[0];
  return returns.array ? values : values[0];
}

/**
 * Decodes one element as a value of `declaredType` (its `xsi:type` wins); with no type known the
 * element is decoded generically. Exposed for callers that hold a fragment, e.g. tests.
 */
export function decodeElement(element: XmlElement, declaredType: string | undefined): unknown {
  const xsiType = xsiTypeOf(element);
  const type = xsiType ?? declaredType;
  if (type === undefined || type === 'anyType') return decodeGeneric(element, undefined);
  if (type === 'ManagedObjectReference') return toMoRef(element);
  if (XSD_PRIMITIVES.has(type)) return decodePrimitive(type, element.text);
  const info = typeInfo(type);
  if (info !== undefined) return decodeObject(element, info);
  if (type.startsWith('ArrayOf')) return decodeArrayOf(element, type.slice(7));
  if (isEnum(type)) return element.text;
  // A subtype this schema does not know (a newer server): the declared type still describes the
  // inherited fields, so decode by it and keep the real type name.
  const declared = xsiType !== undefined && declaredType !== undefined ? typeInfo(declaredType) : undefined;
  if (declared !== undefined && (element.children !== undefined || element.text === '')) {
    const out = decodeObject(element, declared);
    out._type = type;
    return out;
  }
  return decodeGeneric(element, type);
}

function decodeObject(element: XmlElement, info: SchemaType): DecodedObject {
  const out: DecodedObject = { _type: info.name };
  const children = element.children;
  if (children === undefined) return out;
  for (const child of children) {
    const name = localName(child.name);
    const field = info.field(name);
    if (field === undefined) {
      // A field this schema does not know (a newer API, another vendor): keep it, generically.
      addRepeatable(out, name, decodeElement(child, undefined));
    } else if (field.array) {
      const list = out[name];
      const value = decodeElement(child, field.type);
      if (Array.isArray(list)) list.push(value);
      else out[name] = [value];
    } else {
      addRepeatable(out, name, decodeElement(child, field.type));
    }
  }
  return out;
}

// Arrays made by addRepeatable, so that a field whose single value is itself an array (a generic
// ArrayOf) is not mistaken for one of them.
const repeatedLists = new WeakSet<unknown[]>();

/** Sets a field, turning it into an array if the element unexpectedly repeats (keeps every value). */
function addRepeatable(out: DecodedObject, name: string, value: unknown): void {
  if (!Object.hasOwn(out, name)) {
    out[name] = value;
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

function decodeArrayOf(element: XmlElement, boxed: string): unknown[] {
  const itemType = BOXED_PRIMITIVES[boxed] ?? boxed;
  const children = element.children;
  if (children === undefined) return [];
  const out = new Array<unknown>(children.length);
  for (let i = 0; i < children.length; i++) out[i] = decodeElement(children[i]!, itemType);
  return out;
}

/**
 * Without a schema type: children become fields (repeated ones arrays), a leaf with a `type`
 * attribute is a MoRef, any other leaf is its text. An xsi:type is kept as `_type`.
 */
function decodeGeneric(element: XmlElement, type: string | undefined): unknown {
  const children = element.children;
  if (children === undefined) {
    if (element.attrs !== undefined && attributeType(element) !== undefined) return toMoRef(element);
    // A typed element with no content is an object with no fields set (e.g. an unknown fault type).
    if (type !== undefined && element.text === '') return { _type: type };
    return element.text;
  }
  const out: DecodedObject = type === undefined ? {} : { _type: type };
  for (const child of children) addRepeatable(out, localName(child.name), decodeElement(child, undefined));
  return out;
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

function toMoRef(element: XmlElement): ManagedObjectReference {
  return new ManagedObjectReference(
    attributeType(element) ?? '',
    element.text,
    attributeValue(element, 'serverGuid'),
  );
}

function attributeValue(element: XmlElement, name: string): string | undefined {
  const attrs = element.attrs;
  if (attrs === undefined) return undefined;
  for (let a = 0; a < attrs.length; a += 2) if (attrs[a] === name) return attrs[a + 1];
  return undefined;
}

/** The unprefixed `type` attribute: in vim25 only a MoRef has one. */
function attributeType(element: XmlElement): string | undefined {
  return attributeValue(element, 'type');
}

/**
 * The element's xsi:type, local part only (`xsd:string` -> `string`). Any prefixed attribute whose
 * local name is `type` counts: vcsim declares its own prefix for nested values
 * (`XMLSchema-instance:type`), so matching the literal `xsi:` would miss them.
 */
function xsiTypeOf(element: XmlElement): string | undefined {
  const attrs = element.attrs;
  if (attrs === undefined) return undefined;
  for (let a = 0; a < attrs.length; a += 2) {
    const name = attrs[a]!;
    const colon = name.indexOf(':');
    if (colon > 0 && name.endsWith(':type') && name.length === colon + 5 && !name.startsWith('xmlns:')) {
      const value = attrs[a + 1]!;
      const c = value.indexOf(':');
      return c < 0 ? value : value.slice(c + 1);
    }
  }
  return undefined;
}

function firstChild(element: XmlElement): XmlElement | undefined {
  return element.children?.[0];
}

function childNamed(element: XmlElement, local: string): XmlElement | undefined {
  for (const child of element.children ?? []) if (localName(child.name) === local) return child;
  return undefined;
}

/** Parses the document and returns the SOAP Body element. */
function soapBody(xml: string | Buffer | Uint8Array): XmlElement {
  let text: string;
  if (typeof xml === 'string') text = xml;
  else if (xml instanceof Uint8Array) {
    try {
      text = utf8.decode(xml);
    } catch (error) {
      throw new DecodeError('the response is not valid UTF-8', { cause: error });
    }
  } else {
    throw new DecodeError(`expected a string or bytes, got ${xml === null ? 'null' : typeof xml}`);
  }
  const root = parseXml(text);
  if (localName(root.name) !== 'Envelope')
    throw new DecodeError(`not a SOAP envelope: the root element is <${root.name}>`);
  const body = childNamed(root, 'Body');
  if (body === undefined) throw new DecodeError('not a SOAP envelope: no Body');
  return body;
}

/**
 * Builds the {@link VimFault} for a SOAP 1.1 `Fault` (`faultcode`, `faultstring`, `detail`); SOAP 1.2
 * (`Code`, `Reason/Text`, `Detail`) is read too.
 */
function faultFromSoap(fault: XmlElement): VimFault {
  const faultString = (
    childNamed(fault, 'faultstring') ?? childNamed(childNamed(fault, 'Reason') ?? fault, 'Text')
  )?.text;
  const faultCode =
    childNamed(fault, 'faultcode')?.text ?? childNamed(childNamed(fault, 'Code') ?? fault, 'Value')?.text;
  const detailHolder = childNamed(fault, 'detail') ?? childNamed(fault, 'Detail');
  const detailElement = detailHolder ? firstChild(detailHolder) : undefined;
  let detail: unknown;
  if (detailElement !== undefined) {
    // vCenter wraps the fault in `<XFault xsi:type="X">`; without an xsi:type the element name says it.
    const name = localName(detailElement.name);
    const byName = name.endsWith('Fault') && typeInfo(name.slice(0, -5)) ? name.slice(0, -5) : name;
    detail = decodeElement(detailElement, byName);
  }
  return vimFaultFromDetail(detail, faultString ?? '', faultCode);
}
