/**
 * A child process spoken to in JSON lines: one request per line on its stdin, one answer per
 * line on its stdout. Both sides of the benchmark (the Node worker and the Go peer) run this way,
 * so the runner drives them alike and their heaps never mix with the runner's.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

export interface Answer {
  ok: boolean;
  error?: string;
  [key: string]: unknown;
}

export class LineProcess {
  readonly name: string;
  private readonly child: ChildProcess;
  private readonly waiting: ((line: string) => void)[] = [];
  private readonly lines: string[] = [];
  private stderr = '';
  private exited = false;

  private constructor(name: string, command: string, args: string[], env?: NodeJS.ProcessEnv) {
    this.name = name;
    this.child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], ...(env ? { env } : {}) });
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
      // BENCH_VERBOSE=1 passes the children's logs through (e.g. with DEBUG=infrakit:*).
      if (process.env.BENCH_VERBOSE) process.stderr.write(chunk);
    });
    const rl = createInterface({ input: this.child.stdout! });
    rl.on('line', (line) => {
      const next = this.waiting.shift();
      if (next) next(line);
      else this.lines.push(line);
    });
    this.child.once('exit', (code, signal) => {
      this.exited = true;
      const message = JSON.stringify({
        ok: false,
        error: `${name} exited (${code ?? signal}): ${this.stderr.trim().slice(-1500)}`,
      });
      for (const next of this.waiting.splice(0)) next(message);
    });
  }

  /** Starts the process and waits for its first line (the ready answer). */
  static async start(name: string, command: string, args: string[], env?: NodeJS.ProcessEnv) {
    const proc = new LineProcess(name, command, args, env);
    const ready = await proc.next();
    if (!ready.ok) throw new Error(`${name} did not start: ${ready.error}`);
    return { proc, ready };
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  private next(): Promise<Answer> {
    const parse = (line: string): Answer => {
      try {
        return JSON.parse(line) as Answer;
      } catch {
        return { ok: false, error: `${this.name} wrote a non-JSON line: ${line.slice(0, 300)}` };
      }
    };
    const queued = this.lines.shift();
    if (queued !== undefined) return Promise.resolve(parse(queued));
    if (this.exited) return Promise.resolve({ ok: false, error: `${this.name} has exited: ${this.stderr}` });
    return new Promise((resolve) => this.waiting.push((line) => resolve(parse(line))));
  }

  /**
   * Sends one request and returns its answer; throws when the answer is an error. A child that
   * does not answer within `timeoutMs` (a hung wait) is killed, so the run ends instead of hanging.
   */
  async ask<T extends Answer = Answer>(request: Record<string, unknown>, timeoutMs = 180_000): Promise<T> {
    if (this.exited) throw new Error(`${this.name} has exited: ${this.stderr}`);
    const answer = this.next();
    this.child.stdin!.write(`${JSON.stringify(request)}\n`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<Answer>((resolve) => {
      timer = setTimeout(() => {
        this.child.kill('SIGKILL');
        resolve({
          ok: false,
          error: `no answer in ${timeoutMs / 1000} s (killed; a wait that never ends?)`,
        });
      }, timeoutMs);
    });
    const result = await Promise.race([answer, timeout]);
    clearTimeout(timer);
    if (!result.ok) throw new Error(`${this.name} ${String(request.op)}: ${result.error}`);
    return result as T;
  }

  /** Asks it to quit, and kills it if it has not within 10 s. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = once(this.child, 'exit');
    this.child.stdin!.end(`${JSON.stringify({ op: 'quit' })}\n`);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}
