/**
 * Validation of the InfraKit instance `Spec` and of tag maps (describe / label inputs).
 * Also the small message helpers properties.ts shares: type names, value previews, field paths.
 *
 * Pure: no I/O.
 */

import { ValidationError, type ValidationIssue } from '../errors.ts';
import type { Attachment, InstanceSpec, JsonValue } from '../spi/instance.ts';
import { describeCharAt, findControlChar, findXmlInvalidChar } from './annotation.ts';

/** At most this many issues are reported; the last one says how many more were found. */
export const MAX_REPORTED_ISSUES = 50;

/** Deepest nesting accepted in `Properties` (JSON from InfraKit templates is shallow). */
export const MAX_JSON_DEPTH = 64;

/** JSON type name of a value, for messages: `null`, `array`, `object`, `string`, `number`, ... */
export function describeJsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/**
 * A short, single-line preview of a value for messages: JSON, truncated to about `max`
 * characters so a huge value is never echoed.
 */
export function previewValue(value: unknown, max = 60): string {
  let text: string;
  if (typeof value === 'string') text = JSON.stringify(value);
  else if (typeof value === 'number' || typeof value === 'boolean' || value === null) text = String(value);
  else text = describeJsonType(value);
  if (text.length <= max) return text;
  // Do not cut a surrogate pair in half.
  let end = max - 1;
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}

const PLAIN_KEY = /^[A-Za-z0-9_][A-Za-z0-9_.\-/:]{0,59}$/;

/** `parent.key`, or `parent["odd key"]` (truncated) when the key is not plain. */
export function fieldPath(parent: string, key: string): string {
  if (PLAIN_KEY.test(key)) return `${parent}.${key}`;
  return `${parent}[${previewValue(key, 40)}]`;
}

/** Is `value` a plain JSON-like object (not null, not an array, not a class instance)? */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Throws a ValidationError with at most {@link MAX_REPORTED_ISSUES} issues. */
export function throwIssues(issues: readonly ValidationIssue[], context: string): never {
  if (issues.length <= MAX_REPORTED_ISSUES) throw new ValidationError(issues, context);
  const shown = issues.slice(0, MAX_REPORTED_ISSUES - 1);
  const hidden = issues.length - shown.length;
  throw new ValidationError(
    [...shown, { field: '(more)', message: `${hidden} more problems not listed` }],
    context,
  );
}

function textIssue(value: string): string | undefined {
  const bad = findXmlInvalidChar(value);
  if (bad < 0) return undefined;
  return `contains ${describeCharAt(value, bad)} at index ${bad}, which XML 1.0 (and so vSphere) cannot carry`;
}

/** Collects the problems of a tag map into `issues`; returns the tags (a fresh object). */
function collectTags(raw: unknown, field: string, issues: ValidationIssue[]): Record<string, string> {
  if (raw === undefined || raw === null) return {};
  if (!isPlainObject(raw)) {
    issues.push({ field, message: `expected an object of string to string, got ${describeJsonType(raw)}` });
    return {};
  }
  const entries: [string, string][] = [];
  for (const key of Object.keys(raw)) {
    const path = fieldPath(field, key);
    const value = raw[key];
    let ok = true;
    if (key === '') {
      issues.push({ field: path, message: 'tag names must not be empty' });
      ok = false;
    } else {
      const problem = textIssue(key);
      if (problem) {
        issues.push({ field: path, message: `tag name ${problem}` });
        ok = false;
      }
    }
    if (typeof value !== 'string') {
      issues.push({ field: path, message: `expected a string, got ${describeJsonType(value)}` });
      continue;
    }
    const problem = textIssue(value);
    if (problem) {
      issues.push({ field: path, message: problem });
      continue;
    }
    if (ok) entries.push([key, value]);
  }
  // fromEntries defines own properties, so a "__proto__" tag stays an ordinary tag.
  return Object.fromEntries(entries);
}

/**
 * Validates a tag map (`Tags` of describe, `Labels` of label): an object of string to string.
 * `undefined`/`null` give `{}`. Names must be non-empty; names and values must not contain
 * characters XML cannot carry (they end up in the VM annotation).
 *
 * @param field path used in messages, e.g. `Labels` or `Spec.Tags`.
 * @returns a fresh object holding the tags.
 * @throws ValidationError listing every bad tag.
 */
export function parseTags(raw: unknown, field: string): Record<string, string> {
  const issues: ValidationIssue[] = [];
  const tags = collectTags(raw, field, issues);
  if (issues.length > 0) throwIssues(issues, 'invalid tags');
  return tags;
}

/** Checks that `value` is JSON data (plain objects, arrays, strings, finite numbers, booleans, null). */
function checkJson(
  value: unknown,
  field: string,
  issues: ValidationIssue[],
  seen: Set<object>,
  depth: number,
): void {
  if (issues.length > MAX_REPORTED_ISSUES) return;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) issues.push({ field, message: `expected a finite number, got ${value}` });
      return;
    case 'object':
      break;
    default:
      issues.push({ field, message: `expected JSON data, got ${describeJsonType(value)}` });
      return;
  }
  if (value === null) return;
  if (depth >= MAX_JSON_DEPTH) {
    issues.push({ field, message: `nested deeper than ${MAX_JSON_DEPTH} levels` });
    return;
  }
  if (seen.has(value)) {
    issues.push({ field, message: 'refers to itself (not JSON)' });
    return;
  }
  seen.add(value);
  if (Array.isArray(value)) {
    value.forEach((item: unknown, index) => {
      checkJson(item, `${field}[${index}]`, issues, seen, depth + 1);
    });
  } else if (isPlainObject(value)) {
    for (const key of Object.keys(value)) {
      checkJson(value[key], fieldPath(field, key), issues, seen, depth + 1);
    }
  } else {
    issues.push({ field, message: 'expected JSON data, got a non-plain object' });
  }
  seen.delete(value);
}

function optionalString(
  raw: Record<string, unknown>,
  key: string,
  issues: ValidationIssue[],
): string | null | undefined {
  if (!Object.hasOwn(raw, key)) return undefined;
  const value = raw[key];
  if (value === undefined || value === null) return value;
  if (typeof value !== 'string') {
    issues.push({ field: `Spec.${key}`, message: `expected a string, got ${describeJsonType(value)}` });
    return undefined;
  }
  return value;
}

function collectAttachments(raw: unknown, issues: ValidationIssue[]): Attachment[] | null | undefined {
  if (raw === undefined || raw === null) return raw;
  if (!Array.isArray(raw)) {
    issues.push({
      field: 'Spec.Attachments',
      message: `expected an array of {ID, Type} or null, got ${describeJsonType(raw)}`,
    });
    return undefined;
  }
  const attachments: Attachment[] = [];
  raw.forEach((item: unknown, index) => {
    const field = `Spec.Attachments[${index}]`;
    if (!isPlainObject(item)) {
      issues.push({ field, message: `expected an object {ID, Type}, got ${describeJsonType(item)}` });
      return;
    }
    const id = item.ID;
    const type = Object.hasOwn(item, 'Type') ? item.Type : undefined;
    let ok = true;
    if (typeof id !== 'string') {
      issues.push({ field: `${field}.ID`, message: `expected a string, got ${describeJsonType(id)}` });
      ok = false;
    } else if (id === '') {
      issues.push({ field: `${field}.ID`, message: 'must not be empty' });
      ok = false;
    } else {
      const problem = textIssue(id);
      if (problem) {
        issues.push({ field: `${field}.ID`, message: problem });
        ok = false;
      }
    }
    if (type !== undefined && type !== null && typeof type !== 'string') {
      issues.push({ field: `${field}.Type`, message: `expected a string, got ${describeJsonType(type)}` });
      ok = false;
    }
    if (ok && typeof id === 'string')
      attachments.push({ ID: id, Type: typeof type === 'string' ? type : '' });
  });
  return attachments;
}

/**
 * Validates an InfraKit instance `Spec` (the `Spec` of `Instance.Provision`).
 *
 * - `Properties`: any JSON (checked to be JSON data only; see parseProperties for its content).
 * - `Tags`: object of string to string; absent or null gives `{}`.
 * - `Init`: string; null is treated as absent.
 * - `LogicalID`: string or null; `""` is treated as null; no control characters.
 * - `Attachments`: array of `{ID, Type}` or null; a missing `Type` becomes `""`.
 * - Other top-level keys are ignored (newer InfraKit versions may add fields).
 *
 * @returns a new spec object holding only the known fields (Properties by reference).
 * @throws ValidationError naming every bad field, e.g. `Spec.Tags.foo: expected a string, got number`.
 */
export function parseInstanceSpec(raw: unknown): InstanceSpec {
  if (!isPlainObject(raw)) {
    throw new ValidationError(
      [{ field: 'Spec', message: `expected an object, got ${describeJsonType(raw)}` }],
      'invalid instance spec',
    );
  }
  const issues: ValidationIssue[] = [];
  const spec: InstanceSpec = {};

  if (Object.hasOwn(raw, 'Properties') && raw.Properties !== undefined) {
    checkJson(raw.Properties, 'Spec.Properties', issues, new Set(), 0);
    spec.Properties = raw.Properties as JsonValue;
  }

  spec.Tags = collectTags(Object.hasOwn(raw, 'Tags') ? raw.Tags : undefined, 'Spec.Tags', issues);

  const init = optionalString(raw, 'Init', issues);
  if (typeof init === 'string') {
    const problem = textIssue(init);
    if (problem) issues.push({ field: 'Spec.Init', message: problem });
    else spec.Init = init;
  }

  const logicalId = optionalString(raw, 'LogicalID', issues);
  if (typeof logicalId === 'string' && logicalId !== '') {
    const bad = findControlChar(logicalId);
    if (bad >= 0) {
      issues.push({
        field: 'Spec.LogicalID',
        message: `must not contain control characters (found ${describeCharAt(logicalId, bad)})`,
      });
    } else spec.LogicalID = logicalId;
  } else if (logicalId === null || logicalId === '') {
    spec.LogicalID = null;
  }

  const attachments = collectAttachments(
    Object.hasOwn(raw, 'Attachments') ? raw.Attachments : undefined,
    issues,
  );
  if (attachments !== undefined) spec.Attachments = attachments;

  if (issues.length > 0) throwIssues(issues, 'invalid instance spec');
  return spec;
}
