/**
 * Removes secrets from text before it reaches a log line or an error message: the password of
 * Login (and any other credential-carrying element), session keys, and session-scoped object ids
 * (`session[<key>]…`: vCenter and vcsim embed the session key in the ids of views and filters,
 * and in vcsim that key is also the session cookie).
 */
const SECRET_ELEMENTS =
  /<((?:[\w-]+:)?(?:password|newPassword|sessionId|samlToken|key))(\s[^>]*)?>[^<]*<\/\1>/gi;
const SESSION_SCOPED_ID = /session\[[^\]]*\]/g;

export function redactSecrets(text: string): string {
  return text.replace(SESSION_SCOPED_ID, 'session[***]');
}

export function redactSoapBody(xml: string): string {
  return redactSecrets(
    xml.replace(
      SECRET_ELEMENTS,
      (_match, name: string, attrs: string | undefined) => `<${name}${attrs ?? ''}>***</${name}>`,
    ),
  );
}
