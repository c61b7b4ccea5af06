/**
 * Writes vim25 SOAP requests from plain JS values, driven by the schema: elements come out in schema
 * order whatever the JS key order (real vCenter rejects out-of-order elements; vcsim does not check),
 * polymorphic values carry `xsi:type`, and anything the schema does not allow is refused before it
 * reaches the server, with the path of the offending value.
 */
import { EncodeError } from './errors.ts';
import { escapeXml } from './escape.ts';
import { ManagedObjectReference } from './moref.ts';
import {
  hasType,
  isEnum,
  isSubtypeOf,
  method,
  type SchemaField,
  typeInfo,
  XSD_PRIMITIVES,
} from './schema.ts';

/**
 * A value for an `anyType` field (such as `OptionValue.value`) with its XML type spelled out, for
 * when the JS type alone does not say it: an `int` rather than a `long`, or an enum value.
 */
export class TypedValue {
  /** XML type: an XSD primitive (`xsd:int`, `int`) or a vim25 enum name. */
  readonly xsdType: string;
  /** The value, written as that type. */
  readonly value: string | number | boolean;

  /**
   * @param xsdType - an XSD primitive (`xsd:int` or `int`) or a vim25 enum type name
   * @param value - the value, checked against that type when the request is encoded
   */
  constructor(xsdType: string, value: string | number | boolean) {
    this.xsdType = xsdType;
    this.value = value;
  }
}

/**
 * Wraps a value for an `anyType` field with an explicit XML type, e.g.
 * `{ key: 'x', value: typed('xsd:int', 3) }`. Without it a JS string is sent as `xsd:string`, a
 * boolean as `xsd:boolean`, an integer as `xsd:long` and another number as `xsd:double`.
 */
export function typed(xsdType: string, value: string | number | boolean): TypedValue {
  return new TypedValue(xsdType, value);
}

const ENVELOPE_START =
  '<?xml version="1.0" encoding="UTF-8"?>\n<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>';
const ENVELOPE_END = '</soapenv:Body></soapenv:Envelope>';

const INTEGER_RANGES: Record<string, readonly [number, number]> = {
  byte: [-128, 127],
  short: [-32768, 32767],
  int: [-2147483648, 2147483647],
  long: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};
const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;
// xsd:dateTime as vCenter accepts it: date, time, optional fraction, optional zone.
const DATE_TIME = /^-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$/;

/**
 * Builds the SOAP 1.1 envelope for a vim25 call.
 *
 * @param methodName - vim25 method, e.g. `RetrievePropertiesEx`
 * @param params - parameters by name; `_this` is the target {@link ManagedObjectReference}. Data
 *   objects are plain objects, `_type` naming a subtype of the declared type when it differs.
 *   `undefined`/`null` parameters and fields are omitted.
 * @returns the whole request body, ready to POST
 * @throws EncodeError for an unknown method, parameter, field or type, a `_type` that is not a
 *   subtype of the declared type, or a JS value of the wrong kind
 * @throws InvalidXmlCharacterError for a string XML 1.0 cannot carry
 */
export function encodeRequest(methodName: string, params: Record<string, unknown>): string {
  const m = method(methodName);
  if (m === undefined) throw new EncodeError(methodName, 'unknown vim25 method (not in the codec schema)');
  if (params === null || typeof params !== 'object')
    throw new EncodeError(methodName, 'params must be an object');
  for (const key of Object.keys(params)) {
    if (!m.params.some((p) => p.name === key)) {
      throw new EncodeError(
        `${methodName}.${key}`,
        `unknown parameter (expected one of ${m.params.map((p) => p.name).join(', ')})`,
      );
    }
  }
  if (params._this == null)
    throw new EncodeError(`${methodName}._this`, 'the target object reference is required');
  let out = `${ENVELOPE_START}<${methodName} xmlns="urn:vim25">`;
  for (const p of m.params) {
    const value = params[p.name];
    if (value != null) out += encodeField(p, value, `${methodName}.${p.name}`);
  }
  return `${out}</${methodName}>${ENVELOPE_END}`;
}

function encodeField(field: SchemaField, value: unknown, path: string): string {
  if (!field.array) return encodeValue(field.name, field.type, value, path);
  if (!Array.isArray(value))
    throw new EncodeError(path, `expected an array of ${field.type}, got ${describe(value)}`);
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i];
    if (item == null) throw new EncodeError(`${path}[${i}]`, `array items cannot be ${item}`);
    out += encodeValue(field.name, field.type, item, `${path}[${i}]`);
  }
  return out;
}

/** Writes one element `<name>` holding `value` declared as `type`. */
function encodeValue(name: string, type: string, value: unknown, path: string): string {
  if (type === 'anyType') return encodeAny(name, value, path);
  if (type === 'ManagedObjectReference') return encodeMoRef(name, value, path, '');
  if (XSD_PRIMITIVES.has(type)) return `<${name}>${primitiveText(type, value, path)}</${name}>`;
  if (isEnum(type)) return `<${name}>${primitiveText('string', value, path)}</${name}>`;
  return encodeObject(name, type, value, path);
}

function encodeObject(name: string, declared: string, value: unknown, path: string): string {
  if (
    value === null ||
    typeof value !== 'object' ||
    Array.isArray(value) ||
    value instanceof ManagedObjectReference
  ) {
    throw new EncodeError(path, `expected a ${declared} object, got ${describe(value)}`);
  }
  const record = value as Record<string, unknown>;
  const runtime = record._type ?? declared;
  if (typeof runtime !== 'string')
    throw new EncodeError(`${path}._type`, `expected a type name, got ${describe(runtime)}`);
  const info = typeInfo(runtime);
  if (info === undefined) {
    throw new EncodeError(
      path,
      hasType(declared) || runtime !== declared
        ? `unknown type ${runtime} (not in the codec schema)`
        : `type ${declared} is not in the codec schema`,
    );
  }
  if (!isSubtypeOf(runtime, declared))
    throw new EncodeError(path, `${runtime} is not a subtype of ${declared}`);
  for (const key of Object.keys(record)) {
    if (key !== '_type' && info.field(key) === undefined) {
      throw new EncodeError(`${path}.${key}`, `unknown field of ${runtime}`);
    }
  }
  let out = runtime === declared ? `<${name}>` : `<${name} xsi:type="${runtime}">`;
  for (const field of info.fields) {
    const fieldValue = record[field.name];
    if (fieldValue != null) out += encodeField(field, fieldValue, `${path}.${field.name}`);
  }
  return `${out}</${name}>`;
}

function encodeMoRef(name: string, value: unknown, path: string, extraAttrs: string): string {
  let type: unknown;
  let ref: unknown;
  let serverGuid: unknown;
  if (value instanceof ManagedObjectReference) {
    ({ type, value: ref, serverGuid } = value);
  } else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    // A plain `{ type, value }` (e.g. from JSON) is accepted as well as the class.
    ({ type, value: ref, serverGuid } = value as Record<string, unknown>);
  }
  if (typeof type !== 'string' || typeof ref !== 'string') {
    throw new EncodeError(path, `expected a ManagedObjectReference, got ${describe(value)}`);
  }
  const guid =
    typeof serverGuid === 'string' ? ` serverGuid="${escapeXml(serverGuid, `${path}.serverGuid`)}"` : '';
  return `<${name} type="${escapeXml(type, `${path}.type`)}"${guid}${extraAttrs}>${escapeXml(ref, path)}</${name}>`;
}

/** `anyType`: the XML type comes from the JS value (or a {@link typed} wrapper) and is always sent. */
function encodeAny(name: string, value: unknown, path: string): string {
  if (value instanceof TypedValue) {
    const t = value.xsdType.startsWith('xsd:') ? value.xsdType.slice(4) : value.xsdType;
    if (XSD_PRIMITIVES.has(t) && t !== 'anyType') {
      return `<${name} xsi:type="xsd:${t}">${primitiveText(t, value.value, path)}</${name}>`;
    }
    if (isEnum(t) || (!hasType(t) && /^[A-Z]\w*$/.test(t))) {
      // Enum values are strings typed by the enum's name; an enum the schema does not list is still
      // written, since the server knows it.
      return `<${name} xsi:type="${t}">${primitiveText('string', value.value, path)}</${name}>`;
    }
    throw new EncodeError(path, `typed(): ${value.xsdType} is not an XSD primitive or an enum type`);
  }
  switch (typeof value) {
    case 'string':
      return `<${name} xsi:type="xsd:string">${escapeXml(value, path)}</${name}>`;
    case 'boolean':
      return `<${name} xsi:type="xsd:boolean">${value}</${name}>`;
    case 'bigint':
      return `<${name} xsi:type="xsd:long">${primitiveText('long', value, path)}</${name}>`;
    case 'number':
      return Number.isInteger(value)
        ? `<${name} xsi:type="xsd:long">${primitiveText('long', value, path)}</${name}>`
        : `<${name} xsi:type="xsd:double">${primitiveText('double', value, path)}</${name}>`;
    default:
      break;
  }
  if (value instanceof Date)
    return `<${name} xsi:type="xsd:dateTime">${primitiveText('dateTime', value, path)}</${name}>`;
  if (value instanceof ManagedObjectReference) {
    return encodeMoRef(name, value, path, ' xsi:type="ManagedObjectReference"');
  }
  if (Array.isArray(value)) return encodeAnyArray(name, value, path);
  if (value !== null && typeof value === 'object') {
    const t = (value as Record<string, unknown>)._type;
    if (typeof t !== 'string') throw new EncodeError(path, 'an object in an anyType field needs a _type');
    if (t === 'ManagedObjectReference')
      return encodeMoRef(name, value, path, ' xsi:type="ManagedObjectReference"');
    // Declared as `anyType`, so the runtime type always differs and xsi:type is always written.
    return encodeObject(name, 'anyType', value, path);
  }
  throw new EncodeError(path, `cannot write ${describe(value)} as anyType`);
}

/** A JS array in an `anyType` field becomes a boxed `ArrayOfX`. */
function encodeAnyArray(name: string, items: unknown[], path: string): string {
  let itemType: string | undefined;
  let itemName: string | undefined;
  const first = items[0];
  if (items.every((v) => typeof v === 'string')) [itemType, itemName] = ['string', 'string'];
  else if (items.every((v) => typeof v === 'boolean')) [itemType, itemName] = ['boolean', 'boolean'];
  else if (items.every((v) => typeof v === 'bigint' || Number.isInteger(v)))
    [itemType, itemName] = ['long', 'long'];
  else if (items.every((v) => typeof v === 'number')) [itemType, itemName] = ['double', 'double'];
  else if (items.every((v) => v instanceof ManagedObjectReference)) {
    [itemType, itemName] = ['ManagedObjectReference', 'ManagedObjectReference'];
  } else if (first !== null && typeof first === 'object') {
    const t = (first as Record<string, unknown>)._type;
    if (typeof t === 'string' && items.every((v) => (v as Record<string, unknown> | null)?._type === t)) {
      [itemType, itemName] = [t, t];
    }
  }
  if (items.length === 0 || itemType === undefined || itemName === undefined) {
    throw new EncodeError(
      path,
      'an array in an anyType field must be non-empty and hold one kind of value (strings, booleans, integers, numbers, MoRefs, or objects of one _type)',
    );
  }
  const boxed = `ArrayOf${itemType.charAt(0).toUpperCase()}${itemType.slice(1)}`;
  let out = `<${name} xsi:type="${boxed}">`;
  for (let i = 0; i < items.length; i++) out += encodeValue(itemName, itemType, items[i], `${path}[${i}]`);
  return `${out}</${name}>`;
}

/** Text of a primitive value, checked against its XML type. */
function primitiveText(type: string, value: unknown, path: string): string {
  switch (type) {
    case 'string':
    case 'anyURI':
      if (typeof value !== 'string') break;
      return escapeXml(value, path);
    case 'boolean':
      if (typeof value !== 'boolean') break;
      return value ? 'true' : 'false';
    case 'byte':
    case 'short':
    case 'int':
    case 'long': {
      if (typeof value === 'bigint' && type === 'long') {
        if (value < LONG_MIN || value > LONG_MAX)
          throw new EncodeError(path, `${value} is out of range for long`);
        return value.toString();
      }
      if (typeof value !== 'number') break;
      if (!Number.isInteger(value))
        throw new EncodeError(path, `expected an integer (${type}), got ${value}`);
      const [min, max] = INTEGER_RANGES[type] ?? [0, 0];
      if (value < min || value > max) {
        throw new EncodeError(
          path,
          `${value} is out of range for ${type}${type === 'long' ? ' (pass a bigint past 2^53)' : ''}`,
        );
      }
      return String(value);
    }
    case 'float':
    case 'double':
      if (typeof value !== 'number') break;
      if (!Number.isFinite(value))
        throw new EncodeError(path, `expected a finite number (${type}), got ${value}`);
      return String(value);
    case 'dateTime':
      if (value instanceof Date) {
        if (Number.isNaN(value.getTime())) throw new EncodeError(path, 'invalid Date');
        return value.toISOString();
      }
      if (typeof value !== 'string') break;
      if (!DATE_TIME.test(value))
        throw new EncodeError(path, `expected an ISO 8601 date-time, got ${JSON.stringify(value)}`);
      return value;
    case 'base64Binary':
      if (value instanceof Uint8Array)
        return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
      if (typeof value !== 'string') break;
      if (!/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(value))
        throw new EncodeError(path, 'expected base64 text or bytes');
      return value;
    default:
      throw new EncodeError(path, `cannot write a value of type ${type}`);
  }
  throw new EncodeError(path, `expected ${expected(type)}, got ${describe(value)}`);
}

function expected(type: string): string {
  switch (type) {
    case 'boolean':
      return 'a boolean';
    case 'dateTime':
      return 'a Date or an ISO 8601 string';
    case 'base64Binary':
      return 'a Uint8Array or base64 string';
    case 'string':
    case 'anyURI':
      return 'a string';
    default:
      return `a number (${type})`;
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof ManagedObjectReference) return `a ManagedObjectReference (${value})`;
  // Strings are not quoted: the value could be a secret (a password in the wrong field).
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}
