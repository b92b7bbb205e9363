import { parseArgs } from 'node:util';
import { createLogger } from '../adapters/node/logger.ts';
import { loadPolicyFile, PolicyFileError } from '../adapters/node/policy-file.ts';
import { loadAdminTokens } from '../adapters/node/admin-tokens.ts';
import {
  auditCommand,
  CliUsageError,
  drillCommand,
  GatewayAnswerError,
  policyCommand,
  statusCommand,
} from './ops-commands.ts';
import { commandHelp, wantsHelp } from './command-help.ts';
import { paypathVersion } from './version.ts';
import { SecretFileError } from '../adapters/node/secret-file.ts';
import { doctorCommand, DoctorUsageError } from './doctor-command.ts';
import { routeShadowingWarnings } from '../core/policy/route-shadowing.ts';
import { loadQueueKeys, QueueKeyError } from '../adapters/node/queue-keys.ts';

/** Exit statuses other tools can rely on. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

const USAGE = `paypath: a triple-homed payment gateway

Usage:
  paypath serve --policy FILE [--port N] [--host ADDR] [--redis URL] [--tls-cert FILE --tls-key FILE]
                                                         run the gateway (env: PAYPATH_POLICY, PORT, HOST, REDIS_URL,
                                                         PAYPATH_TLS_CERT, PAYPATH_TLS_KEY; merchant keys: see docs/security.md)
                       [--admin-tokens-file FILE] [--audit-file FILE] [--no-watch] [--idempotency-memory-mb N]
                       [--no-warm-up]                    start listening without first running requests through an
                                                         in-memory copy (the first payments are then slower)
                                                         --redis: redis://, rediss://, redis+sentinel://[:pw@]h:p,.../master,
                                                         redis+cluster://[user:pw@]h:p,... (rediss+cluster:// for TLS)
                                                         admin tokens: PAYPATH_ADMIN_TOKENS="name:role:token,..." or
                                                         PAYPATH_ADMIN_TOKENS_FILE (mode 600); audit: PAYPATH_AUDIT_FILE
                                                         (default ./paypath-audit.jsonl)
                                                         --idempotency-memory-mb: the idempotency records kept in
                                                         memory (with --redis, those Redis could not take; env
                                                         PAYPATH_IDEMPOTENCY_MEMORY_MB; default 64, oldest completed
                                                         dropped first)
                       [--queue-key-file FILE]           key(s) sealing requests queued in Redis (AES-256-GCM): base64 of
                                                         32 random bytes per line, first seals, others are previous keys
                                                         (mode 600; env PAYPATH_QUEUE_KEY_FILE, or PAYPATH_QUEUE_KEY holding
                                                         the keys); with --redis and no key, nothing is queued
                                                         PAYPATH_V8_HEAP=small (default: young generation 32 MB, see
                                                         docs/ops.md) or default (V8's own heap sizing)
  paypath validate FILE                                  check a policy file
  paypath doctor --policy FILE [--json]                  check the policy against this box (addresses, each
                                                         path's egress, resolvers, upstream) and print the
                                                         routing commands that fix what is wrong; exit 1 if any
  paypath status                                         paths, redundancy, policy revision, drills
  paypath drill PATH... [--duration MS] [--wait]         isolate one or more paths for a while (default 10000 ms) and
                                                         report what the others carried
  paypath drill stop                                     end the running drill now
  paypath policy show | diff FILE | apply FILE | rollback REV | history
                                                         the running policy (YAML), or change it
  paypath audit [--limit N]                              the newest admin actions (default 20)
  paypath help [COMMAND]                                 this text, or one command's (also: paypath COMMAND --help)
  paypath --version

Options of status, drill, policy, audit (they talk to a running gateway):
  --url URL                                              the gateway (env PAYPATH_URL, default http://127.0.0.1:8787)
  --token TOKEN                                          an admin token (env PAYPATH_ADMIN_TOKEN)
  --json                                                 print the gateway's JSON answer

Exit status: 0 ok, 1 runtime failure, 2 bad usage or invalid policy.`;

class UsageError extends Error {}

/** `paypath COMMAND --help`: that command's part of the usage, status 0; an unknown command is bad usage. */
function printCommandHelp(command: string): number {
  const help = commandHelp(USAGE, command);
  if (help === undefined) {
    console.error(`paypath: unknown command "${command}"\n\n${USAGE}`);
    return EXIT.usage;
  }
  console.log(help);
  return EXIT.ok;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--version' || command === 'version') {
    console.log(`paypath ${paypathVersion()}`);
    return EXIT.ok;
  }
  if (command === 'help' && rest[0] !== undefined)
    return printCommandHelp(wantsHelp(rest) ? 'help' : rest[0]);
  if (command !== undefined && command !== 'help' && wantsHelp(rest))
    return printCommandHelp(command);
  try {
    switch (command) {
      case 'serve':
        return await serveCommand(rest);
      case 'validate':
        return await validateCommand(rest);
      case 'doctor':
        return await doctorCommand(rest, console.log);
      case 'status':
        return await statusCommand(rest, console.log);
      case 'drill':
        return await drillCommand(rest, console.log);
      case 'policy':
        return await policyCommand(rest, console.log);
      case 'audit':
        return await auditCommand(rest, console.log);
      case 'help':
      case '--help':
      case '-h':
      case undefined:
        console.log(USAGE);
        return command === undefined ? EXIT.usage : EXIT.ok;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (error) {
    if (error instanceof PolicyFileError || error instanceof SecretFileError) {
      console.error(error.message);
      return EXIT.usage;
    }
    if (error instanceof GatewayAnswerError) {
      console.error(`paypath: ${error.message}`);
      return EXIT.failure;
    }
    if (
      error instanceof UsageError ||
      error instanceof CliUsageError ||
      error instanceof DoctorUsageError ||
      (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    ) {
      console.error(`paypath: ${(error as Error).message}\n\n${USAGE}`);
      return EXIT.usage;
    }
    console.error(`paypath: ${(error as Error).stack ?? String(error)}`);
    return EXIT.failure;
  }
}

async function validateCommand(args: string[]): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  if (positionals.length !== 1) throw new UsageError('validate takes exactly one policy file');
  const file = positionals[0]!;
  const { policy, hash } = await loadPolicyFile(file);
  console.log(
    `${file}: valid (version ${policy.version}, hash ${hash}; ${policy.paths.length} paths, ${policy.routes.length} routes)`,
  );
  // Valid all the same (exit 0): the order of routes only misleads a reader here.
  for (const warning of routeShadowingWarnings(policy)) console.error(`warning: ${warning}`);
  return EXIT.ok;
}

async function serveCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      policy: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      redis: { type: 'string' },
      'admin-tokens-file': { type: 'string' },
      'audit-file': { type: 'string' },
      'no-watch': { type: 'boolean', default: false },
      'no-warm-up': { type: 'boolean', default: false },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'idempotency-memory-mb': { type: 'string' },
      'queue-key-file': { type: 'string' },
    },
  });
  const tlsCert = values['tls-cert'] ?? process.env.PAYPATH_TLS_CERT;
  const tlsKey = values['tls-key'] ?? process.env.PAYPATH_TLS_KEY;
  if ((tlsCert === undefined) !== (tlsKey === undefined))
    throw new UsageError('--tls-cert and --tls-key go together');
  const file = values.policy ?? process.env.PAYPATH_POLICY;
  if (!file) throw new UsageError('serve needs --policy FILE (or PAYPATH_POLICY)');
  const portText = values.port ?? process.env.PORT ?? '8787';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port must be 0..65535, got "${portText}"`);
  const memoryMbText = values['idempotency-memory-mb'] ?? process.env.PAYPATH_IDEMPOTENCY_MEMORY_MB;
  const memoryMb = memoryMbText === undefined ? undefined : Number(memoryMbText);
  if (memoryMb !== undefined && !(Number.isFinite(memoryMb) && memoryMb > 0)) {
    throw new UsageError(
      `--idempotency-memory-mb must be a positive number of MB, got "${memoryMbText}"`,
    );
  }
  let queueKeys;
  try {
    queueKeys = loadQueueKeys({
      file: values['queue-key-file'] ?? process.env.PAYPATH_QUEUE_KEY_FILE,
      env: process.env.PAYPATH_QUEUE_KEY,
    });
  } catch (error) {
    if (error instanceof QueueKeyError) throw new UsageError(error.message);
    throw error;
  }
  const { policy, hash } = await loadPolicyFile(file);
  // Loaded only here, so `validate` starts fast: the server pulls in undici, TLS, Redis and Hono.
  const { startNodeGateway } = await import('../adapters/node/server.ts');
  const redisUrl = values.redis ?? process.env.REDIS_URL;
  if (redisUrl !== undefined) {
    // A malformed Sentinel or Cluster URL is bad usage (status 2), said before anything starts.
    const { parseClusterUrl, parseSentinelUrl } = await import('../adapters/node/redis/client.ts');
    try {
      parseClusterUrl(redisUrl);
      parseSentinelUrl(redisUrl);
    } catch (error) {
      throw new UsageError(`--redis (or REDIS_URL): ${(error as Error).message}`);
    }
  }
  const logger = createLogger();
  let adminTokens;
  try {
    adminTokens = await loadAdminTokens({
      spec: process.env.PAYPATH_ADMIN_TOKENS,
      file: values['admin-tokens-file'] ?? process.env.PAYPATH_ADMIN_TOKENS_FILE,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (adminTokens.length === 0)
    logger.warn(
      { event: 'admin_disabled' },
      'no admin tokens configured: every /admin request is answered 401',
    );
  const running = await startNodeGateway({
    policyFile: file,
    watchPolicy: !values['no-watch'],
    warmCodePaths: !values['no-warm-up'],
    adminTokens,
    auditFile: values['audit-file'] ?? process.env.PAYPATH_AUDIT_FILE ?? 'paypath-audit.jsonl',
    policy,
    policyHash: hash,
    port,
    host: values.host ?? process.env.HOST ?? '127.0.0.1',
    ...(redisUrl !== undefined ? { redisUrl } : {}),
    ...(memoryMb !== undefined
      ? { idempotencyMemoryBytes: Math.round(memoryMb * 1024 * 1024) }
      : {}),
    ...(queueKeys.length > 0 ? { queueKeys } : {}),
    logger,
    ...(tlsCert !== undefined && tlsKey !== undefined
      ? { tls: { certFile: tlsCert, keyFile: tlsKey } }
      : {}),
  });
  logger.info({ url: running.url, policy: file, hash }, `paypath listening on ${running.url}`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  logger.info({}, 'shutting down');
  await running.close();
  return EXIT.ok;
}
