// Suite 2, the codec ceiling: encode (check + pack, one walk) and decode of the benchmark messages on one thread,
// through ringbus's own codec set-up (the one every layer uses). No bus can deliver messages
// faster than one thread can encode and decode them, so this is the ceiling its throughput is
// compared with, and part of the floor its round trip is compared with.

import { decode, encode } from '../../dist/index.js';
import { decodeRecords, encodeRecords } from '../../dist/codec.js';
import { privateStructures } from '../../dist/codec/records.js';
import { Packr, Unpackr } from 'msgpackr';
import { MESSAGE_KINDS, MESSAGE_LABELS, makeMessage } from '../messages.js';

// msgpackr, the library the first release used, as the outside reference: ringbus checks and
// encodes in one walk with its own codec (exactness: -0, __proto__, surrogates, depth), and
// this row shows what that costs or saves against a plain msgpackr pack + unpack.
const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false });

const BATCH = { chat: 1000, '1kib': 500, '64kib': 20 };

/**
 * The records codec of the shared layer (option `records`), over a structure table in a
 * plain SharedArrayBuffer: the same walk, objects of known shapes written as a structure id
 * and their values. Warmed before timing, so every timed message is a record.
 */
function recordsTable() {
  return privateStructures();
}

function cases(kind) {
  const batch = BATCH[kind];
  const label = MESSAGE_LABELS[kind];
  // Fresh messages (distinct n) and their encodings, made outside the timed code.
  const messages = Array.from({ length: batch }, (_, i) => makeMessage(kind, i));
  const encoded = messages.map((m) => encode(m).slice());
  let sink = 0;
  const base = { kind: 'rate', unit: 'message', message: kind, batch };
  // `sink` accumulates a result of every call, so the work cannot be optimised away.
  const open = (run) => async () => ({ run });
  return [
    {
      ...base,
      id: `pack-${kind}`,
      name: `pack, ${label}`,
      open: open(() => {
        for (let i = 0; i < batch; i++) sink += encode(messages[i]).length;
      }),
    },
    {
      ...base,
      id: `unpack-${kind}`,
      name: `unpack, ${label}`,
      open: open(() => {
        for (let i = 0; i < batch; i++) sink += decode(encoded[i]).n;
      }),
    },
    {
      ...base,
      id: `packunpack-${kind}`,
      name: `pack + unpack, ${label}`,
      open: open(() => {
        for (let i = 0; i < batch; i++) sink += decode(encode(messages[i])).n;
      }),
    },
    ...(kind === 'chat'
      ? [
          {
            ...base,
            id: `packunpack-records-${kind}`,
            name: `pack + unpack as records (shared layer option records), ${label}`,
            open: async () => {
              const table = recordsTable();
              decodeRecords(encodeRecords(messages[0], table), table); // registers the shape
              return { run: () => {
                for (let i = 0; i < batch; i++) sink += decodeRecords(encodeRecords(messages[i], table), table).n;
              } };
            },
          },
        ]
      : []),
    {
      ...base,
      id: `msgpackr-${kind}`,
      name: `msgpackr pack + unpack (no checks), ${label}`,
      open: open(() => {
        for (let i = 0; i < batch; i++) sink += unpackr.unpack(packr.pack(messages[i])).n;
      }),
    },
  ];
}

export default {
  name: 'codec',
  title: 'Codec ceiling: the ringbus msgpack codec on one thread',
  ratios: [
    ...MESSAGE_KINDS.map((kind) => ({
      label: `ringbus codec (checks + pack + unpack) / msgpackr pack + unpack, ${MESSAGE_LABELS[kind]}`,
      of: `codec/packunpack-${kind}`,
      over: `codec/msgpackr-${kind}`,
      kind: 'rate',
    })),
    { label: 'records codec / plain codec (pack + unpack), chat', of: 'codec/packunpack-records-chat', over: 'codec/packunpack-chat', kind: 'rate' },
  ],
  async open() {
    return { cases: MESSAGE_KINDS.flatMap(cases) };
  },
};
