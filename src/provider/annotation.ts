/**
 * Codec for the VM annotation (vSphere "Notes", `config.annotation`): the only store of instance
 * metadata, shared with the original Go plugin. See docs/annotation.md for the format.
 *
 * Layout of an annotation written by this library (format v1):
 *
 * ```text
 * <group>\n
 * <configHash>\n
 * infrakit-vsphere/v1 {"tags":{...},"logicalId":"...","powerOff":{...}}\n   <- marker line, one line of JSON
 * <user text, verbatim, may span lines>                      <- only when userText is defined
 * ```
 *
 * Lines 0 and 1 are what the original plugin wrote and reads, so it still sees our VMs as members
 * of the group with the right config hash.
 *
 * Pure: no I/O.
 */

import { ValidationError, type ValidationIssue, VSphereError } from '../errors.ts';
import { InfraKitTags } from '../spi/instance.ts';

/** Metadata of one instance, as stored in its VM annotation. */
export interface InstanceMetadata {
  /** Group id (`infrakit.group`); line 0 of the annotation. */
  group: string;
  /** Config hash (`infrakit.config.hash`); line 1 of the annotation. */
  configHash: string;
  /** Every tag of the instance, exactly as given (including `infrakit.group` and the hash tag). */
  tags: Record<string, string>;
  logicalId?: string;
  /** How destroy stops the VM (`PowerOffMode` / `PowerOffTimeoutSeconds`); absent: `trySoft`. */
  powerOff?: PowerOffSetting;
  /** The user's `Annotation` property text, verbatim. */
  userText?: string;
}

/** Destroy's power-off setting, kept with the VM because destroy receives only the instance ID. */
export interface PowerOffSetting {
  mode: 'hard' | 'soft' | 'trySoft';
  /** Guest shutdown wait; absent: the provider's `shutdownTimeoutMs`. */
  timeoutSeconds?: number;
}

const POWER_OFF_MODES: readonly string[] = ['hard', 'soft', 'trySoft'];

/** The setting, if `value` is a well-formed one (mode known, timeout an integer 1..3600). */
function asPowerOff(value: unknown): PowerOffSetting | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const { mode, timeoutSeconds } = value as Record<string, unknown>;
  if (typeof mode !== 'string' || !POWER_OFF_MODES.includes(mode)) return undefined;
  if (timeoutSeconds === undefined) return { mode: mode as PowerOffSetting['mode'] };
  if (typeof timeoutSeconds !== 'number' || !Number.isInteger(timeoutSeconds)) return undefined;
  if (timeoutSeconds < 1 || timeoutSeconds > 3600) return undefined;
  return { mode: mode as PowerOffSetting['mode'], timeoutSeconds };
}

/** What {@link decodeAnnotation} found in an annotation. */
export type DecodedAnnotation =
  /** Written by this library. */
  | { kind: 'ours'; version: number; metadata: InstanceMetadata }
  /** Written by the original Go plugin (group, hash, user text); `tags` is `{}`. */
  | { kind: 'legacy'; metadata: InstanceMetadata }
  /** The instance was destroyed with ignore-on-destroy: exactly {@link DELETED_ANNOTATION}. */
  | { kind: 'deleted' }
  /** Anything else: empty, a single line, a hand-written note. */
  | { kind: 'foreign'; text: string };

/** What the original plugin (and this library) writes on destroy with ignore-on-destroy. */
export const DELETED_ANNOTATION = 'Deleted by InfraKit';

/**
 * Upper bound, in UTF-8 bytes, of an annotation written by {@link encodeAnnotation}.
 *
 * vSphere documents no limit for `config.annotation`; it is kept in the VM's .vmx file (UTF-8, with
 * `|XX` escapes that can triple control characters such as newlines) and in the vCenter database,
 * and it is read back for every VM of a group on each describe. 32 KiB is far more than group id,
 * hash, tags and a note need, well below any limit seen in practice, and keeps a describe of 1000
 * VMs under 32 MB. Bytes, not UTF-16 units, because the VMX stores UTF-8.
 */
export const MAX_ANNOTATION_LENGTH = 32 * 1024;

/**
 * Longest group id or config hash (lines 0 and 1). Real ones are far shorter (a group id is a
 * folder name, at most 80 characters; a hash is 32); the bound keeps a garbage first line from
 * being taken for a group.
 */
export const MAX_ID_LENGTH = 1024;

/** Prefix of the marker line (line 2); the version number and a space follow. */
export const ANNOTATION_MARKER_PREFIX = 'infrakit-vsphere/v';

/** The format version {@link encodeAnnotation} writes. */
export const ANNOTATION_FORMAT_VERSION = 1;

/** The annotation cannot be encoded as a whole (it is too long). Code `ANNOTATION`. */
export class AnnotationError extends VSphereError {
  /** What was too long: `annotation`, or the largest contributor (`userText`, `tags`, ...). */
  readonly field: string;
  /** Size of the encoded annotation in UTF-8 bytes. */
  readonly length: number;
  /** The bound, `MAX_ANNOTATION_LENGTH` (32 KiB). */
  readonly limit: number;

  constructor(message: string, field: string, length: number, limit: number) {
    super('ANNOTATION', message);
    this.field = field;
    this.length = length;
    this.limit = limit;
  }
}

// ---------------------------------------------------------------------------------------------
// Character checks shared with properties.ts and spec.ts.

/**
 * Index of the first character XML 1.0 cannot carry (U+0000–U+0008, U+000B, U+000C,
 * U+000E–U+001F, U+FFFE, U+FFFF, lone surrogates), or -1. Tab, LF and CR are allowed.
 */
export function findXmlInvalidChar(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20) {
      if (c !== 0x09 && c !== 0x0a && c !== 0x0d) return i;
    } else if (c >= 0xd800 && c <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
      else return i;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return i;
    } else if (c === 0xfffe || c === 0xffff) {
      return i;
    }
  }
  return -1;
}

/** Index of the first control character (C0, DEL, C1) or XML-invalid character, or -1. */
export function findControlChar(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return i;
  }
  return findXmlInvalidChar(text);
}

/** `U+000B` style name of the UTF-16 unit at `index`. */
export function describeCharAt(text: string, index: number): string {
  const c = text.charCodeAt(index);
  return `U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Length of `text` in UTF-8 bytes (a lone surrogate counts as the 3 bytes of U+FFFD). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Encoding.

/** Problems with a group id or config hash, or undefined when it is acceptable on lines 0/1. */
function lineProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return `expected a string, got ${value === null ? 'null' : typeof value}`;
  if (value.length === 0) return 'must not be empty';
  if (value.length > MAX_ID_LENGTH) return `longer than ${MAX_ID_LENGTH} characters`;
  if (value.trim() !== value) return 'must not have leading or trailing whitespace';
  const bad = findControlChar(value);
  if (bad >= 0)
    return `must be a single line without control characters (found ${describeCharAt(value, bad)})`;
  return undefined;
}

/** A key for messages: short, one line. */
function shortKey(key: string): string {
  const json = JSON.stringify(key);
  return json.length > 42 ? `${json.slice(0, 40)}…"` : json;
}

function checkText(issues: ValidationIssue[], field: string, value: string): void {
  const bad = findXmlInvalidChar(value);
  if (bad >= 0) {
    issues.push({
      field,
      message: `contains ${describeCharAt(value, bad)} at index ${bad}, which XML 1.0 (and so vSphere) cannot carry`,
    });
  }
}

/** The hash tags whose presence must agree with `configHash`. */
const HASH_TAGS: readonly string[] = [InfraKitTags.configHash, InfraKitTags.legacyConfigHash];

/**
 * Encodes instance metadata as a VM annotation (format v1).
 *
 * @throws ValidationError naming every bad field (empty or multi-line group/hash, characters XML
 *   cannot carry, non-string tags, tags contradicting the group/hash).
 * @throws AnnotationError (code `ANNOTATION`) when the result exceeds `MAX_ANNOTATION_LENGTH` (32 KiB).
 */
export function encodeAnnotation(meta: InstanceMetadata): string {
  const issues: ValidationIssue[] = [];
  if (typeof meta !== 'object' || meta === null) {
    throw new ValidationError([{ field: 'metadata', message: 'expected an object' }], 'invalid annotation');
  }
  const groupProblem = lineProblem(meta.group);
  if (groupProblem) issues.push({ field: 'group', message: groupProblem });
  const hashProblem = lineProblem(meta.configHash);
  if (hashProblem) issues.push({ field: 'configHash', message: hashProblem });

  const tags = meta.tags;
  const tagEntries: [string, string][] = [];
  if (typeof tags !== 'object' || tags === null || Array.isArray(tags)) {
    issues.push({ field: 'tags', message: 'expected an object of string to string' });
  } else {
    for (const [key, value] of Object.entries(tags)) {
      const field = `tags[${shortKey(key)}]`;
      checkText(issues, `${field} (key)`, key);
      if (typeof value !== 'string') {
        issues.push({ field, message: `expected a string, got ${value === null ? 'null' : typeof value}` });
        continue;
      }
      checkText(issues, field, value);
      tagEntries.push([key, value]);
    }
    const groupTag = Object.hasOwn(tags, InfraKitTags.group) ? tags[InfraKitTags.group] : undefined;
    if (typeof groupTag === 'string' && !groupProblem && groupTag !== meta.group) {
      issues.push({
        field: `tags[${shortKey(InfraKitTags.group)}]`,
        message: 'differs from group; the tag and line 0 of the annotation must agree',
      });
    }
    for (const hashTag of HASH_TAGS) {
      const value = Object.hasOwn(tags, hashTag) ? tags[hashTag] : undefined;
      if (typeof value === 'string' && !hashProblem && value !== meta.configHash) {
        issues.push({
          field: `tags[${shortKey(hashTag)}]`,
          message: 'differs from configHash; the tag and line 1 of the annotation must agree',
        });
      }
    }
  }

  if (meta.logicalId !== undefined) {
    if (typeof meta.logicalId !== 'string') {
      issues.push({ field: 'logicalId', message: `expected a string, got ${typeof meta.logicalId}` });
    } else checkText(issues, 'logicalId', meta.logicalId);
  }
  if (meta.powerOff !== undefined && asPowerOff(meta.powerOff) === undefined) {
    issues.push({
      field: 'powerOff',
      message: 'expected {mode: "hard" | "soft" | "trySoft", timeoutSeconds?: an integer 1..3600}',
    });
  }
  if (meta.userText !== undefined) {
    if (typeof meta.userText !== 'string') {
      issues.push({ field: 'userText', message: `expected a string, got ${typeof meta.userText}` });
    } else checkText(issues, 'userText', meta.userText);
  }
  if (issues.length > 0) throw new ValidationError(issues, 'invalid annotation');

  const payload: { tags: Record<string, string>; logicalId?: string; powerOff?: PowerOffSetting } = {
    tags: Object.fromEntries(tagEntries),
  };
  if (meta.logicalId !== undefined) payload.logicalId = meta.logicalId;
  if (meta.powerOff !== undefined) payload.powerOff = asPowerOff(meta.powerOff)!;
  const markerLine = `${ANNOTATION_MARKER_PREFIX}${ANNOTATION_FORMAT_VERSION} ${JSON.stringify(payload)}`;
  let text = `${meta.group}\n${meta.configHash}\n${markerLine}`;
  if (meta.userText !== undefined) text += `\n${meta.userText}`;

  const length = utf8Length(text);
  if (length > MAX_ANNOTATION_LENGTH) {
    const parts: [string, number][] = [
      ['userText', meta.userText === undefined ? 0 : utf8Length(meta.userText)],
      ['tags', utf8Length(JSON.stringify(payload.tags))],
      ['logicalId', meta.logicalId === undefined ? 0 : utf8Length(meta.logicalId)],
      ['group', utf8Length(meta.group)],
      ['configHash', utf8Length(meta.configHash)],
    ];
    parts.sort((a, b) => b[1] - a[1]);
    const [field, size] = parts[0] ?? ['annotation', length];
    throw new AnnotationError(
      `annotation too long: ${length} UTF-8 bytes, limit ${MAX_ANNOTATION_LENGTH}; ` +
        `the largest part is ${field} (${size} bytes)`,
      field,
      length,
      MAX_ANNOTATION_LENGTH,
    );
  }
  return text;
}

// ---------------------------------------------------------------------------------------------
// Decoding.

/** Strips one trailing `\r` (a line edited on Windows). */
function stripCR(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

const MARKER_RE = /^infrakit-vsphere\/v([1-9][0-9]{0,5}) (.*)$/s;

interface Payload {
  tags: Record<string, string>;
  logicalId?: string;
  powerOff?: PowerOffSetting;
}

/** Reads the JSON of a marker line; undefined when it is not exactly the expected shape. */
function parsePayload(json: string): Payload | undefined {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const record = value as Record<string, unknown>;
  const rawTags = Object.hasOwn(record, 'tags') ? record.tags : undefined;
  if (typeof rawTags !== 'object' || rawTags === null || Array.isArray(rawTags)) return undefined;
  const entries = Object.entries(rawTags as Record<string, unknown>);
  const tags: [string, string][] = [];
  for (const [key, tagValue] of entries) {
    if (typeof tagValue !== 'string') return undefined;
    tags.push([key, tagValue]);
  }
  const payload: Payload = { tags: Object.fromEntries(tags) };
  if (Object.hasOwn(record, 'logicalId')) {
    const logicalId = record.logicalId;
    if (typeof logicalId === 'string') payload.logicalId = logicalId;
    else if (logicalId !== null && logicalId !== undefined) return undefined;
  }
  // A power-off setting a hand edit broke is dropped, not fatal: destroy then does the default.
  const powerOff = Object.hasOwn(record, 'powerOff') ? asPowerOff(record.powerOff) : undefined;
  if (powerOff) payload.powerOff = powerOff;
  return payload;
}

/** Is `line` acceptable as a group id or config hash read from an annotation? */
function validLine(line: string): boolean {
  return lineProblem(line) === undefined;
}

/**
 * Reads an annotation. Never throws, whatever the input (including non-strings at run time).
 *
 * - exactly {@link DELETED_ANNOTATION} (trailing whitespace allowed) → `deleted`;
 * - lines 0 and 1 valid and line 2 a well-formed marker → `ours` (lines 0/1 win over the tags
 *   in the JSON should they disagree after a hand edit);
 * - lines 0 and 1 valid otherwise → `legacy` (user text = everything after line 1);
 * - anything else → `foreign`.
 */
export function decodeAnnotation(text: string | undefined): DecodedAnnotation {
  if (typeof text !== 'string') return { kind: 'foreign', text: '' };
  if (text.trimEnd() === DELETED_ANNOTATION) return { kind: 'deleted' };

  const first = text.indexOf('\n');
  if (first < 0) return { kind: 'foreign', text };
  const secondEnd = text.indexOf('\n', first + 1);
  const group = stripCR(text.slice(0, first));
  const configHash = stripCR(text.slice(first + 1, secondEnd < 0 ? text.length : secondEnd));
  if (!validLine(group) || !validLine(configHash)) return { kind: 'foreign', text };

  const rest = secondEnd < 0 ? undefined : text.slice(secondEnd + 1);
  if (rest?.startsWith(ANNOTATION_MARKER_PREFIX)) {
    const markerEnd = rest.indexOf('\n');
    const markerLine = stripCR(markerEnd < 0 ? rest : rest.slice(0, markerEnd));
    const match = markerLine.length <= MAX_ANNOTATION_LENGTH ? MARKER_RE.exec(markerLine) : null;
    const payload = match?.[2] === undefined ? undefined : parsePayload(match[2]);
    if (match && payload) {
      const tags = payload.tags;
      // Lines 0/1 are authoritative (the original plugin reads them): re-align the tags they
      // duplicate if a hand edit made them disagree.
      if (Object.hasOwn(tags, InfraKitTags.group) && tags[InfraKitTags.group] !== group) {
        tags[InfraKitTags.group] = group;
      }
      for (const hashTag of HASH_TAGS) {
        if (Object.hasOwn(tags, hashTag) && tags[hashTag] !== configHash) tags[hashTag] = configHash;
      }
      const metadata: InstanceMetadata = { group, configHash, tags };
      if (payload.logicalId !== undefined) metadata.logicalId = payload.logicalId;
      if (payload.powerOff !== undefined) metadata.powerOff = payload.powerOff;
      if (markerEnd >= 0) metadata.userText = rest.slice(markerEnd + 1);
      return { kind: 'ours', version: Number(match[1]), metadata };
    }
  }

  const metadata: InstanceMetadata = { group, configHash, tags: {} };
  if (rest !== undefined && rest !== '') metadata.userText = rest;
  return { kind: 'legacy', metadata };
}

/**
 * Does the decoded annotation say the VM belongs to `group`? Only `ours` and `legacy` can; a
 * deleted or foreign annotation never does.
 */
export function belongsToGroup(decoded: DecodedAnnotation, group: string): boolean {
  if (typeof decoded !== 'object' || decoded === null) return false;
  if (decoded.kind !== 'ours' && decoded.kind !== 'legacy') return false;
  return typeof group === 'string' && group !== '' && decoded.metadata.group === group;
}
