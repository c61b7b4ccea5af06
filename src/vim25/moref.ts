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

  /** True when `other` names the same managed object (same type and value). */
  equals(other: unknown): boolean {
    return other instanceof ManagedObjectReference && other.type === this.type && other.value === this.value;
  }
}

/** Shorthand for `new ManagedObjectReference(type, value)`. */
export function moref(type: string, value: string): ManagedObjectReference {
  return new ManagedObjectReference(type, value);
}
