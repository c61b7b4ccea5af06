/**
 * Secrets the CLI has seen (passwords, from files, the environment or URLs), so that no line it
 * prints carries one.
 */
import type { TextOutput } from './io.ts';

/** Secrets seen while resolving options; every line the CLI prints is scrubbed of them. */
export class Secrets {
  readonly #values = new Set<string>();

  add(secret: string | undefined): void {
    if (secret === undefined || secret.length < 3) return;
    this.#values.add(secret);
    for (const encoded of [encodeURIComponent(secret), encodeURI(secret)]) this.#values.add(encoded);
  }

  /** Adds the password in a URL, if it has one. */
  addUrl(url: string | undefined): void {
    if (url === undefined) return;
    try {
      const parsed = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `https://${url}`);
      if (parsed.password !== '') {
        this.#values.add(parsed.password);
        try {
          this.add(decodeURIComponent(parsed.password));
        } catch {
          // not percent-encoded properly: the raw form is already covered
        }
      }
    } catch {
      // not a URL: no password to find; the whole value stays out of messages anyway
    }
  }

  redact(text: string): string {
    let out = text;
    // Longest first, so a secret containing another is replaced whole.
    for (const value of [...this.#values].sort((a, b) => b.length - a.length)) {
      if (out.includes(value)) out = out.split(value).join('***');
    }
    return out;
  }

  /** `output` with every write scrubbed. */
  wrap(output: TextOutput): TextOutput {
    return {
      write: (chunk: string) => output.write(this.redact(chunk)),
      ...(output.isTTY !== undefined ? { isTTY: output.isTTY } : {}),
      ...(output.columns !== undefined ? { columns: output.columns } : {}),
    };
  }
}
