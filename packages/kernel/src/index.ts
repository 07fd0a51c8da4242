export * from './authorize.ts';
export * from './context.ts';
export * from './errors.ts';
export * from './events/catalogue.ts';
export * from './events/envelope.ts';
export * from './ids.ts';
export * from './validation.ts';
