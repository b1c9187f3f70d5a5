// The "require" entry of every ringbus export: ringbus is an ES module package, and this
// file turns require('ringbus') into an error that says so (instead of Node's
// ERR_PACKAGE_PATH_NOT_EXPORTED, which names no way out).
'use strict';

const error = new Error(
  "ringbus is ESM only: use import (import { createLayer } from 'ringbus'), " +
    "or, from a CommonJS module, const { createLayer } = await import('ringbus')",
);
error.code = 'ERR_RINGBUS_ESM_ONLY';
throw error;
