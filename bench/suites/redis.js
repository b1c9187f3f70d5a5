// Suite 5, the Redis backend against Python's channels_redis, on the same local redis-server
// in the same run: send + receive round trip, throughput (a sender and a receiver running
// concurrently, each with CONCURRENCY operations in flight), and group_send to 100 channels
// with every member received. The Python side is bench/python/channels_redis_bench.py run by
// the Python that bench/python.js finds (RINGBUS_PYTHON, else the first python3/python on PATH
// that imports channels_redis); each round runs it once per case, next to the Node side of the
// same case. The ceiling: redis-benchmark's ZADD rate against the same server with CONCURRENCY
// commands in flight on one connection (-P), the most a queue of sorted sets can do there.

import { spawn, execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { createLayer } from '../../dist/index.js';
import { makeMessage } from '../messages.js';
import { findPython } from '../python.js';

const SCRIPT = fileURLToPath(new URL('../python/channels_redis_bench.py', import.meta.url));
const GROUP_MEMBERS = 100;
const CAPACITY = 10_000;
/** Operations in flight on each side of the throughput case (and redis-benchmark's -P). */
const CONCURRENCY = 16;

/** `count` split into `lanes` near-equal shares. */
function shares(count, lanes) {
  return Array.from({ length: lanes }, (_, i) => Math.floor(count / lanes) + (i < count % lanes ? 1 : 0));
}

/** A free loopback port (the kernel's choice; redis-server takes it a moment later). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Resolve once a Redis server answers PING on `port`, or reject after `ms`. */
async function waitForRedis(port, ms) {
  const until = Date.now() + ms;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.setTimeout(500);
      socket.once('connect', () => socket.write('PING\r\n'));
      socket.once('data', (d) => {
        socket.destroy();
        resolve(d.toString().startsWith('+PONG'));
      });
      socket.once('error', () => resolve(false));
      socket.once('timeout', () => {
        socket.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`redis-server did not answer on port ${port} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Start a private redis-server (no persistence) on a free loopback port. */
export async function startRedis() {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const killer = () => child.kill('SIGKILL');
  process.once('exit', killer);
  const failed = new Promise((_, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`redis-server exited with code ${code}`)));
  });
  await Promise.race([waitForRedis(port, 10_000), failed]);
  failed.catch(() => {}); // it exits when we stop it
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: () =>
      new Promise((resolve) => {
        process.off('exit', killer);
        if (child.exitCode !== null) return resolve();
        child.once('exit', resolve);
        child.kill('SIGTERM');
      }),
  };
}

/** Why the Python side cannot run here, or null when it can. */
function pythonProblem() {
  if (!existsSync(SCRIPT)) return 'bench/python/channels_redis_bench.py is not in this copy of ringbus';
  const python = findPython();
  return python.path === null ? python.describe() : null;
}

/** Does a `redis-server` binary run here? */
export function redisServerPresent() {
  return new Promise((resolve) => execFile('redis-server', ['--version'], (err) => resolve(!err)));
}

/** Does `redis-benchmark` run here (it ships with redis-server on Debian, not everywhere)? */
function redisBenchmarkPresent() {
  return new Promise((resolve) => execFile('redis-benchmark', ['--version'], (err) => resolve(!err)));
}

/** Run the Python side of `pyCase` for one round; resolves with its samples. */
function runPython(url, pyCase, batch, timeMs, warmupMs, tag) {
  const args = [SCRIPT, '--host', url, '--case', pyCase, '--batch', String(batch), '--time-ms', String(timeMs), '--warmup-ms', String(warmupMs), '--tag', tag, '--concurrency', String(CONCURRENCY)];
  return new Promise((resolve, reject) => {
    execFile(findPython().path, args, { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`channels_redis_bench.py --case ${pyCase} failed: ${stderr.trim().split('\n').pop() || err.message}`));
      try {
        const out = JSON.parse(stdout);
        resolve(out.samples);
      } catch (parseErr) {
        reject(new Error(`channels_redis_bench.py printed no JSON: ${parseErr.message}`));
      }
    });
  });
}

function pythonCase(url, id, pyCase, name, kind, unit, batch) {
  return {
    id: `${id}-channels_redis`,
    name: `${name}, channels_redis`,
    kind,
    unit,
    message: 'chat',
    batch,
    async open(round) {
      return { measure: (timeMs, warmupMs) => runPython(url, pyCase, batch, timeMs, warmupMs, `${process.pid}.${round}`) };
    },
  };
}

/**
 * redis-benchmark's ZADD against the bench's own server, CONCURRENCY commands in flight on one
 * connection: each sample is one short run's ms per ZADD.
 */
function zaddCeiling(url) {
  const port = new URL(url).port;
  const requests = 20_000;
  const once = () =>
    new Promise((resolve, reject) => {
      const args = ['-h', '127.0.0.1', '-p', port, '-t', 'zadd', '-n', String(requests), '-c', '1', '-P', String(CONCURRENCY), '--csv'];
      execFile('redis-benchmark', args, (err, stdout, stderr) => {
        if (err) return reject(new Error(`redis-benchmark failed: ${stderr.trim() || err.message}`));
        const row = stdout.split('\n').find((line) => line.startsWith('"ZADD"'));
        const rps = row === undefined ? NaN : Number(JSON.parse(`[${row}]`)[1]);
        if (!(rps > 0)) return reject(new Error(`redis-benchmark printed no ZADD rate: ${stdout.trim()}`));
        resolve(1000 / rps);
      });
    });
  return {
    id: 'zadd-redis-benchmark',
    name: `redis-benchmark ZADD, ${CONCURRENCY} in flight (-P ${CONCURRENCY})`,
    kind: 'rate',
    unit: 'command',
    batch: 1,
    async open() {
      return {
        async measure(timeMs) {
          const samples = [];
          const until = performance.now() + timeMs;
          while (samples.length < 2 || performance.now() < until) samples.push(await once());
          return samples;
        },
      };
    },
  };
}

function cases(url, quick, ceiling) {
  const hosts = [url];
  const make = () => createLayer({ backend: 'redis', hosts, capacity: CAPACITY });
  const throughputBatch = quick ? 800 : 1600;
  const rtt = {
    id: 'rtt-ringbus',
    name: 'round trip (send, receive), ringbus',
    options: { backend: 'redis', capacity: CAPACITY },
    kind: 'latency',
    unit: 'round trip',
    message: 'chat',
    batch: 1,
    async open(round) {
      const layer = await make();
      const channel = `bench.node.${process.pid}.${round}.rtt`;
      let n = 0;
      return {
        async: true,
        async run() {
          await layer.send(channel, makeMessage('chat', ++n));
          const m = await layer.receive(channel);
          if (m.n !== n) throw new Error(`received message ${m.n}, expected ${n}`);
        },
        close: () => layer.close(),
      };
    },
  };
  const throughput = {
    id: 'throughput-ringbus',
    name: `throughput (concurrent sender, receiver, ${CONCURRENCY} in flight each), ringbus`,
    options: { backend: 'redis', capacity: CAPACITY },
    kind: 'rate',
    unit: 'message',
    message: 'chat',
    batch: throughputBatch,
    async open(round) {
      const sender = await make();
      const receiver = await make();
      const channel = `bench.node.${process.pid}.${round}.throughput`;
      const lanes = shares(throughputBatch, CONCURRENCY);
      let n = 0;
      return {
        async: true,
        async run() {
          const produce = async (count) => {
            for (let i = 0; i < count; i++) await sender.send(channel, makeMessage('chat', ++n));
          };
          const consume = async (count) => {
            for (let i = 0; i < count; i++) await receiver.receive(channel);
          };
          await Promise.all([...lanes.map(produce), ...lanes.map(consume)]);
        },
        close: async () => {
          await sender.close();
          await receiver.close();
        },
      };
    },
  };
  const groupSend = {
    id: 'groupsend-ringbus',
    name: `groupSend to ${GROUP_MEMBERS} channels, all received, ringbus (members in the sender: no Redis hop for them)`,
    options: { backend: 'redis', capacity: CAPACITY },
    kind: 'rate',
    unit: 'delivery',
    message: 'chat',
    batch: GROUP_MEMBERS,
    async open(round) {
      const layer = await make();
      const group = `bench.node.${process.pid}.${round}.group`;
      const members = [];
      for (let i = 0; i < GROUP_MEMBERS; i++) members.push(await layer.newChannel('bench'));
      for (const member of members) await layer.groupAdd(group, member);
      let n = 0;
      return {
        async: true,
        async run() {
          await layer.groupSend(group, makeMessage('chat', ++n));
          for (const member of members) await layer.receive(member);
        },
        close: async () => {
          for (const member of members) await layer.groupDiscard(group, member);
          await layer.close();
        },
      };
    },
  };
  const groupSendElsewhere = {
    id: 'groupsend-elsewhere-ringbus',
    name: `groupSend to ${GROUP_MEMBERS} channels of another layer, all received, ringbus (through Redis)`,
    options: { backend: 'redis', capacity: CAPACITY },
    kind: 'rate',
    unit: 'delivery',
    message: 'chat',
    batch: GROUP_MEMBERS,
    async open(round) {
      const sender = await make();
      const receiver = await make();
      const group = `bench.node.${process.pid}.${round}.group-elsewhere`;
      const members = [];
      for (let i = 0; i < GROUP_MEMBERS; i++) members.push(await receiver.newChannel('bench'));
      for (const member of members) await receiver.groupAdd(group, member);
      let n = 0;
      return {
        async: true,
        async run() {
          await sender.groupSend(group, makeMessage('chat', ++n));
          for (const member of members) await receiver.receive(member);
        },
        close: async () => {
          for (const member of members) await receiver.groupDiscard(group, member);
          await sender.close();
          await receiver.close();
        },
      };
    },
  };
  return [
    rtt,
    pythonCase(url, 'rtt', 'rtt', 'round trip (send, receive)', 'latency', 'round trip', 1),
    throughput,
    pythonCase(url, 'throughput', 'throughput', `throughput (concurrent sender, receiver, ${CONCURRENCY} in flight each)`, 'rate', 'message', throughputBatch),
    ...(ceiling ? [zaddCeiling(url)] : []),
    groupSend,
    groupSendElsewhere,
    pythonCase(url, 'groupsend', 'groupsend', `group_send to ${GROUP_MEMBERS} channels, all received`, 'rate', 'delivery', GROUP_MEMBERS),
  ];
}

export default {
  name: 'redis',
  title: 'Redis backend against Python channels_redis (same redis-server, same run)',
  ratios: [
    // headline: in the summary that opens the report; goal: the targets of issue 12. The group
    // headline is the send to members in ANOTHER layer: members in the sender skip Redis.
    { label: 'round trip, ringbus / channels_redis', of: 'redis/rtt-ringbus', over: 'redis/rtt-channels_redis', kind: 'time', headline: true, goal: { value: 0.3, source: 'issue 12' } },
    { label: 'throughput, ringbus / channels_redis', of: 'redis/throughput-ringbus', over: 'redis/throughput-channels_redis', kind: 'rate', headline: true, goal: { value: 10, source: 'issue 12' } },
    { label: 'throughput, ringbus messages / redis-benchmark ZADDs', of: 'redis/throughput-ringbus', over: 'redis/zadd-redis-benchmark', kind: 'rate' },
    { label: 'group send deliveries, ringbus / channels_redis', of: 'redis/groupsend-ringbus', over: 'redis/groupsend-channels_redis', kind: 'rate' },
    { label: 'group send deliveries to another layer, ringbus / channels_redis', of: 'redis/groupsend-elsewhere-ringbus', over: 'redis/groupsend-channels_redis', kind: 'rate', headline: true, goal: { value: 10, source: 'issue 12' } },
  ],
  async open({ quick, note }) {
    if (!(await redisServerPresent())) return { skipped: 'redis-server is not installed (Debian: apt install redis-server)' };
    const problem = pythonProblem();
    if (problem !== null) return { skipped: problem };
    note(findPython().describe());
    const server = await startRedis();
    try {
      const probe = await createLayer({ backend: 'redis', hosts: [server.url] });
      await probe.close();
    } catch (err) {
      await server.stop();
      if (err && err.code === 'ERR_RINGBUS_BACKEND_UNAVAILABLE') return { skipped: err.message };
      throw err;
    }
    return { cases: cases(server.url, quick, await redisBenchmarkPresent()), close: () => server.stop() };
  },
};
