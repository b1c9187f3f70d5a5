// The Node half of the demo: a service on the same Redis as a Django Channels project. It
// listens on the plain channel 'node.shout', answers on the asking consumer's own channel
// (a channels_redis process-specific name, 'specific.<id>!<id>'), and broadcasts to the
// Django group 'chat.lobby'. Run alone: REDIS_URL=redis://127.0.0.1:6379 node node-service.mjs
import { fileURLToPath } from 'node:url';
import { createLayer } from 'ringbus';

/** Start the service; resolves with a `stop()` function. */
export async function startService(url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379') {
  // Same hosts and prefix ('asgi', the default of both) as CHANNEL_LAYERS in settings.py.
  const layer = await createLayer({ backend: 'redis', hosts: [url] });
  const stopping = new AbortController();
  const serving = (async () => {
    for await (const request of layer.listen('node.shout', { signal: stopping.signal })) {
      console.log(`node: got ${JSON.stringify(request)}`);
      await layer.send(request.reply_to, { type: 'shout.reply', text: request.text.toUpperCase() });
      await layer.groupSend('chat.lobby', { type: 'chat.message', text: `someone said "${request.text}"`, from: 'node' });
    }
  })();
  return {
    async stop() {
      stopping.abort();
      await serving;
      await layer.close();
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const service = await startService();
  console.log('node: listening on node.shout (Ctrl-C to stop)');
  process.once('SIGINT', () => service.stop());
}
