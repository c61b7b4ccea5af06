/**
 * Every error this library throws is a {@link VSphereError} with a stable `code`, so callers
 * branch on `code` (or `instanceof`), never on message text.
 */
export class VSphereError extends Error {
  /** Stable machine-readable code, e.g. `VIM_FAULT`, `VALIDATION`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** One problem found in user input: the field (a dotted path) and what was expected. */
export interface ValidationIssue {
  /** Path of the offending field, e.g. `Properties.CPUs`. */
  readonly field: string;
  /** What was expected, in words a user can act on. */
  readonly message: string;
}

/** Input was rejected. `issues` lists every problem found, not just the first. */
export class ValidationError extends VSphereError {
  readonly issues: readonly ValidationIssue[];

  constructor(issues: readonly ValidationIssue[], context = 'invalid input') {
    super(
      'VALIDATION',
      `${context}: ${issues.map((issue) => `${issue.field}: ${issue.message}`).join('; ')}`,
    );
    this.issues = issues;
  }
}

/**
 * VMs named like the instance exist, but none carries InfraKit's notes: they belong to someone
 * else (another tool, or a person) and are never touched.
 */
export class InstanceNotManagedError extends VSphereError {
  /** The instance ID (VM name) that was asked for. */
  readonly instanceId: string;
  /** MoRef values of the VMs of that name, left alone. */
  readonly vms: readonly string[];
  constructor(instanceId: string, vms: readonly string[]) {
    super(
      'NOT_MANAGED',
      `Instance: VM "${instanceId}" is not managed by InfraKit (its notes do not name an InfraKit group); left alone`,
    );
    this.instanceId = instanceId;
    this.vms = vms;
  }
}
