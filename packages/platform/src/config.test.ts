import { describe, expect, it } from 'vitest';
import { busModel, ConfigError, databaseModel, parseEnvironment, secretsModel, serverModel } from './config.ts';

describe('configuration', () => {
  it('needs no variables for embedded mode', () => {
    const config = parseEnvironment({ db: databaseModel, bus: busModel, secrets: secretsModel }, {});
    expect(config.db.DATABASE_URL).toBeUndefined();
    expect(config.db.DATA_DIR).toBe('./data');
    expect(config.bus.KAFKA_BROKERS).toBeUndefined();
  });

  it('parses lists and numbers', () => {
    const config = parseEnvironment(
      { bus: busModel, server: serverModel(4001) },
      { KAFKA_BROKERS: 'a:9092, b:9092', PORT: '5000' },
    );
    expect(config.bus.KAFKA_BROKERS).toEqual(['a:9092', 'b:9092']);
    expect(config.server.PORT).toBe(5000);
  });

  it('reports every problem at once', () => {
    let error: unknown;
    try {
      parseEnvironment(
        { db: databaseModel, server: serverModel(1), secrets: secretsModel },
        { DATABASE_URL: 'not a url', PORT: '99999', AUTH_JWT_SECRET: 'short' },
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues.join('\n');
    expect(issues).toMatch(/DATABASE_URL/);
    expect(issues).toMatch(/PORT/);
    expect(issues).toMatch(/AUTH_JWT_SECRET must be at least 32 characters/);
  });
});
