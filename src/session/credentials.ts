/**
 * Where the vCenter endpoint and credentials come from: `https://user:pass@host/sdk` (the
 * original plugin's --url, percent-decoded), separate username/password options, or env VCURL.
 */
import { ValidationError } from '../errors.ts';

export interface Endpoint {
  /** `https://host[:port]/sdk`, never with credentials. */
  sdkUrl: URL;
  username: string;
  password: string;
}

export interface EndpointOptions {
  /** `https://user:pass@vc.example.com/sdk`; a bare host gets `https://` and `/sdk`. Default: env VCURL. */
  url?: string;
  /** Overrides the user in the URL. */
  username?: string;
  /** Overrides the password in the URL. One of the two is required; `''` counts as none. */
  password?: string;
}

/** Parses and checks the endpoint; errors name the option and never echo the password. */
export function resolveEndpoint(options: EndpointOptions, env: NodeJS.ProcessEnv = process.env): Endpoint {
  const raw = options.url ?? env.VCURL;
  if (raw === undefined || raw.trim() === '') {
    throw new ValidationError(
      [
        {
          field: 'url',
          message:
            'the vCenter URL is required (option url or env VCURL), e.g. https://user:pass@vcenter/sdk',
        },
      ],
      'invalid vCenter endpoint',
    );
  }
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `https://${raw}`);
  } catch {
    throw new ValidationError(
      [{ field: 'url', message: 'not a valid URL (expected https://user:pass@host/sdk)' }],
      'invalid vCenter endpoint',
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ValidationError(
      [{ field: 'url', message: `scheme ${url.protocol} is not supported (expected https: or http:)` }],
      'invalid vCenter endpoint',
    );
  }
  const username = options.username ?? safeDecode(url.username);
  // vCenter has no account with an empty password: '' (an unset variable passed on, `user:@host`)
  // is no password, and the next source is looked at.
  const password = nonEmpty(options.password) ?? nonEmpty(safeDecode(url.password));
  url.username = '';
  url.password = '';
  url.search = '';
  url.hash = '';
  if (url.pathname === '' || url.pathname === '/') url.pathname = '/sdk';
  if (!username) {
    throw new ValidationError(
      [{ field: 'username', message: 'a user name is required (in the URL or the username option)' }],
      'invalid vCenter endpoint',
    );
  }
  if (password === undefined) {
    // Refused here, before any request: sent, it would only come back as vCenter's InvalidLogin
    // (and count against the account's lockout), hiding that no password was configured at all.
    throw new ValidationError(
      [
        {
          field: 'password',
          message:
            'no password given: put it in the URL (https://user:password@host/sdk) or the password option (the CLI: --password-file, env VCPASSWORD, or a config file password key)',
        },
      ],
      'invalid vCenter endpoint',
    );
  }
  return { sdkUrl: url, username, password };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
