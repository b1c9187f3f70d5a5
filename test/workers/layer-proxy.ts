/**
 * A ChannelLayer whose every call runs in a worker thread on an instance attached to the
 * bus of a shared layer (test/workers/layer-host.js). Errors come back as the same classes
 * (by name) with the same fields; AbortSignals are forwarded; `stats()` stays synchronous
 * (the caller blocks on Atomics.wait until the worker answers on a second port).
 */
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import * as ringbus from '../../dist/index.js';
import type { Borrowed, ChannelLayer, LayerStats, Lease, Message, MessageShape, SharedLayerHandle } from '../../dist/index.js';
import { assertChannelName, assertGroupName, assertMessage } from '../../dist/layer.js';

const classes: Record<string, unknown> = { ...ringbus, TypeError, RangeError, Error };

interface WireError {
  name: string;
  message: string;
  stack?: string;
  props: Record<string, unknown>;
}

function revive(e: WireError): Error {
  const C = classes[e.name] as { prototype: object } | undefined;
  const err = Object.create(C?.prototype ?? Error.prototype) as Error;
  Object.defineProperty(err, 'message', { value: e.message, writable: true, configurable: true });
  Object.assign(err, e.props);
  err.name = e.name;
  err.stack = `${e.name}: ${e.message}\n    (in worker thread)\n${e.stack ?? ''}`;
  return err;
}

/** Start a worker attached to `handle` and return a ChannelLayer proxy to it. */
export async function workerPeer(handle: SharedLayerHandle): Promise<ChannelLayer> {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(new URL('./layer-host.js', import.meta.url), {
    workerData: { handle, flag: flag.buffer, syncPort: port2 },
    transferList: [port2],
  });
  const ready = await new Promise<{ clientId: string }>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', resolve);
  });
  return new LayerProxy(worker, flag, port1, ready.clientId);
}

class LayerProxy implements ChannelLayer {
  readonly extensions = ['groups', 'flush'];
  private next = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private terminated = false;

  constructor(
    private readonly worker: Worker,
    private readonly flag: Int32Array,
    private readonly syncPort: MessagePort,
    readonly clientId: string,
  ) {
    worker.on('message', (msg: { id: number; ok: boolean; value?: unknown; error?: WireError }) => {
      const p = this.pending.get(msg.id);
      if (p === undefined) return;
      this.pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.value);
      else p.reject(revive(msg.error as WireError));
    });
    worker.on('error', (err) => {
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    });
  }

  /** `at` is the index of the options argument that may carry a signal. */
  private call(method: string, args: unknown[], signal?: AbortSignal, at = 1): Promise<unknown> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const abortable = signal !== undefined;
      if (abortable) {
        const opts = { ...(args[at] as object) } as Record<string, unknown>;
        delete opts.signal;
        args = [...args.slice(0, at), opts];
        const onAbort = () => this.worker.postMessage({ abort: id, reason: String(signal.reason) });
        if (!signal.aborted) signal.addEventListener('abort', onAbort, { once: true });
        this.worker.postMessage({ id, method, args, abortable, at, aborted: signal.aborted, reason: String(signal.reason) });
      } else {
        this.worker.postMessage({ id, method, args });
      }
    });
  }

  private callSync(method: string, args: unknown[]): unknown {
    Atomics.store(this.flag, 0, 0);
    this.worker.postMessage({ id: 0, method, args, sync: true });
    Atomics.wait(this.flag, 0, 0, 10_000);
    const got = receiveMessageOnPort(this.syncPort);
    if (got === undefined) throw new Error(`worker did not answer ${method}() in time`);
    const reply = got.message as { ok: boolean; value?: unknown; error?: WireError };
    if (!reply.ok) throw revive(reply.error as WireError);
    return reply.value;
  }

  // Structured cloning would alter a bad message on its way (a class instance arrives as a
  // plain object, a function cannot be posted at all), so the proxy applies the layer's own
  // checks here, in the calling thread, before posting.
  async send<T extends MessageShape<T>>(channel: string, message: T, options?: { timeout?: number; signal?: AbortSignal }): Promise<void> {
    assertChannelName(channel);
    assertMessage(message);
    await this.call('send', [channel, message, options], options?.signal, 2);
  }

  async receive<T extends MessageShape<T> = Message>(channel: string, options?: { timeout?: number; signal?: AbortSignal }): Promise<T> {
    return (await this.call('receive', [channel, options], options?.signal)) as T;
  }

  // The synchronous calls stay synchronous: the caller blocks until the worker answers (as stats()).
  trySend<T extends MessageShape<T>>(channel: string, message: T): boolean {
    assertChannelName(channel);
    assertMessage(message);
    return this.callSync('trySend', [channel, message]) as boolean;
  }

  tryReceive<T extends MessageShape<T> = Message>(channel: string): T | undefined {
    return this.callSync('tryReceive', [channel]) as T | undefined;
  }

  async sendMany<T extends MessageShape<T>>(channel: string, messages: readonly T[], options?: { timeout?: number; signal?: AbortSignal }): Promise<void> {
    assertChannelName(channel);
    if (Array.isArray(messages)) messages.forEach((m, i) => {
      try {
        assertMessage(m);
      } catch (err) {
        throw new TypeError(`sendMany('${channel}'): messages[${i}]: ${(err as Error).message}; nothing of the batch was sent`);
      }
    });
    await this.call('sendMany', [channel, messages, options], options?.signal, 2);
  }

  async receiveMany<T extends MessageShape<T> = Message>(
    channel: string, options?: { max?: number; timeout?: number; signal?: AbortSignal },
  ): Promise<T[]> {
    return (await this.call('receiveMany', [channel, options], options?.signal)) as T[];
  }

  listen(channel: string, options?: { signal?: AbortSignal }): AsyncIterableIterator<never> {
    const signal = options?.signal;
    const self = this;
    async function* loop(): AsyncGenerator<Message> {
      while (!signal?.aborted) {
        try {
          yield await self.receive(channel, signal ? { signal } : undefined);
        } catch (err) {
          if ((err as Error).name === 'Aborted' && signal?.aborted) return;
          throw err;
        }
      }
    }
    return loop() as unknown as AsyncIterableIterator<never>;
  }

  async newChannel(prefix?: string): Promise<string> {
    return (await this.call('newChannel', prefix === undefined ? [] : [prefix])) as string;
  }

  async groupAdd(group: string, channel: string): Promise<void> {
    await this.call('groupAdd', [group, channel]);
  }

  async groupDiscard(group: string, channel: string): Promise<void> {
    await this.call('groupDiscard', [group, channel]);
  }

  async groupSend<T extends MessageShape<T>>(group: string, message: T): Promise<void> {
    assertGroupName(group);
    assertMessage(message);
    await this.call('groupSend', [group, message]);
  }

  async receiveLease<T extends MessageShape<T> = Message>(channel: string, options?: { timeout?: number; signal?: AbortSignal }): Promise<Lease<T>> {
    await this.call('receiveLease', [channel, options], options?.signal);
    throw new Error('leases cannot cross the test proxy');
  }

  /** Borrows cannot cross threads (their views are of the worker's memory): the worker's receive, lent here. */
  async receiveBorrowed<T extends MessageShape<T> = Message>(channel: string, options?: { timeout?: number; signal?: AbortSignal }): Promise<Borrowed<T>> {
    const message = (await this.call('receive', [channel, options], options?.signal)) as T;
    let released = false;
    return {
      message,
      get released() {
        return released;
      },
      release: () => !released && (released = true),
    };
  }

  async flush(): Promise<void> {
    await this.call('flush', []);
  }

  onEvent(): () => void {
    throw new Error('events are reported in the thread of the layer that caused them: not through the test proxy');
  }

  stats(): LayerStats {
    return this.callSync('stats', []) as LayerStats;
  }

  async close(): Promise<void> {
    if (this.terminated) return;
    try {
      await this.call('close', []);
    } finally {
      this.terminated = true;
      this.syncPort.close();
      await this.worker.terminate();
    }
  }
}
