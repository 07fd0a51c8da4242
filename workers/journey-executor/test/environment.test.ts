import { ConfigError } from '@mauntic/platform';
import { describe, expect, it } from 'vitest';
import { executorSettings, parseExecutorEnvironment } from '../src/environment.ts';

describe('the journey executor configuration', () => {
  it('reports every missing cluster requirement at once', () => {
    expect(() => parseExecutorEnvironment({})).toThrow(ConfigError);
    try {
      parseExecutorEnvironment({});
    } catch (error) {
      expect((error as ConfigError).issues).toEqual([
        'DATABASE_URL: required in cluster mode',
        'KAFKA_BROKERS: required in cluster mode',
      ]);
    }
  });

  it('reads the executor settings with their defaults', () => {
    const env = parseExecutorEnvironment({
      DATABASE_URL: 'postgres://u:p@db:5432/mauntic',
      KAFKA_BROKERS: 'kafka:9092',
      EXECUTOR_OWNER: 'executor-0',
      EXECUTOR_LANES: '4',
    });
    expect(env.server.PORT).toBe(4104);
    expect(executorSettings(env.executor)).toEqual({
      owner: 'executor-0',
      batchSize: 500,
      wakeSize: 5000,
      lanes: 4,
      leaseMs: 30_000,
      sweepMs: 250,
      scheduleMs: 60_000,
    });
  });
});
