/**
 * A reference to a server-side managed object (`VirtualMachine:vm-42`). It is a value: two
 * references are equal when type and value are, and it is immutable so it can key caches.
 */
export class ManagedObjectReference {
  /** Managed object type, e.g. `VirtualMachine`. */
  readonly type: string;
  /** Server-assigned identifier, e.g. `vm-42`; opaque, never parse it. */
  readonly value: string;
  /**
   * The vCenter instance that owns the object, sent only in linked mode. Kept so that a reference read
   * from one call can be passed back unchanged; it plays no part in {@link equals}.
   */
  declare readonly serverGuid?: string;

  /**
   * @param type - managed object type, e.g. `VirtualMachine`
   * @param value - server-assigned identifier, e.g. `vm-42`
   * @param serverGuid - owning vCenter instance in linked mode, when the server sent one
   */
  constructor(type: string, value: string, serverGuid?: string) {
    this.type = type;
    this.value = value;
    if (serverGuid !== undefined) this.serverGuid = serverGuid;
  }

  /** `Type:value`, e.g. `VirtualMachine:vm-42`: stable, so usable as a map key or in logs. */
  toString(): string {
    return `${this.type}:${this.value}`;
  }

  /**
   * How `util.inspect` (and so `console.log`) shows it: `Type:value` with the session key of a
   * session-scoped id (`session[<key>]…`, views, filters, collectors) hidden, since vcsim's session
   * key is its session cookie. `value` itself stays exact, to be sent back.
   */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `ManagedObjectReference<${this.type}:${redactSessionIds(this.value)}>`;
  }

  /** True when `other` names the same managed object (same type and value). */
  equals(other: unknown): boolean {
    return other instanceof ManagedObjectReference && other.type === this.type && other.value === this.value;
  }
}

const SESSION_SCOPED_ID = /session\[[^\]]*\]/g;

/**
 * Hides the session key in session-scoped object ids (`session[<key>]<id>` → `session[***]<id>`):
 * vCenter and vcsim embed it in the ids of views, filters and collectors, and in vcsim it is also
 * the session cookie. For anything printed: messages, logs, inspected objects.
 */
export function redactSessionIds(text: string): string {
  return text.includes('session[') ? text.replace(SESSION_SCOPED_ID, 'session[***]') : text;
}

/** Shorthand for `new ManagedObjectReference(type, value)`. */
export function moref(type: string, value: string): ManagedObjectReference {
  return new ManagedObjectReference(type, value);
}
