// Runs in a pool worker: the bus is already attached in this thread.
import { workerLayer } from 'ringbus/worker';

export default async function ({ take, replies }) {
  for (let i = 0; i < take; i++) {
    const { word } = await workerLayer.receive('words', { timeout: 5000 });
    await workerLayer.send(replies, { type: 'shouted', word: word.toUpperCase() });
  }
  return take;
}
