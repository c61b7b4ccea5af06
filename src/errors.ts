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
