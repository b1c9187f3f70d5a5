// Suite 3, the peers: what a user gets without ringbus. worker_threads postMessage (round trip,
// and one way with the receiver counting), BroadcastChannel one way, and ringbus's own memory
// layer on one thread (send + receive through the full public API, no second thread).

import { createLayer } from '../../dist/index.js';
import { MESSAGE_KINDS, MESSAGE_LABELS, batchFor, makeMessage } from '../messages.js';
import { nextMessage, startWorker, stopWorker } from './lib.js';

function postRttCase(kind) {
  return {
    id: `postmessage-rtt-${kind}`,
    name: `postMessage round trip, ${MESSAGE_LABELS[kind]}`,
    kind: 'latency',
    unit: 'round trip',
    message: kind,
    batch: 1,
    async open() {
      const worker = await startWorker('post.js', { mode: 'echo' });
      let n = 0;
      return {
        async: true,
        async run() {
          const reply = nextMessage(worker);
          worker.postMessage(makeMessage(kind, ++n));
          const m = await reply;
          if (m.n !== n) throw new Error(`echo returned message ${m.n}, expected ${n}`);
        },
        close: () => stopWorker(worker, () => worker.postMessage({ stop: true })),
      };
    },
  };
}

function oneWayCase(kind, quick, broadcast) {
  const batch = batchFor(kind, quick);
  const what = broadcast ? 'BroadcastChannel' : 'postMessage';
  return {
    id: `${broadcast ? 'broadcast' : 'postmessage'}-oneway-${kind}`,
    name: `${what} one way, 1 -> 1, ${MESSAGE_LABELS[kind]}`,
    kind: 'rate',
    unit: 'message',
    message: kind,
    batch,
    async open(round) {
      const name = `ringbus-bench-${process.pid}-${round}`;
      const worker = await startWorker('post.js', { mode: broadcast ? 'broadcast' : 'count', channel: name });
      const channel = broadcast ? new BroadcastChannel(name) : null;
      const messages = Array.from({ length: batch }, (_, i) => makeMessage(kind, i));
      return {
        async: true,
        async run() {
          const done = nextMessage(worker, (m) => m.done);
          worker.postMessage({ expect: batch });
          if (channel) for (let i = 0; i < batch; i++) channel.postMessage(messages[i]);
          else for (let i = 0; i < batch; i++) worker.postMessage(messages[i]);
          await done;
        },
        close: async () => {
          channel?.close();
          await stopWorker(worker, () => worker.postMessage({ stop: true }));
        },
      };
    },
  };
}

function memoryCase(kind) {
  const batch = kind === '64kib' ? 5 : 50;
  return {
    id: `memory-sendrecv-${kind}`,
    name: `memory layer send + receive, one thread, ${MESSAGE_LABELS[kind]}`,
    options: { backend: 'memory' },
    kind: 'latency',
    unit: 'send + receive',
    message: kind,
    batch,
    async open(round) {
      const layer = await createLayer({ backend: 'memory' });
      const channel = `bench.memory.${round}`;
      let n = 0;
      return {
        async: true,
        async run() {
          for (let i = 0; i < batch; i++) {
            await layer.send(channel, makeMessage(kind, ++n));
            const m = await layer.receive(channel);
            if (m.n !== n) throw new Error(`received message ${m.n}, expected ${n}`);
          }
        },
        close: () => layer.close(),
      };
    },
  };
}

export default {
  name: 'peers',
  title: 'Peers: postMessage, BroadcastChannel, the memory layer',
  ratios: [
    { label: 'postMessage round trip (chat) / spin floor', of: 'peers/postmessage-rtt-chat', over: 'floor/spin-rtt', kind: 'time' },
    { label: 'postMessage round trip (chat) / wait+notify floor', of: 'peers/postmessage-rtt-chat', over: 'floor/wait-rtt', kind: 'time' },
    ...MESSAGE_KINDS.map((kind) => ({
      label: `memory layer send+receive (${MESSAGE_LABELS[kind]}) / codec pack+unpack`,
      of: `peers/memory-sendrecv-${kind}`,
      over: `codec/packunpack-${kind}`,
      kind: 'time',
    })),
  ],
  async open({ quick }) {
    return {
      cases: [
        ...MESSAGE_KINDS.map((k) => postRttCase(k)),
        ...MESSAGE_KINDS.map((k) => oneWayCase(k, quick, false)),
        oneWayCase('chat', quick, true),
        ...MESSAGE_KINDS.map((k) => memoryCase(k)),
      ],
    };
  },
};
