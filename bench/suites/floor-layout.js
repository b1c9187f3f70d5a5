// The shared page of the floor cases, used by both threads (floor.js and workers/floor.js):
// Int32 indexes, each hot word on its own 128-byte line so that the two threads never share a
// cache line by accident or through the adjacent-line prefetcher.
//   PING = 0, PONG = 32: ping-pong words (main writes PING, the worker answers on PONG);
//   HEAD = 0, TAIL = 32, STOP = 64: the ring's producer index, consumer index, stop flag;
//   the ring's records start at byte RING_DATA.

export const PING = 0;
export const PONG = 32;
export const HEAD = 0;
export const TAIL = 32;
export const STOP = 64;
export const RING_DATA = 512;
export const STOP_VALUE = -1;
