export * from './api-key-client.ts';
export * from './auth.ts';
export * from './data-sources.ts';
export * from './environment.ts';
export * from './gateway.ts';
export * from './limits.ts';
export * from './public-routes.ts';
export * from './supergraph.ts';
