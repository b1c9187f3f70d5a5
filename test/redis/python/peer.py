"""A channels_redis layer driven over stdin/stdout, for the Node interop tests.

Run with a Python that has channels_redis (Debian's python3-channels-redis; test/redis/server.ts finds it). argv[1] is a JSON object of
RedisChannelLayer keyword arguments (hosts, prefix, capacity, expiry, ...). Each stdin line
is a JSON command {"id", "op", ...}; each answer is one stdout line
{"id", "ok": true, "result"} or {"id", "ok": false, "error", "message"}. Commands run
concurrently (a pending receive does not hold up a send).

Messages cross JSON with tags: bytes as {"$bytes": base64}, ints outside +-2**53 as
{"$int": "digits"}. Typed comparisons (int vs float, bytes vs str) happen here, in Python,
against SAMPLE: what Node is expected to send and what Python sends back.
"""
import asyncio
import base64
import json
import math
import sys

from channels_redis.core import RedisChannelLayer

# The sample both sides agree on; test/redis/interop.test.ts holds the same values for Node.
SAMPLE = {
    "type": "interop.sample",
    "text": "h\u00e9llo w\u00f6rld \u2014 \u4f60\u597d \U0001f680",
    "empty": "",
    "bytes": bytes([0, 1, 2, 127, 128, 254, 255]),
    "empty_bytes": b"",
    "int": 42,
    "negative": -17,
    "zero": 0,
    "int32max": 2147483647,
    "uint32": 4294967295,
    "timestamp": 1764471234567,
    "big": 2**62 + 1,
    "big_unsigned": 2**64 - 1,
    "big_negative": -(2**63),
    "float": 0.1,
    "neg_float": -2.5e-8,
    "yes": True,
    "no": False,
    "nothing": None,
    "list": [1, "two", [3.5, b"\x04"], {"k": "v"}],
    "empty_list": [],
    "nested": {"deep": {"deeper": [True, False, None]}, "\u00fcn\u00ef": "\u00e7\u00f6d\u00e9"},
}


def strict_diff(got, want, path="message"):
    """None when got == want with the same types throughout, else where they differ."""
    if type(got) is not type(want):
        return f"{path}: {type(got).__name__} {got!r} != {type(want).__name__} {want!r}"
    if isinstance(want, dict):
        if set(got) != set(want):
            return f"{path}: keys {sorted(got)} != {sorted(want)}"
        for k in want:
            d = strict_diff(got[k], want[k], f"{path}[{k!r}]")
            if d:
                return d
        return None
    if isinstance(want, list):
        if len(got) != len(want):
            return f"{path}: length {len(got)} != {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            d = strict_diff(g, w, f"{path}[{i}]")
            if d:
                return d
        return None
    return None if got == want else f"{path}: {got!r} != {want!r}"


def to_json(value):
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, bool) or value is None or isinstance(value, (str, float)):
        return value
    if isinstance(value, int):
        return value if abs(value) <= 2**53 else {"$int": str(value)}
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    raise TypeError(f"cannot send {type(value).__name__} over JSON")


def from_json(value):
    if isinstance(value, dict):
        if set(value) == {"$bytes"}:
            return base64.b64decode(value["$bytes"])
        if set(value) == {"$int"}:
            return int(value["$int"])
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


# Messages only Python writes: op_send_special sends SPECIAL[name]().
SPECIAL = {
    "bytes_keys": lambda: {"type": "py.bytes_keys", b"raw": b"v", b"caf\xc3\xa9": 1, 7: "seven"},
    "bytes_key_clash": lambda: {"type": "py.clash", b"a": 1, "a": 2},
    "bytes_key_not_utf8": lambda: {"type": "py.latin1", b"\xff": 1},
    "non_finite": lambda: {"type": "py.floats", "nan": float("nan"), "inf": float("inf"), "ninf": float("-inf"), "nzero": -0.0},
}


def describe_float(value):
    """A float as a string JSON can carry: 'nan', 'inf', '-inf', '-0.0', or repr."""
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if value == 0.0 and math.copysign(1.0, value) < 0:
            return "-0.0"
        return repr(value)
    return f"{type(value).__name__}:{value!r}"


class Peer:
    def __init__(self, config):
        self.layer = RedisChannelLayer(**config)

    async def op_client_prefix(self, cmd):
        return self.layer.client_prefix

    async def op_new_channel(self, cmd):
        return await self.layer.new_channel(cmd.get("prefix", "specific"))

    async def op_send(self, cmd):
        message = dict(SAMPLE) if cmd.get("sample") else {}
        message.update(from_json(cmd.get("message", {})))
        await self.layer.send(cmd["channel"], message)
        return None

    async def op_send_many(self, cmd):
        for i in range(cmd["count"]):
            await self.layer.send(cmd["channel"], {"type": "seq", "i": i})
        return None

    async def op_receive(self, cmd):
        message = await asyncio.wait_for(self.layer.receive(cmd["channel"]), cmd.get("timeout", 5))
        result = {"message": to_json(message)}
        if message.get("type") == "interop.sample":
            want = dict(SAMPLE)
            want.update({k: v for k, v in message.items() if k not in SAMPLE})
            result["sample_diff"] = strict_diff(message, want)
        return result

    async def op_receive_many(self, cmd):
        got = []
        for _ in range(cmd["count"]):
            message = await asyncio.wait_for(self.layer.receive(cmd["channel"]), cmd.get("timeout", 5))
            got.append(to_json(message))
        return got

    async def op_group_add(self, cmd):
        await self.layer.group_add(cmd["group"], cmd["channel"])

    async def op_group_discard(self, cmd):
        await self.layer.group_discard(cmd["group"], cmd["channel"])

    async def op_group_send(self, cmd):
        message = dict(SAMPLE) if cmd.get("sample") else {}
        message.update(from_json(cmd.get("message", {})))
        await self.layer.group_send(cmd["group"], message)

    async def op_send_special(self, cmd):
        """Send one of SPECIAL, messages JSON cannot describe (bytes keys, NaN, ...)."""
        await self.layer.send(cmd["channel"], SPECIAL[cmd["name"]]())

    async def op_receive_floats(self, cmd):
        """Receive a message of floats; describe each (JSON has no NaN, inf or -0.0)."""
        message = await asyncio.wait_for(self.layer.receive(cmd["channel"]), cmd.get("timeout", 5))
        return {k: describe_float(v) for k, v in message.items()}

    async def op_flush(self, cmd):
        await self.layer.flush()

    async def op_consistent_hash(self, cmd):
        return [self.layer.consistent_hash(v) for v in cmd["values"]]


async def handle(peer, cmd, out):
    try:
        result = await getattr(peer, "op_" + cmd["op"])(cmd)
        reply = {"id": cmd["id"], "ok": True, "result": result}
    except Exception as e:  # reported to the Node side, which decides
        reply = {"id": cmd["id"], "ok": False, "error": type(e).__name__, "message": str(e)}
    out.write(json.dumps(reply) + "\n")
    out.flush()


async def main():
    peer = Peer(json.loads(sys.argv[1]))
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    tasks = set()
    print(json.dumps({"id": 0, "ok": True, "result": "ready"}), flush=True)
    while True:
        line = await reader.readline()
        if not line:
            break
        cmd = json.loads(line)
        if cmd["op"] == "close":
            break
        task = asyncio.ensure_future(handle(peer, cmd, sys.stdout))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    for task in tasks:
        task.cancel()
    await peer.layer.close_pools()


if __name__ == "__main__":
    asyncio.run(main())
