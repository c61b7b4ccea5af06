/**
 * Watches a test file for leaked secrets: every debug line of every `infrakit:*` namespace, and
 * every error, client or provider handed to it (its message, stack, own properties walked deeply,
 * JSON and `util.inspect` output, causes included). At the end, `leaks()` names each place a
 * password or a session cookie showed up. Session cookies come from the fault proxy (or any
 * object with a `cookies` set), which sees every `Set-Cookie` vCenter sends.
 */
import { inspect } from 'node:util';
import createDebug from 'debug';

interface Captured {
  where: string;
  text: string;
}

export class SecretWatch {
  private readonly secrets = new Set<string>();
  private readonly cookieSources: { cookies: ReadonlySet<string> }[] = [];
  private readonly captured: Captured[] = [];
  /** Debug lines captured so far. */
  debugLines = 0;
  /** Objects and errors examined so far. */
  examined = 0;

  /** Captures every `infrakit:*` debug line from now on (the namespaces stay enabled). */
  captureDebug(): this {
    createDebug.enable('infrakit:*');
    createDebug.log = (...args: unknown[]) => {
      this.debugLines += 1;
      this.captured.push({ where: 'debug log', text: args.map((a) => String(a)).join(' ') });
    };
    return this;
  }

  /** A secret to look for, in the forms it could be written in (raw, URL-encoded, XML-escaped). */
  secret(value: string): this {
    this.secrets.add(value);
    this.secrets.add(encodeURIComponent(value));
    this.secrets.add(value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'));
    return this;
  }

  /** Session cookies are read from `source.cookies` when leaks are looked for. */
  cookiesFrom(source: { cookies: ReadonlySet<string> }): this {
    this.cookieSources.push(source);
    return this;
  }

  /** Records text printed somewhere (CLI output, a reply body). */
  text(where: string, text: string): void {
    this.captured.push({ where, text });
  }

  /** Records an error (or anything thrown) the way a user could see or log it. */
  error(where: string, error: unknown): void {
    this.examined += 1;
    const parts: string[] = [String(error)];
    if (error instanceof Error) parts.push(error.stack ?? '', error.message);
    parts.push(inspect(error, { depth: Number.POSITIVE_INFINITY, showHidden: true }));
    parts.push(safeJson(error));
    parts.push(ownStrings(error));
    this.captured.push({ where, text: parts.join('\n') });
  }

  /**
   * Records an object (client, provider, session) as `util.inspect` shows it, at the default depth
   * and at every depth with hidden properties. (Its own properties are not walked: a live client
   * must hold the session-scoped ids it sends back, only never print them.)
   */
  object(where: string, value: unknown): void {
    this.examined += 1;
    this.captured.push({
      where,
      text: [
        inspect(value),
        inspect(value, { depth: Number.POSITIVE_INFINITY, showHidden: true, getters: true }),
      ].join('\n'),
    });
  }

  /** Every captured place where a secret or a cookie appears, as `where: what`. */
  leaks(): string[] {
    const needles = new Map<string, string>();
    for (const secret of this.secrets) if (secret.length >= 4) needles.set(secret, 'password');
    for (const source of this.cookieSources) {
      for (const cookie of source.cookies) if (cookie.length >= 8) needles.set(cookie, 'session cookie');
    }
    const found: string[] = [];
    for (const { where, text } of this.captured) {
      for (const [needle, what] of needles) {
        const at = text.indexOf(needle);
        if (at >= 0) found.push(`${where}: ${what} in …${text.slice(Math.max(0, at - 60), at + 20)}…`);
      }
    }
    return found;
  }

  /** Forgets what was captured (once checked), so that a long run's memory stays bounded. */
  clear(): void {
    this.captured.length = 0;
  }

  /** Captured lines that hold `needle` (to explain a failure: what the library logged about it). */
  linesWith(needle: string): string[] {
    return this.captured
      .filter(({ text }) => text.includes(needle))
      .map(({ where, text }) => `${where}: ${text.slice(0, 1000)}`);
  }

  /** Cookies seen so far (to show that the check had something to look for). */
  get cookieCount(): number {
    return this.cookieSources.reduce((n, s) => n + s.cookies.size, 0);
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? String(v) : v)) ?? '';
  } catch {
    return '';
  }
}

/** Every string reachable through own properties (enumerable or not), causes included. */
function ownStrings(root: unknown): string {
  const out: string[] = [];
  const seen = new Set<unknown>();
  const walk = (value: unknown, depth: number): void => {
    if (typeof value === 'string') {
      out.push(value);
      return;
    }
    if (typeof value !== 'object' || value === null || seen.has(value) || depth > 12) return;
    seen.add(value);
    if (value instanceof Map) {
      for (const [k, v] of value) {
        walk(k, depth + 1);
        walk(v, depth + 1);
      }
    } else if (value instanceof Set) {
      for (const v of value) walk(v, depth + 1);
    }
    for (const key of Reflect.ownKeys(value)) {
      let child: unknown;
      try {
        child = (value as Record<string | symbol, unknown>)[key];
      } catch {
        continue;
      }
      walk(child, depth + 1);
    }
  };
  walk(root, 0);
  return out.join('\n');
}
