/**
 * TLS trust for the vCenter connection: verified against the system roots (plus an optional
 * CA bundle) by default, or pinned to a certificate thumbprint, or, only when asked, not at all.
 */
import type { ConnectionOptions, PeerCertificate } from 'node:tls';
import { ValidationError } from '../errors.ts';

export interface TlsOptions {
  /** PEM CA certificate(s) trusted in addition to the system roots (e.g. the vCenter VMCA root). */
  ca?: string | Buffer | ReadonlyArray<string | Buffer>;
  /**
   * Pin the server certificate: SHA-256 (64 hex digits) or SHA-1 (40, as vCenter displays it),
   * colons optional, any case. A pinned certificate is trusted whatever its chain or name.
   */
  thumbprint?: string;
  /** Accept any certificate. Only for labs; never the default. */
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

/** Resolves the options to one trust mode; conflicting options are a ValidationError. */
export function resolveTrust(options: TlsOptions = {}): TrustMode {
  const chosen = [options.insecure === true, options.thumbprint !== undefined].filter(Boolean).length;
  if (chosen > 1) {
    throw new ValidationError(
      [{ field: 'tls', message: 'choose one of thumbprint or insecure, not both' }],
      'invalid TLS options',
    );
  }
  if (options.insecure) return { kind: 'insecure' };
  if (options.thumbprint !== undefined) {
    const pin = normaliseThumbprint(options.thumbprint);
    if (!pin) {
      throw new ValidationError(
        [
          {
            field: 'tls.thumbprint',
            message: 'expected a SHA-256 (64 hex digits) or SHA-1 (40 hex digits) thumbprint',
          },
        ],
        'invalid TLS options',
      );
    }
    return { kind: 'pin', ...pin };
  }
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
