export * from './services.ts';
export * from './tenant-isolation.ts';
