export * from './api-key-client';
export * from './auth';
export * from './data-sources';
export * from './environment';
export * from './gateway';
export * from './limits';
export * from './subgraphs';
export * from './supergraph';
