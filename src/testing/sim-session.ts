/**
 * A SOAP session to a vcsim written by hand (raw XML over node:http/https, parsed with
 * fast-xml-parser), not with the library: a bug in the library cannot hide itself in the helpers
 * tests use to set up and check vcsim. Shared by the testing kit ({@link startVcsim}) and this
 * package's own test harness.
 */
import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { XMLParser } from 'fast-xml-parser';

/** A VM as vcsim reports it. */
export interface SimVm {
  /** MoRef value, e.g. `vm-42`. */
  moref: string;
  name: string;
  /** `poweredOn`, `poweredOff` or `suspended`. */
  powerState: string;
  annotation: string | undefined;
  ipAddress: string | undefined;
  /** MoRef value of the parent folder. */
  parent: string;
  template: boolean;
}

/** Options of a running vcsim's `startTools`. */
export interface SimToolsOptions {
  /** A VM gets its IP once it has been seen powered on this long. Default 500 ms. */
  delayMs?: number;
  /** Poll period. Default 200 ms. */
  intervalMs?: number;
  /** The IP for the `n`-th VM (from 1). Default `10.0.<n / 250>.<n % 250 + 2>`. */
  ipFor?: (vm: SimVm, n: number) => string;
}

/** vcsim's certificate. */
export interface SimCertificate {
  pem: string;
  /** `AA:BB:…`, as Node prints it. */
  sha256: string;
  sha1: string;
}

/** A parsed XML element (fast-xml-parser: attributes as `@_name`, text as `#text`). */
export type XmlNode = Record<string, unknown>;

const parser = new XMLParser({
  ignoreAttributes: false,
  removeNSPrefix: true,
  parseTagValue: false,
  trimValues: false,
  // Numeric references (&#xA; for a newline in an annotation) are decoded only with htmlEntities.
  htmlEntities: true,
  isArray: (name) => ['objects', 'propSet', 'returnval', 'ManagedObjectReference'].includes(name),
});

const XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"';
const XSD = 'xmlns:xsd="http://www.w3.org/2001/XMLSchema"';

/** The text of a parsed element (its first, if repeated); '' when absent. */
export function textOf(value: unknown): string {
  if (Array.isArray(value)) return textOf(value[0]);
  if (value === undefined || value === null) return '';
  if (typeof value === 'object') {
    const text = (value as XmlNode)['#text'];
    return text === undefined ? '' : String(text);
  }
  return String(value);
}

/** Escapes text for an XML element. */
export function xmlText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function post(
  url: URL,
  method: string,
  innerXml: string,
  cookie: string | undefined,
  agent: http.Agent | false | undefined,
): Promise<{ status: number; body: string; setCookie?: string }> {
  const body = `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>${innerXml}</soapenv:Body></soapenv:Envelope>`;
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = transport.request(
      {
        host: url.hostname,
        port: url.port,
        path: '/sdk',
        method: 'POST',
        ...(agent === undefined ? {} : { agent }),
        rejectUnauthorized: false,
        headers: {
          'content-type': 'text/xml; charset=utf-8',
          soapaction: 'urn:vim25/8.0.2.0',
          'content-length': Buffer.byteLength(body),
          ...(cookie ? { cookie } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const raw = res.headers['set-cookie']?.[0];
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            ...(raw ? { setCookie: raw.split(';')[0] } : {}),
          });
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error(`vcsim ${method} timed out`)));
    req.on('error', (error) => reject(new Error(`vcsim ${method} on ${url.host}: ${error.message}`)));
    req.end(body);
  });
}

/** Reads the certificate a TLS server presents (without trusting it). */
export async function fetchCertificate(url: URL): Promise<SimCertificate> {
  const socket = tls.connect({
    host: url.hostname,
    port: Number(url.port),
    rejectUnauthorized: false,
    servername: '',
  });
  try {
    await once(socket, 'secureConnect');
    const cert = socket.getPeerCertificate();
    const b64 = cert.raw.toString('base64').replace(/(.{64})/g, '$1\n');
    return {
      pem: `-----BEGIN CERTIFICATE-----\n${b64.replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`,
      sha256: cert.fingerprint256,
      sha1: cert.fingerprint,
    };
  } finally {
    socket.destroy();
  }
}

/** Where and as whom a {@link SimSession} connects; read at each login (vcsim may be restarted). */
export interface SimEndpoint {
  base(): URL;
  username: string;
  password: string;
  /** The HTTP agent for the calls: `false` for a connection per call; default Node's global agent. */
  agent?: http.Agent | false;
}

/** One logged-in SOAP session to a vcsim, with the helpers tests need. */
export class SimSession {
  readonly #endpoint: SimEndpoint;
  #cookie: string | undefined;
  /** MoRef values of the service content (they differ between the vCenter and ESX models). */
  #serviceContent: Record<string, string> = {};
  #toolsTimer: NodeJS.Timeout | undefined;

  constructor(endpoint: SimEndpoint) {
    this.#endpoint = endpoint;
  }

  /** Forgets the session (after vcsim restarted): the next call logs in again. */
  reset(): void {
    this.#cookie = undefined;
  }

  /** Sends one SOAP call with hand-written body XML; returns the parsed Body. */
  async soap(method: string, innerXml: string, options: { login?: boolean } = {}): Promise<XmlNode> {
    if (options.login !== false && !this.#cookie) await this.#login();
    const { status, body, setCookie } = await post(
      this.#endpoint.base(),
      method,
      innerXml,
      this.#cookie,
      this.#endpoint.agent,
    );
    if (setCookie) this.#cookie = setCookie;
    const envelope = parser.parse(body) as XmlNode;
    const soapBody = (envelope.Envelope as XmlNode | undefined)?.Body as XmlNode | undefined;
    if (!soapBody) throw new Error(`vcsim answered ${status} without a SOAP body`);
    if (soapBody.Fault) {
      const fault = soapBody.Fault as XmlNode;
      throw new Error(`vcsim fault on ${method}: ${textOf(fault.faultstring) || JSON.stringify(fault)}`);
    }
    return soapBody;
  }

  /** The service content's MoRef values (`rootFolder`, `propertyCollector`, …), logging in if needed. */
  async serviceContent(): Promise<Readonly<Record<string, string>>> {
    if (!this.#cookie) await this.#login();
    return this.#serviceContent;
  }

  async #login(): Promise<void> {
    const content = await this.soap(
      'RetrieveServiceContent',
      '<RetrieveServiceContent xmlns="urn:vim25"><_this type="ServiceInstance">ServiceInstance</_this></RetrieveServiceContent>',
      { login: false },
    );
    const returnval = ((content.RetrieveServiceContentResponse as XmlNode).returnval as XmlNode[])[0] ?? {};
    for (const key of ['rootFolder', 'propertyCollector', 'viewManager', 'sessionManager', 'setting']) {
      this.#serviceContent[key] = textOf(returnval[key]);
    }
    await this.soap(
      'Login',
      `<Login xmlns="urn:vim25"><_this type="SessionManager">${this.#serviceContent.sessionManager}</_this><userName>${xmlText(this.#endpoint.username)}</userName><password>${xmlText(this.#endpoint.password)}</password></Login>`,
      { login: false },
    );
  }

  /** Sets `config.vmacore.soap.sessionTimeout` (vcsim >= 0.51 honours it for new sessions). */
  async setSessionTimeout(duration: string): Promise<void> {
    const sc = await this.serviceContent();
    await this.soap(
      'UpdateOptions',
      `<UpdateOptions xmlns="urn:vim25"><_this type="OptionManager">${sc.setting}</_this><changedValue><key>config.vmacore.soap.sessionTimeout</key><value ${XSI} xsi:type="xsd:string" ${XSD}>${xmlText(duration)}</value></changedValue></UpdateOptions>`,
    );
  }

  /** Every VM in the inventory: MoRef value, name, power state, annotation, guest IP, parent. */
  async listVms(): Promise<SimVm[]> {
    const sc = await this.serviceContent();
    const view = await this.soap(
      'CreateContainerView',
      `<CreateContainerView xmlns="urn:vim25"><_this type="ViewManager">${sc.viewManager}</_this><container type="Folder">${sc.rootFolder}</container><type>VirtualMachine</type><recursive>true</recursive></CreateContainerView>`,
    );
    const viewId = textOf((view.CreateContainerViewResponse as XmlNode).returnval as unknown);
    try {
      const result = await this.soap(
        'RetrievePropertiesEx',
        `<RetrievePropertiesEx xmlns="urn:vim25"><_this type="PropertyCollector">${sc.propertyCollector}</_this><specSet><propSet><type>VirtualMachine</type><pathSet>name</pathSet><pathSet>runtime.powerState</pathSet><pathSet>config.annotation</pathSet><pathSet>guest.ipAddress</pathSet><pathSet>parent</pathSet><pathSet>config.template</pathSet></propSet><objectSet><obj type="ContainerView">${viewId}</obj><skip>true</skip><selectSet ${XSI} xsi:type="TraversalSpec"><name>v</name><type>ContainerView</type><path>view</path><skip>false</skip></selectSet></objectSet></specSet><options/></RetrievePropertiesEx>`,
      );
      const returnval = (
        (result.RetrievePropertiesExResponse as XmlNode).returnval as XmlNode[] | undefined
      )?.[0];
      const objects = (returnval?.objects as XmlNode[] | undefined) ?? [];
      return objects.map((object) => {
        const props = new Map<string, unknown>();
        for (const p of (object.propSet as XmlNode[] | undefined) ?? []) props.set(String(p.name), p.val);
        return {
          moref: textOf(object.obj),
          name: textOf(props.get('name')),
          powerState: textOf(props.get('runtime.powerState')),
          annotation: props.has('config.annotation') ? textOf(props.get('config.annotation')) : undefined,
          ipAddress: props.has('guest.ipAddress') ? textOf(props.get('guest.ipAddress')) : undefined,
          parent: textOf(props.get('parent')),
          template: textOf(props.get('config.template')) === 'true',
        };
      });
    } finally {
      await this.soap(
        'DestroyView',
        `<DestroyView xmlns="urn:vim25"><_this type="ContainerView">${viewId}</_this></DestroyView>`,
      );
    }
  }

  /** Makes a VM (by MoRef value) report a guest IP, as VMware Tools would. */
  async setGuestIp(vmMoref: string, ip: string): Promise<void> {
    await this.soap(
      'ReconfigVM_Task',
      `<ReconfigVM_Task xmlns="urn:vim25"><_this type="VirtualMachine">${xmlText(vmMoref)}</_this><spec><extraConfig><key>SET.guest.ipAddress</key><value ${XSI} xsi:type="xsd:string" ${XSD}>${xmlText(ip)}</value></extraConfig></spec></ReconfigVM_Task>`,
    );
  }

  /**
   * Stands in for VMware Tools: every VM seen powered on for `delayMs` without an IP gets one
   * (`10.0.<n>.<m>` unless `ipFor` says otherwise). Runs until {@link stopTools}.
   */
  startTools(options: SimToolsOptions = {}): void {
    this.stopTools();
    const delayMs = options.delayMs ?? 500;
    const firstSeenOn = new Map<string, number>();
    let counter = 0;
    const tick = async (): Promise<void> => {
      try {
        const now = Date.now();
        for (const vm of await this.listVms()) {
          if (vm.powerState !== 'poweredOn' || vm.ipAddress) continue;
          const seen = firstSeenOn.get(vm.moref) ?? now;
          firstSeenOn.set(vm.moref, seen);
          if (now - seen < delayMs) continue;
          counter += 1;
          const ip =
            options.ipFor?.(vm, counter) ?? `10.0.${Math.floor(counter / 250)}.${(counter % 250) + 2}`;
          await this.setGuestIp(vm.moref, ip);
        }
      } catch {
        // a VM destroyed mid-tick, or vcsim stopping or restarting: the next tick sees the new state
      }
      if (this.#toolsTimer) this.#toolsTimer = setTimeout(tick, options.intervalMs ?? 200).unref();
    };
    this.#toolsTimer = setTimeout(tick, 0).unref();
  }

  stopTools(): void {
    if (this.#toolsTimer) clearTimeout(this.#toolsTimer);
    this.#toolsTimer = undefined;
  }
}
