import { VSphereError } from '../errors.ts';

/**
 * A value cannot be written as vim25 XML: unknown method, field or type, a `_type` that is not a
 * subtype of the declared type, or a JS value of the wrong kind. Thrown before anything is sent.
 */
export class EncodeError extends VSphereError {
  /** Where in the request the problem is, e.g. `CreateVM_Task.config.deviceChange[0].device`. */
  readonly path: string;

  /**
   * @param path - where in the request the problem is
   * @param problem - what is wrong, in words a caller can act on
   * @param code - stable code; subclasses pass their own
   */
  constructor(
    path: string,
    problem: string,
    code: 'VIM25_ENCODE' | 'VIM25_INVALID_XML_CHAR' = 'VIM25_ENCODE',
  ) {
    super(code, `${path}: ${problem}`);
    this.path = path;
  }
}

/**
 * A string holds a character that XML 1.0 cannot carry (C0 controls other than tab, LF and CR,
 * U+FFFE, U+FFFF, lone surrogates). Sending it raw would make vCenter reject the whole request,
 * and there is no escape for it, so the caller must remove or encode it.
 */
export class InvalidXmlCharacterError extends EncodeError {
  /** The offending code point, e.g. `0x1b`. */
  readonly codePoint: number;

  /**
   * @param path - where in the request the string is
   * @param codePoint - the offending code point
   * @param index - its UTF-16 index in the string
   */
  constructor(path: string, codePoint: number, index: number) {
    super(
      path,
      `character U+${codePoint.toString(16).toUpperCase().padStart(4, '0')} at index ${index} cannot be carried by XML 1.0`,
      'VIM25_INVALID_XML_CHAR',
    );
    this.codePoint = codePoint;
  }
}

/** A response is not well-formed XML, holds a DOCTYPE, or is not a SOAP envelope. */
export class DecodeError extends VSphereError {
  /**
   * @param message - what is wrong, with the offset in the document when known
   * @param options - the underlying error, if any
   */
  constructor(message: string, options?: { cause?: unknown }) {
    super('VIM25_DECODE', message, options);
  }
}
