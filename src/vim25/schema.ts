/**
 * Lookups over the generated vim25 tables. The tables are kept as compact text (one line per type or
 * method) and expanded one entry at a time on first use, so importing the codec costs a string
 * literal, not a thousand object allocations.
 */
import { ENUMS, GOVMOMI_VERSION, METHODS, TYPES, VIM25_VERSION } from './schema.generated.ts';

/** One field (or method parameter) as the schema declares it. */
export interface SchemaField {
  /** XML element name, e.g. `deviceChange` or `_this`. */
  readonly name: string;
  /**
   * XML type name: an XSD primitive (`string`, `int`, `long`, `boolean`, `dateTime`, `anyType`...),
   * `ManagedObjectReference`, an enum name, or a vim25 data type name.
   */
  readonly type: string;
  /** The element repeats (a JS array). */
  readonly array: boolean;
  /** The element may be absent. */
  readonly optional: boolean;
}

/** A vim25 data type. */
export interface SchemaType {
  /** Type name, e.g. `VirtualCdrom`. */
  readonly name: string;
  /** Direct base type, e.g. `VirtualDevice`; undefined for roots such as `DynamicData`. */
  readonly base: string | undefined;
  /** Fields this type adds, in schema order. */
  readonly ownFields: readonly SchemaField[];
  /** All fields in schema order: the base chain's fields first, then this type's own. */
  readonly fields: readonly SchemaField[];
  /** A field by element name, inherited ones included. */
  field(name: string): SchemaField | undefined;
}

/** A vim25 method: its parameters in order (`_this` first) and what it returns. */
export interface SchemaMethod {
  /** Method name as sent on the wire, e.g. `CreateVM_Task`. */
  readonly name: string;
  /** Parameters in schema order. */
  readonly params: readonly SchemaField[];
  /** The `returnval` type; undefined when the method returns nothing. */
  readonly returns: { readonly type: string; readonly array: boolean } | undefined;
}

/** govmomi version the tables were generated from (see `scripts/generate-schema.ts`). */
export const SCHEMA_SOURCE = `govmomi ${GOVMOMI_VERSION}`;

/** The vim25 API version id the schema describes (govmomi's default), e.g. `9.1.0.0`. */
export const SCHEMA_VIM25_VERSION: string = VIM25_VERSION;

/** XSD built-in types vim25 uses; values of these travel as element text. */
export const XSD_PRIMITIVES: ReadonlySet<string> = new Set([
  'string',
  'boolean',
  'byte',
  'short',
  'int',
  'long',
  'float',
  'double',
  'dateTime',
  'base64Binary',
  'anyURI',
  'anyType',
]);

/** Splits a table into `name -> line` without parsing the lines. */
function indexLines(table: string): Map<string, string> {
  const index = new Map<string, string>();
  let start = 0;
  while (start < table.length) {
    let end = table.indexOf('\n', start);
    if (end < 0) end = table.length;
    let nameEnd = start;
    while (nameEnd < end) {
      const c = table.charCodeAt(nameEnd);
      if (c === 32 /* space */ || c === 60 /* < */) break;
      nameEnd++;
    }
    index.set(table.slice(start, nameEnd), table.slice(start, end));
    start = end + 1;
  }
  return index;
}

/** Parses `name:Type+?` (`+` repeats, `?` optional). */
function parseField(token: string): SchemaField {
  const colon = token.indexOf(':');
  let end = token.length;
  let optional = false;
  let array = false;
  if (token.charCodeAt(end - 1) === 63 /* ? */) {
    optional = true;
    end--;
  }
  if (token.charCodeAt(end - 1) === 43 /* + */) {
    array = true;
    end--;
  }
  return Object.freeze({ name: token.slice(0, colon), type: token.slice(colon + 1, end), array, optional });
}

class TypeEntry implements SchemaType {
  readonly name: string;
  readonly base: string | undefined;
  readonly ownFields: readonly SchemaField[];
  #fields: readonly SchemaField[] | undefined;
  #byName: Map<string, SchemaField> | undefined;

  constructor(line: string) {
    const tokens = line.split(' ');
    const head = tokens[0] ?? '';
    const lt = head.indexOf('<');
    this.name = lt < 0 ? head : head.slice(0, lt);
    this.base = lt < 0 ? undefined : head.slice(lt + 1);
    this.ownFields = Object.freeze(tokens.slice(1).map(parseField));
  }

  get fields(): readonly SchemaField[] {
    if (this.#fields === undefined) {
      const base = this.base === undefined ? undefined : typeInfo(this.base);
      this.#fields = Object.freeze(base ? [...base.fields, ...this.ownFields] : this.ownFields);
    }
    return this.#fields;
  }

  field(name: string): SchemaField | undefined {
    if (this.#byName === undefined) {
      this.#byName = new Map();
      for (const f of this.fields) this.#byName.set(f.name, f);
    }
    return this.#byName.get(name);
  }
}

let typeLines: Map<string, string> | undefined;
let methodLines: Map<string, string> | undefined;
let enumNames: Set<string> | undefined;
const typeCache = new Map<string, TypeEntry>();
const methodCache = new Map<string, SchemaMethod>();

/** The data type called `name`, or undefined when the schema does not describe it. */
export function typeInfo(name: string): SchemaType | undefined {
  const cached = typeCache.get(name);
  if (cached) return cached;
  typeLines ??= indexLines(TYPES);
  const line = typeLines.get(name);
  if (line === undefined) return undefined;
  const entry = new TypeEntry(line);
  typeCache.set(name, entry);
  return entry;
}

/** True when the schema describes data type `name` (not a primitive, enum or MoRef). */
export function hasType(name: string): boolean {
  typeLines ??= indexLines(TYPES);
  return typeLines.has(name);
}

/** All fields of `type` in schema order (base type's first), or undefined for an unknown type. */
export function fieldsOf(type: string): readonly SchemaField[] | undefined {
  return typeInfo(type)?.fields;
}

/** The declaration of `field` in `type` (inherited fields included), or undefined. */
export function fieldType(type: string, field: string): SchemaField | undefined {
  return typeInfo(type)?.field(field);
}

/** Direct base type of `type`, or undefined. */
export function baseOf(type: string): string | undefined {
  return typeInfo(type)?.base;
}

/**
 * True when `type` is `base` or derives from it per the schema (`InvalidPowerState` is an
 * `InvalidState`; every fault is a `MethodFault`). Everything is an `anyType`.
 */
export function isSubtypeOf(type: string, base: string): boolean {
  if (type === base || base === 'anyType') return true;
  for (let t = baseOf(type); t !== undefined; t = baseOf(t)) if (t === base) return true;
  return false;
}

/** True for a vim25 enumeration type (its values travel as strings). */
export function isEnum(name: string): boolean {
  enumNames ??= new Set(ENUMS.split(' '));
  return enumNames.has(name);
}

/** The method called `name`, or undefined when the schema does not describe it. */
export function method(name: string): SchemaMethod | undefined {
  const cached = methodCache.get(name);
  if (cached) return cached;
  methodLines ??= indexLines(METHODS);
  const line = methodLines.get(name);
  if (line === undefined) return undefined;
  const tokens = line.split(' ');
  const last = tokens[tokens.length - 1] ?? '';
  let returns: SchemaMethod['returns'];
  if (last.startsWith('=')) {
    tokens.pop();
    const array = last.endsWith('+');
    returns = Object.freeze({ type: last.slice(1, array ? -1 : undefined), array });
  }
  const entry: SchemaMethod = Object.freeze({
    name,
    params: Object.freeze(tokens.slice(1).map(parseField)),
    returns,
  });
  methodCache.set(name, entry);
  return entry;
}

/** Names of every data type in the schema, sorted. */
export function typeNames(): string[] {
  typeLines ??= indexLines(TYPES);
  return [...typeLines.keys()];
}

/** Names of every method in the schema, sorted. */
export function methodNames(): string[] {
  methodLines ??= indexLines(METHODS);
  return [...methodLines.keys()];
}
