// `pnpm start`: the whole platform in one process, nothing to install.
import { resolve } from 'node:path';
import { ConfigError } from '@mauntic/platform';
import { startEmbedded } from './embedded.ts';

// `pnpm start` runs in this package's folder; ./data means the folder the user ran it from.
process.env.DATA_DIR ??= resolve(process.env.INIT_CWD ?? process.cwd(), 'data');

try {
  const app = await startEmbedded();
  console.log(`Mauntic is running: ${app.url}`);
  const stop = async () => {
    await app.stop();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
}
