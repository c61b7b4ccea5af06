/**
 * vim25 faults as errors. A SOAP fault and a failed task's `info.error` carry the same thing, a typed
 * MethodFault; both become a {@link VimFault} that callers branch on with `is('InvalidState')`, which
 * follows the schema's type hierarchy rather than comparing names.
 */
import { VSphereError } from '../errors.ts';
import { ManagedObjectReference, redactSessionIds } from './moref.ts';
import { hasType, isSubtypeOf } from './schema.ts';

/** The decoded fault object: `_type` is the fault type, the other keys its fields. */
export type VimFaultDetail = { readonly _type: string } & { readonly [field: string]: unknown };

/** A vim25 fault returned by the server, from a SOAP fault or a failed task. */
export class VimFault extends VSphereError {
  /** The fault type, e.g. `DuplicateName`. */
  readonly faultType: string;
  /** The decoded fault, `_type` included, e.g. `{ _type: 'DuplicateName', name: 'x', object: MoRef }`. */
  readonly detail: VimFaultDetail;
  /** The server's message (SOAP `faultstring` or a task's `localizedMessage`); may be empty. */
  readonly faultString: string;

  /**
   * @param faultType - the fault type, e.g. `DuplicateName`
   * @param detail - the decoded fault object
   * @param faultString - the server's message, possibly empty
   * @param options - `cause`: the fault's own `faultCause`, when it has one
   */
  constructor(faultType: string, detail: VimFaultDetail, faultString: string, options?: { cause?: unknown }) {
    // A fault about a view, filter or collector names it by a session-scoped id, which carries
    // the session key (vcsim's session cookie): hidden in everything the error holds.
    const safeDetail = redactDetail(detail) as VimFaultDetail;
    super(
      'VIM_FAULT',
      `${faultType}: ${redactSessionIds(describeFault(faultType, safeDetail, faultString))}`,
      options,
    );
    this.faultType = faultType;
    this.detail = safeDetail;
    this.faultString = redactSessionIds(faultString);
  }

  /**
   * True when this fault is `type` or a subtype of it per the vim25 schema: an `InvalidPowerState`
   * is an `InvalidState`, everything is a `MethodFault`.
   */
  is(type: string): boolean {
    return isSubtypeOf(this.faultType, type);
  }
}

/**
 * Builds a {@link VimFault} from a LocalizedMethodFault (`{ fault, localizedMessage }`), such as a
 * failed task's `info.error`. Anything else becomes a `SystemError` fault rather than a TypeError.
 */
export function vimFaultFromLocalized(lmf: unknown): VimFault {
  const record = isRecord(lmf) ? lmf : {};
  const message = typeof record.localizedMessage === 'string' ? record.localizedMessage : '';
  return vimFaultFromDetail(record.fault, message, undefined);
}

/**
 * Builds a {@link VimFault} from a decoded fault object and the server's message. Without a usable
 * fault object the type comes from `faultCode` when it names a known fault, else `SystemError`.
 */
export function vimFaultFromDetail(
  detail: unknown,
  faultString: string,
  faultCode: string | undefined,
): VimFault {
  let fault: VimFaultDetail;
  if (isRecord(detail) && typeof detail._type === 'string') {
    fault = detail as VimFaultDetail;
  } else {
    const code = faultCode === undefined ? '' : faultCode.slice(faultCode.indexOf(':') + 1);
    const type = hasType(code) && isSubtypeOf(code, 'MethodFault') ? code : 'SystemError';
    fault = type === 'SystemError' ? { _type: type, reason: faultString } : { _type: type };
  }
  const cause = isRecord(fault.faultCause) ? vimFaultFromLocalized(fault.faultCause) : undefined;
  return new VimFault(fault._type, fault, faultString, cause ? { cause } : undefined);
}

/** `detail` with every session-scoped id hidden; the same object when it holds none. */
function redactDetail(value: unknown, depth = 0): unknown {
  if (depth > 32) return value;
  if (typeof value === 'string') return redactSessionIds(value);
  if (value instanceof ManagedObjectReference) {
    const redacted = redactSessionIds(value.value);
    return redacted === value.value
      ? value
      : new ManagedObjectReference(value.type, redacted, value.serverGuid);
  }
  if (Array.isArray(value)) {
    const items = value.map((item) => redactDetail(item, depth + 1));
    return items.every((item, i) => item === value[i]) ? value : items;
  }
  if (!isRecord(value)) return value;
  let copy: Record<string, unknown> | undefined;
  for (const [key, field] of Object.entries(value)) {
    const safe = redactDetail(field, depth + 1);
    if (safe !== field) {
      copy ??= { ...value };
      copy[key] = safe;
    }
  }
  return copy ?? value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

// vcsim's localizedMessage is the Go type (`*types.InvalidPowerState`), which says nothing the fault
// type does not; it is replaced by a message built from the fault.
const GO_TYPE_NAME = /^\*?types\.\w+$/;

/** The server's message when it has one, else words built from the fault's fields. */
function describeFault(type: string, detail: VimFaultDetail, faultString: string): string {
  const given = faultString.trim();
  if (given !== '' && given !== type && !GO_TYPE_NAME.test(given)) return given;
  const text = (field: string): string => display(detail[field]);
  switch (type) {
    // Wording follows vCenter's own English messages for the faults a provider meets most.
    case 'DuplicateName':
      return `The name '${text('name')}' already exists.`;
    case 'AlreadyExists':
      return `The specified key, name, or identifier '${text('name')}' already exists.`;
    case 'InvalidPowerState':
      return `The attempted operation cannot be performed in the current state (${text('existingState')}).`;
    case 'NotAuthenticated':
      return 'The session is not authenticated.';
    case 'InvalidLogin':
      return 'Cannot complete login due to an incorrect user name or password.';
    case 'NoPermission':
      return `Permission to perform this operation was denied${detail.privilegeId ? ` (privilege ${text('privilegeId')} on ${text('object')})` : ''}.`;
    case 'ManagedObjectNotFound':
      return `The object '${text('obj')}' has already been deleted or has not been completely created.`;
    case 'InvalidArgument':
      return `A specified parameter was not correct: ${text('invalidProperty')}`;
    case 'NotSupported':
      return 'The operation is not supported on the object.';
    case 'RequestCanceled':
      return 'The task was canceled by a user.';
    case 'FileNotFound':
      return `File ${text('file')} was not found.`;
    default:
      break;
  }
  const messages = Array.isArray(detail.faultMessage)
    ? detail.faultMessage
        .map((m) => (isRecord(m) && typeof m.message === 'string' ? m.message : ''))
        .filter(Boolean)
    : [];
  if (messages.length > 0) return messages.join(' ');
  const fields = Object.entries(detail)
    .filter(
      ([key, value]) => key !== '_type' && key !== 'faultCause' && key !== 'faultMessage' && isScalar(value),
    )
    .map(([key, value]) => `${key}=${display(value)}`);
  return fields.length > 0 ? fields.join(', ') : 'the server gave no message';
}

function isScalar(value: unknown): boolean {
  return typeof value !== 'object' || value instanceof ManagedObjectReference;
}

function display(value: unknown): string {
  if (value === undefined || value === null) return '';
  return typeof value === 'object' && !(value instanceof ManagedObjectReference)
    ? JSON.stringify(value)
    : String(value);
}
