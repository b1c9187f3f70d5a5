/**
 * Every error ringbus raises on purpose. Each is an `Error` subclass with a stable
 * `code` string, so callers can branch on `err.code` (which survives structured cloning
 * between threads) or on `instanceof` (which does not).
 *
 * @module
 */

/** The stable codes of ringbus errors, one per error class. */
export type RingbusErrorCode =
  | 'ERR_RINGBUS_CHANNEL_FULL'
  | 'ERR_RINGBUS_MESSAGE_TOO_LARGE'
  | 'ERR_RINGBUS_LAYER_CLOSED'
  | 'ERR_RINGBUS_TIMEOUT'
  | 'ERR_RINGBUS_ABORTED'
  | 'ERR_RINGBUS_OUT_OF_MEMORY'
  | 'ERR_RINGBUS_LAYOUT_MISMATCH'
  | 'ERR_RINGBUS_BACKEND_UNAVAILABLE'
  | 'ERR_RINGBUS_CONNECTION'
  | 'ERR_RINGBUS_AUTH'
  | 'ERR_RINGBUS_NOT_OWNER'
  | 'ERR_RINGBUS_UNSUPPORTED';

/** Base class of every ringbus error. */
export class RingbusError extends Error {
  /** A stable, machine-readable code, e.g. `'ERR_RINGBUS_CHANNEL_FULL'`. */
  readonly code: RingbusErrorCode;

  // Node's statics of Error, restated only to keep them off the API reference of every error
  // class (they are Error's, unchanged; `declare` emits nothing).
  /** @internal */
  declare static captureStackTrace: ErrorConstructor['captureStackTrace'];
  /** @internal */
  declare static prepareStackTrace: ErrorConstructor['prepareStackTrace'];
  /** @internal */
  declare static stackTraceLimit: ErrorConstructor['stackTraceLimit'];

  /**
   * @param code the stable code of this error
   * @param message a human-readable explanation naming the value and the rule
   * @param options standard `Error` options (`cause`)
   */
  constructor(code: RingbusErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/**
 * A channel already holds `capacity` messages and the layer's full-queue policy is
 * `'reject'` (the default). Nothing was enqueued.
 */
export class ChannelFull extends RingbusError {
  /** The channel that is full. */
  readonly channel: string;
  /** The capacity that applies to that channel. */
  readonly capacity: number;

  /**
   * @param channel the full channel
   * @param capacity the capacity that applies to it
   */
  constructor(channel: string, capacity: number) {
    super('ERR_RINGBUS_CHANNEL_FULL', `channel '${channel}' is full (capacity ${capacity})`);
    this.channel = channel;
    this.capacity = capacity;
  }
}

/** An encoded message is larger than the layer's `maxMessageSize`. Nothing was enqueued. */
export class MessageTooLarge extends RingbusError {
  /** Size of the encoded message in bytes. */
  readonly size: number;
  /** The limit in bytes. */
  readonly limit: number;

  /**
   * @param size encoded size in bytes
   * @param limit the configured limit in bytes
   */
  constructor(size: number, limit: number) {
    super(
      'ERR_RINGBUS_MESSAGE_TOO_LARGE',
      `message is ${size} bytes encoded, over the limit of ${limit} bytes (maxMessageSize)`,
    );
    this.size = size;
    this.limit = limit;
  }
}

/** The layer was closed: every later call rejects with this, and pending waits are released with it. */
export class LayerClosed extends RingbusError {
  /** Why the layer closed, when it was not its own `close()` (e.g. the bus was shut down). */
  readonly detail: string | undefined;

  /**
   * @param what the operation that was attempted
   * @param detail why the layer is closed, when it was not its own `close()`
   */
  constructor(what = 'operation', detail?: string) {
    super('ERR_RINGBUS_LAYER_CLOSED', `layer is closed: ${what} is not possible${detail === undefined ? '' : ` (${detail})`}`);
    this.detail = detail;
  }
}

/** A `receive` (or waiting `send`) with a `timeout` ran out of time. Nothing was consumed. */
export class TimeoutError extends RingbusError {
  /** The timeout in milliseconds that expired. */
  readonly timeout: number;

  /**
   * @param what what timed out, e.g. `receive('chat.lobby')`
   * @param timeout the timeout in milliseconds
   */
  constructor(what: string, timeout: number) {
    super('ERR_RINGBUS_TIMEOUT', `${what} timed out after ${timeout} ms`);
    this.timeout = timeout;
  }
}

/**
 * A wait was cancelled through its `AbortSignal`. Its `cause` is the signal's reason.
 * Nothing was consumed.
 */
export class Aborted extends RingbusError {
  /**
   * @param what what was aborted
   * @param reason the signal's reason
   */
  constructor(what: string, reason: unknown) {
    super('ERR_RINGBUS_ABORTED', `${what} was aborted`, { cause: reason });
  }
}

/**
 * The shared region (message arena or name registry) has no room for this request. The
 * request had no effect; the bus keeps serving everyone else. Free space returns as
 * messages are received or expire.
 */
export class OutOfSharedMemory extends RingbusError {
  /** Which part of the shared region is exhausted: `'arena'`, `'registry'`, `'names'`, `'instances'`, `'leases'`. */
  readonly region: string;

  /**
   * @param region the exhausted region
   * @param detail what was requested
   */
  constructor(region: string, detail: string) {
    super('ERR_RINGBUS_OUT_OF_MEMORY', `shared ${region} is exhausted: ${detail}`);
    this.region = region;
  }
}

/** A handle was made by an incompatible build of ringbus, or its memory is not a ringbus region. */
export class LayoutMismatch extends RingbusError {
  /** @param detail what did not match */
  constructor(detail: string) {
    super('ERR_RINGBUS_LAYOUT_MISMATCH', `cannot attach to this shared region: ${detail}`);
  }
}

/** The requested backend is not available (unknown, or its dependency is missing). */
export class BackendUnavailable extends RingbusError {
  /** @param detail why */
  constructor(detail: string) {
    super('ERR_RINGBUS_BACKEND_UNAVAILABLE', detail);
  }
}

/** A network backend could not reach its server within the configured time. */
export class ConnectionError extends RingbusError {
  /**
   * @param detail what failed
   * @param cause the underlying error
   * @param code the code (a subclass's)
   */
  constructor(detail: string, cause?: unknown, code: RingbusErrorCode = 'ERR_RINGBUS_CONNECTION') {
    super(code, detail, cause === undefined ? undefined : { cause });
  }
}

/**
 * A `send` to Redis whose command was written but whose reply never came (no answer within
 * `operationTimeout`, or the connection dropped): it may or may not have been applied, and
 * sending the message again could deliver it twice. {@link UnconfirmedSend.retry} sends the
 * very same stored message again (same bytes, same server): if the first attempt was
 * applied and the message is still queued, the retry finds it and adds nothing. (If it was
 * applied and already received in between, the retry delivers it a second time.) Its code
 * is that of {@link ConnectionError}.
 */
export class UnconfirmedSend extends ConnectionError {
  /** The channel of the send. */
  readonly channel: string;
  private readonly resend: () => Promise<void>;

  /**
   * @param detail what failed
   * @param channel the channel of the send
   * @param resend sends the same stored message again
   * @param cause the underlying error
   */
  constructor(detail: string, channel: string, resend: () => Promise<void>, cause?: unknown) {
    super(detail, cause);
    this.channel = channel;
    this.resend = resend;
  }

  /**
   * Send the same message again, without a duplicate if the first attempt was applied and
   * the message was not received yet. Resolves once the server confirmed it; rejects as
   * `send` does (another UnconfirmedSend included, which can be retried in turn).
   */
  retry(): Promise<void> {
    return this.resend();
  }
}

/**
 * The server refused the credentials (Redis `NOAUTH`: a password is required and none was
 * given; `WRONGPASS`: wrong user name or password). Reported at once, not after
 * `operationTimeout`. A {@link ConnectionError} too, with its own code `'ERR_RINGBUS_AUTH'`;
 * the password is never part of the message.
 */
export class AuthenticationError extends ConnectionError {
  /** The server's refusal, e.g. `'NOAUTH'` or `'WRONGPASS'`. */
  readonly refusal: string;

  /**
   * @param detail what failed, and how to give the credentials
   * @param refusal the server's refusal code (`NOAUTH`, `WRONGPASS`)
   * @param cause the server's reply
   */
  constructor(detail: string, refusal: string, cause?: unknown) {
    super(detail, cause, 'ERR_RINGBUS_AUTH');
    this.refusal = refusal;
  }
}

/** A process-specific (`!`) channel was received on by a layer instance that does not own it. */
export class NotOwner extends RingbusError {
  /**
   * @param channel the channel
   * @param detail who owns it
   */
  constructor(channel: string, detail: string) {
    super('ERR_RINGBUS_NOT_OWNER', `cannot receive on '${channel}': ${detail}`);
  }
}

/** An option combination the chosen backend cannot honour. */
export class Unsupported extends RingbusError {
  /** @param detail what is unsupported and why */
  constructor(detail: string) {
    super('ERR_RINGBUS_UNSUPPORTED', detail);
  }
}
