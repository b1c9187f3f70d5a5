/**
 * Property-based fuzzing (fast-check) of names and messages on every backend: memory,
 * shared (two instances on one bus; plain and records encoding), shared under at-least-once
 * delivery (leases), Redis (a real redis-server) and hybrid (two buses on that Redis). For every generated message: it round-trips exactly
 * (-0, NaN, bytes, `__proto__` as an own key, plain prototypes) or is refused at send with
 * a TypeError, as the oracle of ./model.ts says; a refused send enqueues nothing; nothing
 * hangs; another channel's message is untouched; `Object.prototype` never changes.
 * Run counts stay modest (CI has two cores); a failure prints the seed to replay it.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  attachLayer,
  createLayer,
  MessageTooLarge,
  TimeoutError,
  type ChannelLayer,
  type Message,
  type SharedLayer,
} from '../../dist/index.js';
import { redisTestsEnabled, useRedisServer } from '../redis/server.js';
import {
  anyName,
  channelName,
  difference,
  expected,
  groupName,
  message,
  prototypeSnapshot,
  validChannelName,
} from './model.js';

/** A wait that does not end within this many ms counts as a hang. */
const HANG_MS = 10_000;

interface Pair {
  sender: ChannelLayer;
  receiver: ChannelLayer;
  leases: boolean;
}

/** Receive one message from `channel` the way this pair does (a lease is acked at once). */
async function take(pair: Pair, channel: string): Promise<Message> {
  if (!pair.leases) return pair.receiver.receive(channel, { timeout: HANG_MS });
  const lease = await pair.receiver.receiveLease(channel, { timeout: HANG_MS });
  expect(lease.deliveries).toBe(1);
  expect(await lease.ack()).toBe(true);
  return lease.message;
}

async function expectEmpty(pair: Pair, channel: string): Promise<void> {
  await expect(pair.receiver.receive(channel, { timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
}

/** Send `m`; check acceptance or refusal against the oracle; returns what must arrive, if anything. */
async function sendChecked(send: () => Promise<void>, m: unknown): Promise<Message | undefined> {
  const want = expected(m);
  let error: unknown;
  try {
    await send();
  } catch (err) {
    error = err;
  }
  if (error === undefined) {
    if (!want.ok) throw new Error(`accepted a message the contract refuses (${want.reason})`);
    return want.value;
  }
  if (want.ok && !(error instanceof MessageTooLarge)) throw new Error(`refused a valid message: ${String(error)}`);
  if (!want.ok && !(error instanceof TypeError)) throw new Error(`refused (${want.reason}) with ${String(error)}, not a TypeError`);
  return undefined;
}

let runs = 0;

function properties(name: string, open: () => Promise<Pair>, numRuns: number): void {
  describe(`fuzz: ${name}`, () => {
    let pair: Pair;
    beforeAll(async () => {
      pair = await open();
    });
    afterAll(async () => {
      if (pair.sender !== pair.receiver) await pair.sender.close();
      await pair.receiver.close();
    });

    it('every message round-trips exactly or is refused at send; other channels are unaffected', async () => {
      const before = prototypeSnapshot();
      await fc.assert(
        fc.asyncProperty(channelName, groupName, fc.array(message, { minLength: 1, maxLength: 4 }), async (channel, group, messages) => {
          const run = runs++;
          const { sender, receiver } = pair;
          const sentinel = await receiver.newChannel('fuzz');
          await sender.send(sentinel, { sentinel: run });

          const arriving: Message[] = [];
          for (const m of messages) {
            const want = await sendChecked(() => sender.send(channel, m as Message), m);
            if (want !== undefined) arriving.push(want);
          }
          for (const want of arriving) {
            const d = difference(await take(pair, channel), want);
            if (d !== null) throw new Error(`changed in transit: ${d}`);
          }
          await expectEmpty(pair, channel);

          const member = await receiver.newChannel('member');
          await receiver.groupAdd(group, member);
          const first = messages[0];
          const want = await sendChecked(() => sender.groupSend(group, first as Message), first);
          if (want !== undefined) {
            const d = difference(await take(pair, member), want);
            if (d !== null) throw new Error(`changed in transit through a group: ${d}`);
          }
          await expectEmpty(pair, member);
          await receiver.groupDiscard(group, member);

          expect(await take(pair, sentinel)).toEqual({ sentinel: run });
          expect(prototypeSnapshot()).toBe(before);
          expect(({} as Record<string, unknown>).d).toBeUndefined();
        }),
        { numRuns },
      );
    }, 300_000);

    it('a name is accepted exactly when it follows the naming rule', async () => {
      await fc.assert(
        fc.asyncProperty(anyName, async (name) => {
          const { sender, receiver } = pair;
          const valid = validChannelName(name);
          const sent = sender.send(name, { name }).then(
            () => true,
            (err: unknown) => {
              if (!(err instanceof TypeError)) throw err;
              return false;
            },
          );
          expect(await sent).toBe(valid);
          const grouped = receiver.groupAdd(name, 'fuzz.member').then(
            () => true,
            (err: unknown) => {
              if (!(err instanceof TypeError)) throw err;
              return false;
            },
          );
          expect(await grouped).toBe(valid && !name.includes('!'));
          if (valid && !name.includes('!')) {
            expect(await take(pair, name)).toEqual({ name });
            await receiver.groupDiscard(name, 'fuzz.member');
          }
          if (valid && name.includes('!')) await receiver.flush(); // another instance's process-specific channel
        }),
        { numRuns: Math.ceil(numRuns / 2) },
      );
    }, 300_000);
  });
}

properties('memory', async () => {
  const layer = await createLayer({ backend: 'memory' });
  return { sender: layer, receiver: layer, leases: false };
}, 150);

const SHARED_SIZE = { memory: 8 * 1024 * 1024, maxNames: 4096 };
const SHARED = { backend: 'shared', ...SHARED_SIZE } as const;

properties('shared', async () => {
  const receiver = await createLayer(SHARED);
  return { sender: await attachLayer((receiver as SharedLayer).handle), receiver, leases: false };
}, 150);

// The records codec (option records) on the sender: each generated message is a new shape
// (a plain map) or one seen before (a record); both must arrive exactly.
properties('shared, records', async () => {
  const receiver = await createLayer(SHARED);
  const { handle } = receiver as SharedLayer;
  return { sender: await attachLayer({ ...handle, options: { ...handle.options, records: true } }), receiver, leases: false };
}, 150);

properties('shared, at-least-once (leases)', async () => {
  const receiver = await createLayer({ ...SHARED, delivery: 'at-least-once' });
  return { sender: await attachLayer((receiver as SharedLayer).handle), receiver, leases: true };
}, 100);

describe.runIf(redisTestsEnabled())('redis', () => {
  const redis = useRedisServer();
  properties('redis', async () => {
    const options = { backend: 'redis' as const, hosts: [redis.url], prefix: `fuzz${process.pid}:` };
    return { sender: await createLayer(options), receiver: await createLayer(options), leases: false };
  }, 50);
  // Two hybrid buses on one Redis: messages cross Redis and the receiving bus's router,
  // which decodes them and encodes them again into its shared memory.
  properties('hybrid, two buses', async () => {
    const options = { backend: 'hybrid' as const, hosts: [redis.url], prefix: `fuzzh${process.pid}:`, ...SHARED_SIZE };
    return { sender: await createLayer(options), receiver: await createLayer(options), leases: false };
  }, 40);
});
