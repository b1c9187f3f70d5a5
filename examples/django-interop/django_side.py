"""The Django half of the demo: a real Django Channels consumer on channels_redis.

A browser's WebSocket is simulated with asgiref's ApplicationCommunicator (the ASGI events a
server such as daphne or uvicorn would deliver), so this runs without a web server. In a
project, ChatConsumer goes in consumers.py, CHANNEL_LAYERS in settings.py, unchanged.

Run: REDIS_URL=redis://127.0.0.1:6379 python3 django_side.py  (node-service.mjs running; a python3 that
has channels_redis and Django, e.g. Debian's python3-channels-redis)
"""
import asyncio
import json
import os

import django
from django.conf import settings

settings.configure(
    INSTALLED_APPS=["channels"],
    CHANNEL_LAYERS={
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # The Node side uses the same hosts (same order) and the same prefix ("asgi").
            "CONFIG": {"hosts": [os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")]},
        }
    },
)
django.setup()

from asgiref.testing import ApplicationCommunicator  # noqa: E402
from channels.generic.websocket import AsyncJsonWebsocketConsumer  # noqa: E402


class ChatConsumer(AsyncJsonWebsocketConsumer):
    """Joins the lobby group, asks the Node service to shout what the browser says."""

    async def connect(self):
        await self.channel_layer.group_add("chat.lobby", self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard("chat.lobby", self.channel_name)

    async def receive_json(self, content):
        # A plain channel that the Node service listens on; it answers on our own channel.
        await self.channel_layer.send(
            "node.shout",
            {"type": "shout.request", "text": content["text"], "reply_to": self.channel_name},
        )

    async def shout_reply(self, event):  # messages of type "shout.reply", sent by Node
        await self.send_json({"shouted": event["text"]})

    async def chat_message(self, event):  # messages of type "chat.message", Node's group_send
        await self.send_json({"chat": event["text"], "from": event["from"]})


async def main():
    scope = {"type": "websocket", "path": "/ws/chat/", "headers": [], "query_string": b"", "subprotocols": []}
    browser = ApplicationCommunicator(ChatConsumer.as_asgi(), scope)
    await browser.send_input({"type": "websocket.connect"})
    assert (await browser.receive_output(5))["type"] == "websocket.accept"
    print("django: browser connected; the consumer joined group chat.lobby", flush=True)

    await browser.send_input({"type": "websocket.receive", "text": json.dumps({"text": "hello from django"})})
    for _ in range(2):  # the reply on our own channel, and the group broadcast
        frame = json.loads((await browser.receive_output(5))["text"])
        print(f"django: the browser got {frame}", flush=True)

    await browser.send_input({"type": "websocket.disconnect", "code": 1000})
    await browser.wait(5)


asyncio.run(main())
