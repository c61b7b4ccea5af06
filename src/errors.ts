/**
 * Every code a {@link VSphereError} can carry. Stable across releases: callers branch on it (or on
 * `instanceof`), never on message text. docs/errors.md says what a caller should do for each.
 */
export type VSphereErrorCode =
  // Input
  /** Bad input: {@link ValidationError} lists every issue by field. Fix the input; never retry. */
  | 'VALIDATION'
  /** A named inventory object does not exist (`NotFoundError`). */
  | 'NOT_FOUND'
  /** `destroy` of a VM InfraKit does not manage; it is left alone (`InstanceNotManagedError`). */
  | 'NOT_MANAGED'
  /** A name matches several objects; give an inventory path (`AmbiguousNameError`). */
  | 'AMBIGUOUS'
  /** VM notes that are not in the shared annotation format (`AnnotationError`). */
  | 'ANNOTATION'
  /** An upload's target file exists and overwrite was not asked for (`FileExistsError`). */
  | 'FILE_EXISTS'
  /** A caller's upload stream cannot be sent again after the session expired mid-upload. */
  | 'UPLOAD_RETRY'
  /** An upload's stream ended before, or went past, its declared size (`UploadSizeMismatchError`). */
  | 'UPLOAD_SIZE_MISMATCH'
  // vCenter's answers
  /** vCenter returned a fault (`VimFault`); match it by type with `isFault` / `VimFault.is`. */
  | 'VIM_FAULT'
  /** A task ended in error (`TaskFailedError`; its `fault` is the VimFault). */
  | 'TASK_FAILED'
  /** vCenter forgot a task (it restarted): look for the result (`TaskOutcomeUnknownError`). */
  | 'TASK_OUTCOME_UNKNOWN'
  /** An object a property wait watched was destroyed meanwhile (`ObjectGoneError`). */
  | 'OBJECT_GONE'
  /** A write read back differently: vCenter dropped it (`VerificationError`). */
  | 'VERIFY_FAILED'
  /** A soft power-off found the guest would not shut down; the VM runs on (`GuestShutdownError`). */
  | 'GUEST_SHUTDOWN'
  /** The user name or password was refused (`LoginError`). */
  | 'LOGIN_FAILED'
  /** The session was closed by `close()` (`SessionClosedError`). */
  | 'SESSION_CLOSED'
  // The connection
  /** The connection failed or was cut; the request may have been carried out (`TransportError`). */
  | 'TRANSPORT'
  /** The call ran out of its `timeoutMs` (`TimeoutError`). */
  | 'TIMEOUT'
  /** The caller's AbortSignal fired (`AbortError`). */
  | 'ABORTED'
  /** An HTTP status without a SOAP envelope, e.g. 503 from a proxy (`HttpStatusError`). */
  | 'HTTP_STATUS'
  /** The server's certificate is not trusted; the error names its thumbprints (`TlsError`). */
  | 'TLS_UNTRUSTED'
  /** The server's certificate does not match the pinned thumbprint (`TlsError`). */
  | 'TLS_THUMBPRINT_MISMATCH'
  // The vim25 codec
  /** A value cannot be written as vim25 XML (`EncodeError`). */
  | 'VIM25_ENCODE'
  /** A string holds a character XML 1.0 cannot carry (`InvalidXmlCharacterError`). */
  | 'VIM25_INVALID_XML_CHAR'
  /** A response is not a readable SOAP envelope (`DecodeError`). */
  | 'VIM25_DECODE'
  // The InfraKit plugin server
  /** A `PluginServer` option of the wrong type or value. */
  | 'INVALID_OPTION'
  | 'ALREADY_LISTENING'
  | 'SERVER_CLOSED'
  | 'LISTEN_FAILED'
  /** A JSON-RPC request for a plugin type this server does not serve. */
  | 'NO_PLUGIN'
  /** A plugin implementation returned something the InfraKit contract does not allow. */
  | 'PLUGIN_CONTRACT'
  | 'PLUGIN_SOCKET_IN_USE'
  | 'PLUGIN_SOCKET_PATH_TAKEN'
  | 'PLUGIN_SOCKET_PATH_TOO_LONG'
  | 'PLUGIN_SOCKET_UNUSABLE'
  | 'JSONRPC_PARSE_ERROR'
  | 'JSONRPC_INVALID_REQUEST'
  | 'JSONRPC_METHOD_NOT_FOUND'
  | 'JSONRPC_INVALID_PARAMS'
  | 'JSONRPC_SERVER_ERROR';

/**
 * Every error this library throws is a {@link VSphereError} with a stable `code`, so callers
 * branch on `code` (or `instanceof`), never on message text.
 */
export class VSphereError extends Error {
  /** Stable machine-readable code, e.g. `VIM_FAULT`, `VALIDATION`: see {@link VSphereErrorCode}. */
  readonly code: VSphereErrorCode;

  constructor(code: VSphereErrorCode, message: string, options?: { cause?: unknown }) {
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
