export * from './eventually.ts';
export * from './otlp-receiver.ts';
export * from './services.ts';
export * from './tenant-isolation.ts';
