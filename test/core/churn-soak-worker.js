// Churn soak worker: short-lived clients as a server sees them. Each round makes a client
// channel (newChannel), adds it to a room, sends it messages of mixed sizes (0 B up to
// maxSize, log-uniform) and sends one to the room, then either drains its channel and leaves
// the room, or goes away without a word (its backlog and membership expire). Every message
// carries its size and a pattern derived from (sender, seq), checked on receipt.
import { parentPort, workerData } from 'node:worker_threads';
import { ChannelFull, OutOfSharedMemory, attachLayer } from '../../dist/index.js';
import { xorshift32 } from './random.js';

const { handle, id, rounds, maxSize, rooms } = workerData;
const layer = attachLayer(handle);
const rand = xorshift32((id + 1) * 2654435761 >>> 0);
const size = () => (rand() % 8 === 0 ? 0 : Math.min(maxSize, Math.floor(Math.exp((rand() / 2 ** 32) * Math.log(maxSize)))));
function payload(seq, n) {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (seq * 31 + i * 7 + id) & 0xff;
  return b;
}
function intact(m) {
  const b = m.b;
  if (!(b instanceof Uint8Array) || b.length !== m.n) return false;
  const sender = m.from;
  for (let i = 0; i < b.length; i++) if (b[i] !== ((m.seq * 31 + i * 7 + sender) & 0xff)) return false;
  return true;
}

/** Names of earlier clients: now and then one is sent to again, long after it was reclaimed. */
const old = [];
let seq = 0;
let sent = 0;
let received = 0;
let refused = 0;
let abandoned = 0;
const errors = [];
for (let round = 0; round < rounds && errors.length === 0; round++) {
  const client = await layer.newChannel('client');
  const room = `room.${rand() % rooms}`;
  old.push(client);
  if (old.length > 64) old.shift();
  try {
    // A stale cached name: its record was probably reclaimed and its memory reused since (the
    // message recreates the channel and is left to expire).
    if (round % 7 === 0 && old.length > 32) {
      const n = size() >> 6;
      await layer.send(old[0], { from: id, seq, n, b: payload(seq, n) });
      seq++;
    }
    await layer.groupAdd(room, client);
    const k = 1 + (rand() % 4);
    for (let i = 0; i < k; i++) {
      const n = size();
      await layer.send(client, { from: id, seq, n, b: payload(seq, n) });
      seq++;
      sent++;
    }
    const n = size() >> 4;
    await layer.groupSend(room, { from: id, seq, n, b: payload(seq, n) });
    seq++;
  } catch (err) {
    if (!(err instanceof OutOfSharedMemory || err instanceof ChannelFull)) throw err;
    refused++; // the arena is full for now (backlogs waiting to expire): a refusal, never damage
  }
  if (rand() % 5 === 0) {
    abandoned++; // gone without a word: expiry cleans up
    continue;
  }
  for (;;) {
    let m;
    try {
      m = await layer.receive(client, { timeout: 0 });
    } catch {
      break;
    }
    received++;
    if (!intact(m)) errors.push(`round ${round}: message ${m.from}/${m.seq} (${m.n} bytes) damaged`);
  }
  await layer.groupDiscard(room, client);
  if (round % 50 === 0) await new Promise((r) => setImmediate(r));
}
await layer.close();
parentPort.postMessage({ sent, received, refused, abandoned, errors });
