export * from './context';
export * from './errors';
export * from './events/catalogue';
export * from './events/envelope';
export * from './ids';
export * from './validation';
