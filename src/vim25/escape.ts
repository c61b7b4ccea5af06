import { InvalidXmlCharacterError } from './errors.ts';

// One test finds both the characters to escape and the ones to refuse, so clean strings (nearly all of
// them) cost a single regex scan and are returned as they are. The `u` flag makes the surrogate range
// match only lone surrogates: a well-formed pair is one code point outside it.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
const NEEDS_WORK = /[&<>"'\r\0-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF\uD800-\uDFFF]/u;
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
const INVALID = /[\0-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF\uD800-\uDFFF]/u;
const SPECIAL = /[&<>"'\r]/g;
const REPLACEMENT: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
  // A literal CR would be turned into LF by the receiving parser (XML end-of-line handling); the
  // reference survives, which is also how vCenter sends it.
  '\r': '&#13;',
};

/**
 * Escapes `text` for element content or a double-quoted attribute value.
 *
 * @param text - the string to write
 * @param path - where it sits in the request, for the error message
 * @throws InvalidXmlCharacterError when `text` holds a character XML 1.0 cannot carry
 */
export function escapeXml(text: string, path: string): string {
  if (!NEEDS_WORK.test(text)) return text;
  const bad = INVALID.exec(text);
  if (bad) throw new InvalidXmlCharacterError(path, bad[0].codePointAt(0) ?? 0, bad.index);
  return text.replace(SPECIAL, (ch) => REPLACEMENT[ch] ?? ch);
}
