#!/usr/bin/env python3
"""The Python side of ringbus's Redis benchmark: time channels_redis doing what the Node
side does (bench/suites/redis.js), against the same redis-server, in the same run.

Usage: channels_redis_bench.py --host redis://127.0.0.1:PORT --case rtt|throughput|groupsend
                               [--time-ms 600] [--warmup-ms 100] [--batch N] [--tag TEXT]
                               [--concurrency N]

Prints one JSON object: {"case", "samples": [ms per operation, one per batch], "batch",
"channels_redis": version}. Like the Node harness, each sample is one batch of operations timed
with a monotonic clock (time.perf_counter_ns) and divided by the batch size; warm-up batches run
first and are not recorded (at least one); batches repeat until the time budget is spent (at
least two).

Cases (the chat message {"type": "chat.message", "text": "hello", "n": n} throughout):
  rtt         send to a channel then receive from it, one layer, one coroutine (one operation)
  throughput  one layer sends `batch` messages while a second layer receives them concurrently,
              each side in `concurrency` coroutines (operations: messages received)
  groupsend   group_send to a group of 100 channels made by new_channel(), then receive on every
              member (operations: member deliveries)
"""

import argparse
import asyncio
import json
import time

import channels_redis
from channels_redis.core import RedisChannelLayer

GROUP_MEMBERS = 100


def message(n):
    return {"type": "chat.message", "text": "hello", "n": n}


async def sample_loop(run_batch, batch, time_ms, warmup_ms):
    """Run `run_batch` until the budgets are spent; return ms per operation of each timed batch."""
    deadline = time.perf_counter_ns() + warmup_ms * 1_000_000
    warm = 0
    while warm < 1 or time.perf_counter_ns() < deadline:
        await run_batch()
        warm += 1
    samples = []
    deadline = time.perf_counter_ns() + time_ms * 1_000_000
    while len(samples) < 2 or time.perf_counter_ns() < deadline:
        t0 = time.perf_counter_ns()
        await run_batch()
        samples.append((time.perf_counter_ns() - t0) / 1e6 / batch)
    return samples


async def bench_rtt(args):
    layer = RedisChannelLayer(hosts=[args.host], capacity=10_000)
    channel = f"bench.py.{args.tag}.rtt"
    counter = {"n": 0}

    async def run_batch():
        for _ in range(args.batch):
            counter["n"] += 1
            await layer.send(channel, message(counter["n"]))
            got = await layer.receive(channel)
            if got["n"] != counter["n"]:
                raise RuntimeError(f"received message {got['n']}, expected {counter['n']}")

    try:
        return await sample_loop(run_batch, args.batch, args.time_ms, args.warmup_ms)
    finally:
        await layer.close_pools()


async def bench_throughput(args):
    sender = RedisChannelLayer(hosts=[args.host], capacity=10_000)
    receiver = RedisChannelLayer(hosts=[args.host], capacity=10_000)
    channel = f"bench.py.{args.tag}.throughput"
    counter = {"n": 0}

    lanes = max(1, args.concurrency)
    share = [args.batch // lanes + (1 if i < args.batch % lanes else 0) for i in range(lanes)]

    async def produce(count):
        for _ in range(count):
            counter["n"] += 1
            await sender.send(channel, message(counter["n"]))

    async def consume(count):
        for _ in range(count):
            await receiver.receive(channel)

    async def run_batch():
        await asyncio.gather(*(produce(c) for c in share), *(consume(c) for c in share))

    try:
        return await sample_loop(run_batch, args.batch, args.time_ms, args.warmup_ms)
    finally:
        await sender.close_pools()
        await receiver.close_pools()


async def bench_groupsend(args):
    layer = RedisChannelLayer(hosts=[args.host], capacity=10_000)
    group = f"bench.py.{args.tag}.group"
    members = [await layer.new_channel("bench") for _ in range(GROUP_MEMBERS)]
    for member in members:
        await layer.group_add(group, member)
    counter = {"n": 0}

    async def run_batch():
        for _ in range(args.batch // GROUP_MEMBERS):
            counter["n"] += 1
            await layer.group_send(group, message(counter["n"]))
            for member in members:
                await layer.receive(member)

    try:
        return await sample_loop(run_batch, args.batch, args.time_ms, args.warmup_ms)
    finally:
        for member in members:
            await layer.group_discard(group, member)
        await layer.close_pools()


CASES = {"rtt": bench_rtt, "throughput": bench_throughput, "groupsend": bench_groupsend}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--case", required=True, choices=sorted(CASES))
    parser.add_argument("--time-ms", type=float, default=600)
    parser.add_argument("--warmup-ms", type=float, default=100)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--tag", default="0")
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    if args.case == "groupsend" and args.batch % GROUP_MEMBERS != 0:
        parser.error(f"--batch {args.batch} for groupsend must be a multiple of {GROUP_MEMBERS}")
    samples = asyncio.run(CASES[args.case](args))
    version = getattr(channels_redis, "__version__", "unknown")
    print(json.dumps({"case": args.case, "batch": args.batch, "samples": samples, "channels_redis": version}))


if __name__ == "__main__":
    main()
