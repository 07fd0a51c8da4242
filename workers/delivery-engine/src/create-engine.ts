// Builds an engine over a database with delivery's dispatcher (policy, rendering, providers).
// Shared by the worker's main(), embedded mode, the benchmark and the tests.
import { createDeliveryDispatcher, type DeliveryDispatcherOptions } from '@mauntic/delivery/engine';
import { DeliveryEngine, type EngineOptions } from './engine.ts';

export interface CreateEngineOptions extends DeliveryDispatcherOptions, Omit<EngineOptions, 'dispatcher'> {}

export function createEngine(options: CreateEngineOptions): DeliveryEngine {
  return new DeliveryEngine({ ...options, dispatcher: createDeliveryDispatcher(options) });
}
export { DeliveryEngine } from './engine.ts';
