// Suite 7, the hybrid backend against what it is made of, in the same run:
// - local delivery (main <-> worker thread on one machine's bus): the hybrid layer against the
//   shared layer, round trip and one-way throughput (goal: at most 1.2x the shared layer's cost);
// - remote delivery (two buses, as two machines, on one local redis-server): round trip
//   between their process-specific channels against the Redis backend doing the same
//   (goal: at most 1.1x);
// - a group with 50 members on each of two buses, groupSend from one, every member received:
//   hybrid (its own members through shared memory, the others through Redis) against the Redis
//   backend (all of them through Redis).

import { createLayer } from '../../dist/index.js';
import { makeMessage } from '../messages.js';
import { nextMessage, startWorker, stopWorker } from './lib.js';
import { redisServerPresent, startRedis } from './redis.js';

const COUNT = 0;
const TARGET = 1;
const GROUP_MEMBERS = 100;
const CAPACITY = 10_000;
/** The local cases' channels: machine-local on the hybrid layer (never Redis). */
const LOCAL = ['bench.local.*'];

function makeCounter(target) {
  const counter = new Int32Array(new SharedArrayBuffer(8));
  counter[TARGET] = target;
  return counter;
}

const stop = (worker) => stopWorker(worker, () => worker.postMessage({ stop: true }));

/** A layer of `backend` for the local cases (hybrid: on `url`, its bench channels local). */
function localLayer(backend, url) {
  const common = { capacity: 1000 };
  return backend === 'hybrid'
    ? createLayer({ backend, hosts: [url], prefix: `bench.hybrid.${process.pid}:`, localChannels: LOCAL, ...common })
    : createLayer({ backend, ...common });
}

function localRtt(backend, url) {
  return {
    id: `local-rtt-${backend}`,
    name: `local round trip main <-> worker, ${backend}`,
    options: backend === 'hybrid' ? { backend, localChannels: LOCAL, capacity: 1000 } : { backend, capacity: 1000 }, // shown in the report
    kind: 'latency',
    unit: 'round trip',
    message: 'chat',
    batch: 1,
    async open(round) {
      const layer = await localLayer(backend, url);
      const ping = `bench.local.ping.${round}`;
      const pong = `bench.local.pong.${round}`;
      const worker = await startWorker('layer.js', { mode: 'echo', handle: layer.handle, channel: ping, reply: pong });
      let n = 0;
      return {
        async: true,
        async run() {
          await layer.send(ping, makeMessage('chat', ++n));
          const m = await layer.receive(pong);
          if (m.n !== n) throw new Error(`echo returned message ${m.n}, expected ${n}`);
        },
        close: async () => {
          await stop(worker);
          await layer.close();
        },
      };
    },
  };
}

function localOneWay(backend, url, quick) {
  const batch = quick ? 2000 : 10_000;
  return {
    id: `local-oneway-${backend}`,
    name: `local one way main -> worker, ${backend}`,
    options: backend === 'hybrid' ? { backend, localChannels: LOCAL, capacity: 1000 } : { backend, capacity: 1000 }, // shown in the report
    kind: 'rate',
    unit: 'message',
    message: 'chat',
    batch,
    async open(round) {
      const layer = await localLayer(backend, url);
      const channel = `bench.local.oneway.${round}`;
      const counter = makeCounter(batch);
      const worker = await startWorker('layer.js', { mode: 'consume', handle: layer.handle, channel, counter: counter.buffer });
      const messages = Array.from({ length: batch }, (_, i) => makeMessage('chat', i));
      return {
        async: true,
        async run() {
          Atomics.store(counter, COUNT, 0);
          const done = nextMessage(worker, (m) => m.done);
          for (const m of messages) {
            for (;;) {
              try {
                await layer.send(channel, m);
                break;
              } catch (err) {
                if (err?.code !== 'ERR_RINGBUS_CHANNEL_FULL') throw err;
                await new Promise((resolve) => setImmediate(resolve));
              }
            }
          }
          await done;
        },
        close: async () => {
          await stop(worker);
          await layer.close();
        },
      };
    },
  };
}

/** Two layers of `backend` on one Redis: two machines for the hybrid layer, two processes for redis. */
async function twoMachines(backend, url, round) {
  const options = { backend, hosts: [url], prefix: `bench.${backend}.${process.pid}.${round}:`, capacity: CAPACITY };
  return [await createLayer(options), await createLayer(options)];
}

function remoteRtt(backend, url) {
  return {
    id: `remote-rtt-${backend}`,
    name: `remote round trip between two ${backend === 'hybrid' ? 'buses' : 'layers'}, ${backend}`,
    options: { backend, capacity: CAPACITY },
    kind: 'latency',
    unit: 'round trip',
    message: 'chat',
    batch: 1,
    async open(round) {
      const [a, b] = await twoMachines(backend, url, round);
      const [ca, cb] = [await a.newChannel(), await b.newChannel()];
      const stopEcho = new AbortController();
      const echo = (async () => {
        for await (const m of b.listen(cb, { signal: stopEcho.signal })) await b.send(ca, m);
      })().catch(() => undefined);
      let n = 0;
      return {
        async: true,
        async run() {
          await a.send(cb, makeMessage('chat', ++n));
          const m = await a.receive(ca);
          if (m.n !== n) throw new Error(`echo returned message ${m.n}, expected ${n}`);
        },
        close: async () => {
          stopEcho.abort();
          await echo;
          await a.close();
          await b.close();
        },
      };
    },
  };
}

function twoMachineGroup(backend, url) {
  return {
    id: `group-${backend}`,
    name: `groupSend to ${GROUP_MEMBERS} members on two ${backend === 'hybrid' ? 'buses' : 'layers'}, all received, ${backend}`,
    options: { backend, capacity: CAPACITY },
    kind: 'rate',
    unit: 'delivery',
    message: 'chat',
    batch: GROUP_MEMBERS,
    async open(round) {
      const [a, b] = await twoMachines(backend, url, round);
      const group = `bench.group.${round}`;
      const members = [];
      for (let i = 0; i < GROUP_MEMBERS; i++) {
        const layer = i % 2 === 0 ? a : b;
        const channel = await layer.newChannel('bench');
        await layer.groupAdd(group, channel);
        members.push([layer, channel]);
      }
      let n = 0;
      return {
        async: true,
        async run() {
          await a.groupSend(group, makeMessage('chat', ++n));
          await Promise.all(members.map(([layer, channel]) => layer.receive(channel)));
        },
        close: async () => {
          await a.close();
          await b.close();
        },
      };
    },
  };
}

export default {
  name: 'hybrid',
  title: 'Hybrid backend: local delivery against the shared layer, remote against the Redis backend (same run)',
  ratios: [
    // headline: in the summary that opens the report; goal: the targets of issue 12
    { label: 'local round trip, hybrid / shared', of: 'hybrid/local-rtt-hybrid', over: 'hybrid/local-rtt-shared', kind: 'time', headline: true, goal: { value: 1.2, source: 'issue 12' } },
    { label: 'local one way, hybrid / shared', of: 'hybrid/local-oneway-hybrid', over: 'hybrid/local-oneway-shared', kind: 'rate' },
    { label: 'remote round trip, hybrid / redis', of: 'hybrid/remote-rtt-hybrid', over: 'hybrid/remote-rtt-redis', kind: 'time', headline: true, goal: { value: 1.1, source: 'issue 12' } },
    { label: 'group on two machines, hybrid / redis', of: 'hybrid/group-hybrid', over: 'hybrid/group-redis', kind: 'rate' },
  ],
  async open({ quick }) {
    if (!(await redisServerPresent())) return { skipped: 'redis-server is not installed (Debian: apt install redis-server)' };
    const server = await startRedis();
    const url = server.url;
    return {
      cases: [
        localRtt('shared', url),
        localRtt('hybrid', url),
        localOneWay('shared', url, quick),
        localOneWay('hybrid', url, quick),
        remoteRtt('redis', url),
        remoteRtt('hybrid', url),
        twoMachineGroup('redis', url),
        twoMachineGroup('hybrid', url),
      ],
      close: () => server.stop(),
    };
  },
};
