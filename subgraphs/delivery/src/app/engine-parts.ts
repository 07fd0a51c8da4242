// What the delivery engine (workers/delivery-engine) builds itself from.

export { type LocalOutboxRow, localOutboxStore } from './local-outbox.ts';
export { createProviderDirectory, type ProviderDirectory } from './provider-directory.ts';
export { createRenderer, type MessageRenderer } from './render-message.ts';
export { enqueueMessages } from './send.ts';
