import { VSphereError } from '../errors.ts';

export type InventoryKind =
  | 'datacenter'
  | 'datastore'
  | 'network'
  | 'host'
  | 'cluster'
  | 'resourcePool'
  | 'template'
  | 'folder'
  | 'vm';

/** A named inventory object does not exist where it was looked for. */
export class NotFoundError extends VSphereError {
  readonly kind: InventoryKind;
  /** The name that was looked for. */
  readonly objectName: string;
  /** Property or option that named it, e.g. `Properties.Datastore`. */
  readonly field: string | undefined;
  /** The message without the field, for a ValidationIssue that names the field itself. */
  readonly detail: string;
  constructor(
    kind: InventoryKind,
    name: string,
    where: string,
    options: { field?: string; known?: string[] } = {},
  ) {
    const known = options.known?.length
      ? ` (found: ${options.known.slice(0, 10).join(', ')}${options.known.length > 10 ? ', …' : ''})`
      : '';
    const detail = `${kind} "${name}" not found in ${where}${known}`;
    super('NOT_FOUND', `${options.field ? `${options.field}: ` : ''}${detail}`);
    this.detail = detail;
    this.kind = kind;
    this.objectName = name;
    this.field = options.field;
  }
}

/** A name matches more than one object; an inventory path picks one. */
export class AmbiguousNameError extends VSphereError {
  readonly kind: InventoryKind;
  readonly objectName: string;
  readonly field: string | undefined;
  readonly detail: string;
  constructor(kind: InventoryKind, name: string, where: string, candidates: string[], field?: string) {
    const detail = `${kind} name "${name}" matches ${candidates.length} objects in ${where}; give an inventory path (${candidates.slice(0, 5).join(', ')})`;
    super('AMBIGUOUS', `${field ? `${field}: ` : ''}${detail}`);
    this.detail = detail;
    this.kind = kind;
    this.objectName = name;
    this.field = field;
  }
}
