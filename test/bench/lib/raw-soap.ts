/**
 * Bench-side SOAP with hand-written XML over one keep-alive HTTPS connection pool: used to build
 * large groups in vcsim quickly, and as the wire floor (a POST whose answer is read and thrown
 * away). It shares no code with the library under test, so the floor cannot inherit its costs.
 */
import http from 'node:http';
import https from 'node:https';

export const SOAP_ENVELOPE_HEAD =
  '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>';
export const SOAP_ENVELOPE_TAIL = '</soapenv:Body></soapenv:Envelope>';

export interface RawResponse {
  status: number;
  body: Buffer;
  setCookie: string | undefined;
}

/** Escapes text for an XML element body or attribute. */
export function xmlText(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/\r/g, '&#13;');
}

/** The text of the first `<tag ...>value</tag>` in `xml`. */
export function firstText(xml: string, tag: string): string | undefined {
  const match = new RegExp(`<${tag}(?:\\s[^>]*)?>([^<]*)</${tag}>`).exec(xml);
  return match?.[1];
}

export class RawSoap {
  readonly url: URL;
  private readonly agent: http.Agent;
  private cookie: string | undefined;
  /** Service content MoRef values by field name (rootFolder, searchIndex, ...). */
  readonly content: Record<string, string> = {};

  constructor(sdkUrl: string, maxSockets = 32) {
    this.url = new URL(sdkUrl);
    const options = { keepAlive: true, maxSockets };
    this.agent =
      this.url.protocol === 'https:'
        ? new https.Agent({ ...options, rejectUnauthorized: false })
        : new http.Agent(options);
  }

  /** One POST to /sdk of a whole envelope; the body is buffered. */
  post(envelope: string | Buffer): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const req = this.request(envelope, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks),
            setCookie: res.headers['set-cookie']?.[0]?.split(';')[0],
          }),
        );
        res.on('error', reject);
      });
      req.on('error', reject);
    });
  }

  /** The wire floor: one POST whose answer is read to the end and discarded. Returns its status and size. */
  postDiscard(envelope: string | Buffer): Promise<{ status: number; bytes: number }> {
    return new Promise((resolve, reject) => {
      const req = this.request(envelope, (res) => {
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
        res.on('error', reject);
      });
      req.on('error', reject);
    });
  }

  private request(envelope: string | Buffer, onResponse: (res: http.IncomingMessage) => void) {
    const transport = this.url.protocol === 'https:' ? https : http;
    const req = transport.request(
      {
        agent: this.agent,
        host: this.url.hostname,
        port: this.url.port,
        path: this.url.pathname || '/sdk',
        method: 'POST',
        headers: {
          'content-type': 'text/xml; charset=utf-8',
          soapaction: 'urn:vim25/8.0.2.0',
          'content-length': Buffer.byteLength(envelope),
          ...(this.cookie ? { cookie: this.cookie } : {}),
        },
      },
      onResponse,
    );
    req.end(envelope);
    return req;
  }

  /** One call with a hand-written body element; returns the response text, throws on a fault. */
  async call(method: string, innerXml: string): Promise<string> {
    const response = await this.post(`${SOAP_ENVELOPE_HEAD}${innerXml}${SOAP_ENVELOPE_TAIL}`);
    if (response.setCookie) this.cookie = response.setCookie;
    const text = response.body.toString('utf8');
    if (response.status !== 200 || text.includes(':Fault>')) {
      throw new Error(`${method} failed (HTTP ${response.status}): ${text.slice(0, 600)}`);
    }
    return text;
  }

  async login(username = 'user', password = 'pass'): Promise<void> {
    const sc = await this.call(
      'RetrieveServiceContent',
      '<RetrieveServiceContent xmlns="urn:vim25"><_this type="ServiceInstance">ServiceInstance</_this></RetrieveServiceContent>',
    );
    for (const key of [
      'rootFolder',
      'propertyCollector',
      'viewManager',
      'sessionManager',
      'searchIndex',
      'setting',
    ]) {
      const value = firstText(sc, key);
      if (value) this.content[key] = value;
    }
    await this.call(
      'Login',
      `<Login xmlns="urn:vim25"><_this type="SessionManager">${this.content.sessionManager}</_this><userName>${xmlText(username)}</userName><password>${xmlText(password)}</password></Login>`,
    );
  }

  /** FindByInventoryPath: `{type, value}` or undefined. */
  async findByPath(path: string): Promise<{ type: string; value: string } | undefined> {
    const text = await this.call(
      'FindByInventoryPath',
      `<FindByInventoryPath xmlns="urn:vim25"><_this type="SearchIndex">${this.content.searchIndex}</_this><inventoryPath>${xmlText(path)}</inventoryPath></FindByInventoryPath>`,
    );
    const match = /<returnval type="([^"]+)">([^<]+)<\/returnval>/.exec(text);
    return match ? { type: match[1]!, value: match[2]! } : undefined;
  }

  /** Child entities of a folder, as MoRef values by type. */
  async childEntities(folder: string): Promise<{ type: string; value: string }[]> {
    const text = await this.call(
      'RetrievePropertiesEx',
      `<RetrievePropertiesEx xmlns="urn:vim25"><_this type="PropertyCollector">${this.content.propertyCollector}</_this><specSet><propSet><type>Folder</type><pathSet>childEntity</pathSet></propSet><objectSet><obj type="Folder">${folder}</obj><skip>false</skip></objectSet></specSet><options/></RetrievePropertiesEx>`,
    );
    return [
      ...text.matchAll(/<ManagedObjectReference type="([^"]+)">([^<]+)<\/ManagedObjectReference>/g),
    ].map((m) => ({ type: m[1]!, value: m[2]! }));
  }

  async logout(): Promise<void> {
    if (!this.cookie) return;
    await this.call(
      'Logout',
      `<Logout xmlns="urn:vim25"><_this type="SessionManager">${this.content.sessionManager}</_this></Logout>`,
    ).catch(() => undefined);
    this.cookie = undefined;
  }

  close(): void {
    this.agent.destroy();
  }
}
