// Starts the sidecar of one Postfix instance from the environment (the same MAILSTACK_* names as
// mail-stack/configure.sh, so a pod sets them once for both containers):
//   MAILSTACK_QUEUE_DIR     the instance's queue folder (default /var/spool/postfix)
//   MAILSTACK_LOG           its mail log file; no delivery counters when unset or /dev/stdout
//   MAILSTACK_SENDING_IP    its sending address, a label on every metric
//   SIDECAR_HOST, SIDECAR_PORT  where the API listens (default 127.0.0.1:9154)
//   SIDECAR_RELOAD_TOKEN    allows POST /reload with this bearer token (at least 32 characters)
//   SIDECAR_ECHO_LOG        true: write the log's lines to stdout (in a pod, where Postfix logs to a file)
//   SIDECAR_LOG_MAX_BYTES   empty the log file once read past this size (a pod's shared volume)
import { startSidecar } from './sidecar.ts';

const env = process.env;
const port = Number(env.SIDECAR_PORT ?? 9154);
const token = env.SIDECAR_RELOAD_TOKEN || undefined;
const problems = [
  !(Number.isInteger(port) && port > 0 && port < 65536) && 'SIDECAR_PORT: expected a port number',
  token !== undefined && token.length < 32 && 'SIDECAR_RELOAD_TOKEN: at least 32 characters',
  env.SIDECAR_LOG_MAX_BYTES !== undefined &&
    !(Number(env.SIDECAR_LOG_MAX_BYTES) > 0) &&
    'SIDECAR_LOG_MAX_BYTES: expected a positive number of bytes',
].filter(Boolean);
if (problems.length) {
  console.error(`mail sidecar: invalid configuration:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
const logFile = env.MAILSTACK_LOG && env.MAILSTACK_LOG !== '/dev/stdout' ? env.MAILSTACK_LOG : undefined;
const sidecar = await startSidecar({
  queueDir: env.MAILSTACK_QUEUE_DIR || '/var/spool/postfix',
  ...(logFile ? { logFile } : {}),
  ...(env.MAILSTACK_SENDING_IP ? { sendingIp: env.MAILSTACK_SENDING_IP } : {}),
  ...(token ? { reloadToken: token } : {}),
  echoLog: env.SIDECAR_ECHO_LOG === 'true',
  ...(env.SIDECAR_LOG_MAX_BYTES ? { truncateLogAbove: Number(env.SIDECAR_LOG_MAX_BYTES) } : {}),
  host: env.SIDECAR_HOST || '127.0.0.1',
  port,
});
console.log(JSON.stringify({ msg: 'mail sidecar listening', port: sidecar.port }));
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    sidecar.close().then(() => process.exit(0));
  });
}
