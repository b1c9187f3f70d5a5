/**
 * The slice of the WebAssembly JS API that ringbus uses, typed here because the project
 * compiles without the DOM library (where TypeScript declares `WebAssembly`). Node provides
 * the real global at run time.
 *
 * @module
 */

/** A compiled WebAssembly module (`WebAssembly.Module`); structured-cloneable between threads. */
export interface WasmModule {
  /** Brand only: any `WebAssembly.Module` is one. */
  readonly __wasmModule?: never;
}

/** A WebAssembly memory (`WebAssembly.Memory`); a shared one is structured-cloneable. */
export interface WasmMemory {
  /** The memory's bytes: a `SharedArrayBuffer` for a shared memory. */
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
}

/** A WebAssembly global (`WebAssembly.Global`). */
export interface WasmGlobal {
  /** Its current value. */
  value: unknown;
}

interface WasmApi {
  Module: {
    new (bytes: Uint8Array): WasmModule;
    exports(module: WasmModule): Array<{ name: string; kind: string }>;
  };
  Instance: new (module: WasmModule, imports: Record<string, Record<string, unknown>>) => {
    exports: Record<string, unknown>;
  };
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
}

/** The global `WebAssembly` object, typed. */
export const wasm: WasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** True when `value` is a real `WebAssembly.Module`. */
export function isWasmModule(value: unknown): value is WasmModule {
  return value instanceof (wasm.Module as unknown as new () => object);
}

/** True when `value` is a real `WebAssembly.Memory`. */
export function isWasmMemory(value: unknown): value is WasmMemory {
  return value instanceof (wasm.Memory as unknown as new () => object);
}
