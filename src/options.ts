/**
 * Type checks of the library's options, made once at construction. Options often come from YAML,
 * JSON or the environment, where `"false"` is a string and a string is truthy: a check that only
 * tested truthiness would turn `insecure: "false"` into insecure. Each check names the option by
 * its dotted path and says what it expected and what it got; `undefined` always means "absent".
 */
import { ValidationError, type ValidationIssue } from './errors.ts';

/** How a value is shown in an error: its type, and a short value's text unless it is secret. */
export function describeValue(value: unknown, secret = false): string {
  if (value === null) return 'null';
  if (secret && (typeof value === 'number' || typeof value === 'boolean')) return `a ${typeof value}`;
  if (Array.isArray(value)) return 'an array';
  if (Buffer.isBuffer(value)) return 'a Buffer';
  switch (typeof value) {
    case 'string':
      if (secret) return 'a string';
      return value.length <= 40 ? `the string ${JSON.stringify(value)}` : 'a long string';
    case 'number':
      return `the number ${String(value)}`;
    case 'boolean':
      return `the boolean ${String(value)}`;
    case 'bigint':
      return 'a bigint';
    case 'function':
      return 'a function';
    case 'symbol':
      return 'a symbol';
    default:
      return 'an object';
  }
}

function invalid(field: string, message: string): ValidationError {
  return new ValidationError([{ field, message }], 'invalid options');
}

/** A boolean option: `true` or `false`, nothing that merely looks like one. */
export function booleanOption(value: unknown, field: string): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  throw invalid(field, `expected a boolean (true or false), got ${describeValue(value)}`);
}

export interface StringOptionRules {
  /** Refuse `''`. */
  nonEmpty?: boolean;
  /** Never show the value in the message (passwords, URLs that may carry one). */
  secret?: boolean;
}

/** A string option. */
export function stringOption(
  value: unknown,
  field: string,
  rules: StringOptionRules = {},
): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    throw invalid(field, `expected a string, got ${describeValue(value, rules.secret)}`);
  }
  if (rules.nonEmpty && value === '') throw invalid(field, 'expected a non-empty string');
  return value;
}

export interface IntegerOptionRules {
  min?: number;
  max?: number;
  /** Unit named in the message, e.g. `ms`. */
  unit?: string;
}

/** Largest delay a Node timer takes; a larger one fires at once. */
export const MAX_TIMER_MS = 2_147_483_647;

/** A whole-number option within bounds (a numeric string is refused: it is not a number). */
export function integerOption(
  value: unknown,
  field: string,
  rules: IntegerOptionRules = {},
): number | undefined {
  if (value === undefined) return undefined;
  const min = rules.min ?? 0;
  const max = rules.max ?? Number.MAX_SAFE_INTEGER;
  const unit = rules.unit ? ` ${rules.unit}` : '';
  const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(field, `expected a whole number ${range}${unit}, got ${describeValue(value)}`);
  }
  return value;
}

/** A function option (a callback). */
export function functionOption<T>(value: unknown, field: string): T | undefined {
  if (value === undefined || typeof value === 'function') return value as T | undefined;
  throw invalid(field, `expected a function, got ${describeValue(value)}`);
}

/** A plain object option (an options group such as `tls`, or `env`). */
export function objectOption(value: unknown, field: string): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Buffer.isBuffer(value)) {
    throw invalid(field, `expected an object, got ${describeValue(value)}`);
  }
  return value as Record<string, unknown>;
}

/**
 * Runs every check and throws one ValidationError with all their issues, so a user fixes every
 * option in one go; an error that is not a ValidationError is thrown as it is.
 */
export function checkAll(context: string, checks: readonly (() => unknown)[]): void {
  const issues: ValidationIssue[] = [];
  for (const check of checks) {
    try {
      check();
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      issues.push(...error.issues);
    }
  }
  if (issues.length > 0) throw new ValidationError(issues, context);
}
