// What the delivery engine (workers/delivery-engine) builds itself from.

export { type LocalOutboxRow, localOutboxStore } from './local-outbox';
export { createProviderDirectory, type ProviderDirectory } from './provider-directory';
export { createRenderer, type MessageRenderer } from './render-message';
export { enqueueMessages } from './send';
