/**
 * TLS trust for the vCenter connection: verified against the system roots (plus an optional
 * CA bundle) by default, or pinned to a certificate thumbprint, or, only when asked, not at all.
 */
import type { ConnectionOptions, PeerCertificate } from 'node:tls';
import { ValidationError, type ValidationIssue } from '../errors.ts';
import { booleanOption, describeValue, objectOption, stringOption } from '../options.ts';

export interface TlsOptions {
  /** PEM CA certificate(s) trusted in addition to the system roots (e.g. the vCenter VMCA root). */
  ca?: string | Buffer | ReadonlyArray<string | Buffer>;
  /**
   * Pin the server certificate: SHA-256 (64 hex digits) or SHA-1 (40, as vCenter displays it),
   * colons optional, any case. A pinned certificate is trusted whatever its chain or name, so
   * `ca` cannot be given with it.
   */
  thumbprint?: string;
  /** Accept any certificate. Only for labs; never the default; never with `ca` or `thumbprint`. */
  insecure?: boolean;
}

// See http.ts: ES imports of node:tls/node:net pull in more than the provider needs at start-up.
const { connect, rootCertificates } = process.getBuiltinModule('node:tls');
const { isIP } = process.getBuiltinModule('node:net');

export type TrustMode =
  | { kind: 'verify'; connect: ConnectionOptions }
  | { kind: 'pin'; algorithm: 'sha256' | 'sha1'; fingerprint: string }
  | { kind: 'insecure' };

/** Normalises a thumbprint to `AA:BB:...` upper case, or returns undefined if it is not one. */
export function normaliseThumbprint(
  input: string,
): { algorithm: 'sha256' | 'sha1'; fingerprint: string } | undefined {
  const hex = input.replace(/[:\s-]/g, '').toUpperCase();
  if (!/^[0-9A-F]+$/.test(hex)) return undefined;
  const algorithm = hex.length === 64 ? 'sha256' : hex.length === 40 ? 'sha1' : undefined;
  if (!algorithm) return undefined;
  return { algorithm, fingerprint: hex.match(/../g)!.join(':') };
}

/**
 * Every problem with TLS options: wrong types, contradictions and unreadable CA certificates.
 * Contradictions are refused rather than ranked: `insecure` would make a `ca` or `thumbprint`
 * silently meaningless, and a pin replaces the chain check, so a `ca` beside it would never be
 * consulted although its author expects it to be.
 */
export function tlsOptionIssues(value: unknown): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const take = (check: () => void) => {
    try {
      check();
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      issues.push(...error.issues);
    }
  };
  let options: Record<string, unknown> | undefined;
  take(() => {
    options = objectOption(value, 'tls');
  });
  if (!options) return issues;
  const o = options;
  take(() => booleanOption(o.insecure, 'tls.insecure'));
  take(() => stringOption(o.thumbprint, 'tls.thumbprint'));
  if (typeof o.thumbprint === 'string' && !normaliseThumbprint(o.thumbprint)) {
    issues.push({
      field: 'tls.thumbprint',
      message: 'expected a SHA-256 (64 hex digits) or SHA-1 (40 hex digits) thumbprint',
    });
  }
  if (o.ca !== undefined) issues.push(...caIssues(o.ca));
  const given = (key: string) => o[key] !== undefined;
  if (o.insecure === true && (given('ca') || given('thumbprint'))) {
    issues.push({
      field: 'tls',
      message: `insecure: true accepts any certificate; it cannot be combined with ${given('ca') ? 'ca' : 'thumbprint'} (choose one trust mode)`,
    });
  }
  if (given('thumbprint') && given('ca')) {
    issues.push({
      field: 'tls',
      message:
        'choose one of thumbprint or ca: a pinned certificate is trusted whatever its chain, so ca would be ignored',
    });
  }
  return issues;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * Checks a CA bundle (the text of a PEM file, as `TlsOptions.ca` takes it) before any connection:
 * each `-----BEGIN CERTIFICATE-----` block must parse as X.509, and a bundle with none is
 * refused. The issues name `field` and the certificate's position, never the bundle's content.
 *
 * @param text - the bundle's text
 * @param field - the name of the setting the bundle came from, for the issues
 * @returns the problems found; empty when the bundle is usable
 */
export function pemCertificateIssues(text: string, field: string): ValidationIssue[] {
  const blocks = text.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) {
    return [{ field, message: 'expected PEM certificate(s) (-----BEGIN CERTIFICATE-----), found none' }];
  }
  const { X509Certificate } = process.getBuiltinModule('node:crypto');
  const issues: ValidationIssue[] = [];
  blocks.forEach((block, index) => {
    try {
      new X509Certificate(block);
    } catch {
      issues.push({
        field,
        message: `certificate ${index + 1} of ${blocks.length} is not a valid X.509 certificate`,
      });
    }
  });
  return issues;
}

function caIssues(ca: unknown): ValidationIssue[] {
  const expected = 'expected a PEM string or Buffer, or an array of them';
  const one = (item: unknown, field: string): ValidationIssue[] => {
    if (typeof item === 'string') return pemCertificateIssues(item, field);
    if (Buffer.isBuffer(item)) return pemCertificateIssues(item.toString('latin1'), field);
    return [{ field, message: `${expected}, got ${describeValue(item)}` }];
  };
  if (!Array.isArray(ca)) return one(ca, 'tls.ca');
  if (ca.length === 0) return [{ field: 'tls.ca', message: `${expected}, got an empty array` }];
  return ca.flatMap((item, index) => one(item, `tls.ca[${index}]`));
}

/** Resolves the options to one trust mode; wrong types and conflicting options are a ValidationError. */
export function resolveTrust(options: TlsOptions = {}): TrustMode {
  const issues = tlsOptionIssues(options);
  if (issues.length > 0) throw new ValidationError(issues, 'invalid TLS options');
  if (options.insecure === true) return { kind: 'insecure' };
  if (options.thumbprint !== undefined) return { kind: 'pin', ...normaliseThumbprint(options.thumbprint)! };
  if (options.ca !== undefined) {
    const extra = Array.isArray(options.ca) ? options.ca : [options.ca];
    return { kind: 'verify', connect: { ca: [...rootCertificates, ...extra.map((c) => c.toString())] } };
  }
  return { kind: 'verify', connect: {} };
}

export function fingerprintsOf(cert: PeerCertificate | undefined): { sha256?: string; sha1?: string } {
  if (!cert?.fingerprint256) return {};
  return { sha256: cert.fingerprint256, sha1: cert.fingerprint };
}

/**
 * Reads the certificate a server presents, without trusting it, to put its thumbprints in the
 * error that refused it. Only used after verification failed; never sends application data.
 */
export function presentedFingerprints(
  host: string,
  port: number,
  timeoutMs = 5000,
): Promise<{ sha256?: string; sha1?: string }> {
  return new Promise((resolve) => {
    const socket = connect({
      host,
      port,
      servername: isIP(host) ? undefined : host,
      rejectUnauthorized: false,
    });
    const done = (prints: { sha256?: string; sha1?: string }) => {
      socket.destroy();
      resolve(prints);
    };
    socket.setTimeout(timeoutMs, () => done({}));
    socket.once('error', () => done({}));
    socket.once('secureConnect', () => done(fingerprintsOf(socket.getPeerCertificate())));
  });
}
