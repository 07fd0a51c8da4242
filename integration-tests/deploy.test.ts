// A deployable stands on its own: `pnpm deploy --prod` of it gives a folder holding only its
// built JavaScript and production dependencies, which plain `node` starts, outside the repository.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { testServices } from '@mauntic/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, gql, STRONG_PASSWORD, startProcess, uniqueEmail, waitReady } from './harness.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const pnpm = (...args: string[]) => execFileSync('pnpm', args, { cwd: root, stdio: 'pipe', encoding: 'utf8' });

function deploy(pkg: string): string {
  const target = join(mkdtempSync(join(tmpdir(), 'mauntic-deploy-')), 'app');
  pnpm('--filter', `${pkg}...`, 'build');
  pnpm('--filter', pkg, 'deploy', '--prod', target);
  return target;
}

describe('pnpm deploy --prod', () => {
  const secrets = {
    INTERNAL_CONTEXT_SECRET: randomBytes(32).toString('base64url'),
    AUTH_JWT_SECRET: randomBytes(32).toString('base64url'),
  };
  let gatewayDir: string;
  let identityDir: string;
  const running: { stop(): Promise<void> }[] = [];

  beforeAll(() => {
    gatewayDir = deploy('@mauntic/gateway');
    identityDir = deploy('@mauntic/identity');
  }, 240_000);

  afterAll(async () => {
    await Promise.all(running.map((p) => p.stop()));
    for (const dir of [gatewayDir, identityDir]) if (dir) rmSync(join(dir, '..'), { recursive: true, force: true });
  });

  it('gives folders of built JavaScript, and the gateway holds no subgraph code', () => {
    for (const dir of [gatewayDir, identityDir]) {
      expect(existsSync(join(dir, 'dist/index.js'))).toBe(true);
      expect(existsSync(join(dir, 'src'))).toBe(false);
      expect(existsSync(join(dir, 'node_modules/@mauntic/platform/dist/index.js'))).toBe(true);
      expect(existsSync(join(dir, 'node_modules/@mauntic/platform/src'))).toBe(false);
    }
    expect(readdirSync(join(gatewayDir, 'node_modules/@mauntic')).sort()).toEqual(['kernel', 'platform', 'schema']);
    expect(existsSync(join(identityDir, 'drizzle'))).toBe(true);
  });

  it('starts each with plain node, and the gateway serves a sign-up through the deployed identity', async () => {
    const [identityPort, gatewayPort] = [await freePort(), await freePort()];
    const identity = startProcess(
      'dist/index.js',
      {
        ...secrets,
        HOST: '127.0.0.1',
        PORT: String(identityPort),
        DATABASE_URL: testServices.databaseUrl,
        KAFKA_BROKERS: testServices.kafkaBrokers.join(','),
        KAFKA_TOPIC_PREFIX: testServices.kafkaTopicPrefix,
        REDIS_URL: testServices.redisUrl,
      },
      { cwd: identityDir, nodeArgs: [] },
    );
    running.push(identity);
    await waitReady(`http://127.0.0.1:${identityPort}/readyz`, identity.child, identity.output);
    const gateway = startProcess(
      'dist/index.js',
      {
        ...secrets,
        HOST: '127.0.0.1',
        PORT: String(gatewayPort),
        IDENTITY_URL: `http://127.0.0.1:${identityPort}/graphql`,
        IDENTITY_INTERNAL_URL: `http://127.0.0.1:${identityPort}`,
      },
      { cwd: gatewayDir, nodeArgs: [] },
    );
    running.push(gateway);
    // Alive, not ready: readiness wants every subgraph the gateway routes to, and only identity runs here.
    await waitReady(`http://127.0.0.1:${gatewayPort}/healthz`, gateway.child, gateway.output);
    const readiness = await fetch(`http://127.0.0.1:${gatewayPort}/readyz`);
    expect(readiness.status).toBe(503);
    expect(await readiness.text()).toContain('crm');

    const url = `http://127.0.0.1:${gatewayPort}/graphql`;
    const email = uniqueEmail('deployed');
    const signUp = await gql(
      url,
      `mutation($input: SignUpInput!) { signUp(input: $input) { __typename ... on Session { accessToken } } }`,
      { input: { email, password: STRONG_PASSWORD, name: 'Ada', organizationName: 'Deployed' } },
    );
    expect(signUp.data?.signUp.__typename).toBe('Session');
    const me = await gql(url, '{ me { user { email } } }', {}, { token: signUp.data?.signUp.accessToken });
    expect(me.data?.me.user.email).toBe(email);
    // Two processes to start and migrate: more than the default 10 s on a busy machine.
  }, 90_000);
});
