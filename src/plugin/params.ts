/**
 * Typed decoding of the `params` of the five Instance methods. Pure: no I/O.
 *
 * Lenient where InfraKit's Go clients are (they marshal nil maps as `null`, older ones omit
 * `Context` and `Properties`, and Go's `encoding/json` matches member names case-insensitively);
 * strict about JSON types: a wrong type is a -32602 error naming every offending field, never a
 * crash and never a silently coerced value.
 */

import type { Attachment, DestroyContext, InstanceSpec, JsonValue } from '../spi/instance.ts';
import { JsonRpcError, RpcErrorCode } from './jsonrpc.ts';

type JsonObject = { [key: string]: JsonValue };

/** `Instance.Validate` params. */
export interface ValidateParams {
  Type: string;
  Properties: JsonValue | undefined;
}

/** `Instance.Provision` params. */
export interface ProvisionParams {
  Type: string;
  Spec: InstanceSpec;
}

/** `Instance.Label` params. */
export interface LabelParams {
  Type: string;
  Instance: string;
  Labels: Record<string, string>;
}

/** `Instance.Destroy` params. */
export interface DestroyParams {
  Type: string;
  Instance: string;
  Context: DestroyContext;
}

/** `Instance.DescribeInstances` params. */
export interface DescribeParams {
  Type: string;
  Tags: Record<string, string>;
  Properties: boolean;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function typeName(value: JsonValue): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

/** Looks a member up the way Go's `encoding/json` does: the exact name first, else case-insensitively. */
export function member(obj: JsonObject, name: string): JsonValue | undefined {
  if (Object.hasOwn(obj, name)) return obj[name];
  const lower = name.toLowerCase();
  for (const key of Object.keys(obj)) {
    if (key.toLowerCase() === lower) return obj[key];
  }
  return undefined;
}

/** Collects every type problem of one request, then throws them all as one -32602 error. */
class Problems {
  readonly #list: string[] = [];

  add(field: string, expected: string, got: JsonValue | undefined): void {
    const actual = got === undefined ? 'nothing' : typeName(got);
    this.#list.push(`${field}: expected ${expected}, got ${actual}`);
  }

  throwIfAny(): void {
    if (this.#list.length > 0) {
      throw new JsonRpcError(RpcErrorCode.invalidParams, `invalid params: ${this.#list.join('; ')}`);
    }
  }
}

function readType(params: JsonObject, problems: Problems): string {
  const value = member(params, 'Type');
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  problems.add('Type', 'a string', value);
  return '';
}

function readInstanceId(params: JsonObject, problems: Problems): string {
  const value = member(params, 'Instance');
  if (typeof value === 'string' && value !== '') return value;
  problems.add('Instance', 'a non-empty string (the instance ID)', value);
  return '';
}

/** A `map[string]string`: `null`/absent is `{}`; every value must be a string. */
function readStringMap(
  value: JsonValue | undefined,
  field: string,
  problems: Problems,
): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isObject(value)) {
    problems.add(field, 'an object of strings', value);
    return {};
  }
  const entries: [string, string][] = [];
  for (const [key, item] of Object.entries(value)) {
    if (typeof item === 'string') entries.push([key, item]);
    else problems.add(`${field}.${key}`, 'a string', item);
  }
  // fromEntries defines own properties, so a "__proto__" tag stays a tag.
  return Object.fromEntries(entries);
}

function readAttachments(value: JsonValue | undefined, problems: Problems): Attachment[] | null | undefined {
  if (value === undefined) return undefined;
  if (value === null) return null;
  if (!Array.isArray(value)) {
    problems.add('Spec.Attachments', 'an array of {"ID","Type"}', value);
    return undefined;
  }
  const attachments: Attachment[] = [];
  value.forEach((item, index) => {
    const field = `Spec.Attachments[${index}]`;
    if (!isObject(item)) {
      problems.add(field, 'an object {"ID","Type"}', item);
      return;
    }
    const id = member(item, 'ID');
    const type = member(item, 'Type');
    if (typeof id !== 'string') problems.add(`${field}.ID`, 'a string', id);
    if (typeof type !== 'string' && type !== undefined && type !== null)
      problems.add(`${field}.Type`, 'a string', type);
    if (typeof id === 'string') attachments.push({ ID: id, Type: typeof type === 'string' ? type : '' });
  });
  return attachments;
}

function readSpec(params: JsonObject, problems: Problems): InstanceSpec {
  const value = member(params, 'Spec');
  if (!isObject(value)) {
    problems.add('Spec', 'an object', value);
    return {};
  }
  const spec: InstanceSpec = {};
  const properties = member(value, 'Properties');
  if (properties !== undefined) spec.Properties = properties;

  const tags = member(value, 'Tags');
  if (tags !== undefined && tags !== null) spec.Tags = readStringMap(tags, 'Spec.Tags', problems);

  const init = member(value, 'Init');
  if (typeof init === 'string') spec.Init = init;
  else if (init !== undefined && init !== null) problems.add('Spec.Init', 'a string', init);

  const logicalId = member(value, 'LogicalID');
  if (typeof logicalId === 'string' || logicalId === null) spec.LogicalID = logicalId;
  else if (logicalId !== undefined) problems.add('Spec.LogicalID', 'a string or null', logicalId);

  const attachments = readAttachments(member(value, 'Attachments'), problems);
  if (attachments !== undefined) spec.Attachments = attachments;
  return spec;
}

/** Decodes `Instance.Validate` params `{Type, Properties}`. */
export function decodeValidate(params: JsonObject): ValidateParams {
  const problems = new Problems();
  const Type = readType(params, problems);
  problems.throwIfAny();
  return { Type, Properties: member(params, 'Properties') };
}

/** Decodes `Instance.Provision` params `{Type, Spec}`. */
export function decodeProvision(params: JsonObject): ProvisionParams {
  const problems = new Problems();
  const Type = readType(params, problems);
  const Spec = readSpec(params, problems);
  problems.throwIfAny();
  return { Type, Spec };
}

/** Decodes `Instance.Label` params `{Type, Instance, Labels}`. */
export function decodeLabel(params: JsonObject): LabelParams {
  const problems = new Problems();
  const Type = readType(params, problems);
  const Instance = readInstanceId(params, problems);
  const Labels = readStringMap(member(params, 'Labels'), 'Labels', problems);
  problems.throwIfAny();
  return { Type, Instance, Labels };
}

/**
 * Decodes `Instance.Destroy` params `{Type, Instance, Context:{Reason}}`. Clients older than the
 * `Context` member send none (or Go's zero value `{"Reason":""}`): that means `terminate`.
 */
export function decodeDestroy(params: JsonObject): DestroyParams {
  const problems = new Problems();
  const Type = readType(params, problems);
  const Instance = readInstanceId(params, problems);
  let Reason: DestroyContext['Reason'] = 'terminate';
  const context = member(params, 'Context');
  if (isObject(context)) {
    const reason = member(context, 'Reason');
    if (reason === 'rolling_update') Reason = 'rolling_update';
    else if (reason !== undefined && reason !== null && reason !== '' && reason !== 'terminate') {
      problems.add('Context.Reason', '"terminate" or "rolling_update"', reason);
    }
  } else if (context !== undefined && context !== null) {
    problems.add('Context', 'an object {"Reason"}', context);
  }
  problems.throwIfAny();
  return { Type, Instance, Context: { Reason } };
}

/** Decodes `Instance.DescribeInstances` params `{Type, Tags, Properties}`. */
export function decodeDescribe(params: JsonObject): DescribeParams {
  const problems = new Problems();
  const Type = readType(params, problems);
  const Tags = readStringMap(member(params, 'Tags'), 'Tags', problems);
  const properties = member(params, 'Properties');
  if (typeof properties !== 'boolean' && properties !== undefined && properties !== null) {
    problems.add('Properties', 'a boolean', properties);
  }
  problems.throwIfAny();
  return { Type, Tags, Properties: properties === true };
}
