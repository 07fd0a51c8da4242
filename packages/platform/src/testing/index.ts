export * from './services';
export * from './tenant-isolation';
