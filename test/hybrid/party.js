// One party of the multi-machine hybrid test: runs commands from its parent on a layer.
// Used in two places: as a worker thread attached to a machine's hybrid bus (its parent is
// machine.js), and by machine.js itself for its own layer. Commands (all answered with
// { id, ok, result } or { id, ok: false, error }):
//   newChannel               -> a name this party receives on
//   send { channel, message }
//   receive { channel, timeout }            -> the message
//   drain { channel, idleMs }               -> every message until none came for idleMs
//   groupAdd / groupDiscard { group, channel }
//   groupSend { group, message }
//   sendSeq { channel, count, from }        -> sends { from, seq } for seq 0..count-1, in order
//                                              (ChannelFull: retried after a moment)
//   stats                                   -> layer.stats()

export async function run(layer, command) {
  switch (command.op) {
    case 'newChannel':
      return layer.newChannel();
    case 'send':
      return layer.send(command.channel, command.message);
    case 'receive':
      return layer.receive(command.channel, { timeout: command.timeout });
    case 'drain': {
      const got = [];
      for (;;) {
        try {
          got.push(await layer.receive(command.channel, { timeout: command.idleMs }));
        } catch (err) {
          if (err && err.code === 'ERR_RINGBUS_TIMEOUT') return got;
          throw err;
        }
      }
    }
    case 'groupAdd':
      return layer.groupAdd(command.group, command.channel);
    case 'groupDiscard':
      return layer.groupDiscard(command.group, command.channel);
    case 'groupSend':
      return layer.groupSend(command.group, command.message);
    case 'sendSeq':
      for (let seq = 0; seq < command.count; seq++) {
        for (;;) {
          try {
            await layer.send(command.channel, { type: 'seq', from: command.from, seq });
            break;
          } catch (err) {
            if (err?.code !== 'ERR_RINGBUS_CHANNEL_FULL') throw err;
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
        }
      }
      return null;
    case 'stats':
      return layer.stats();
    default:
      throw new Error(`unknown op ${command.op}`);
  }
}

/** Answer `command` through `reply`, never throwing. */
export async function answer(layer, command, reply) {
  try {
    const result = await run(layer, command);
    reply({ id: command.id, ok: true, result: result === undefined ? null : result });
  } catch (err) {
    reply({ id: command.id, ok: false, error: `${err?.name}: ${err?.message}`, code: err?.code });
  }
}
