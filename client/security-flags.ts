// The CLI's security flags: TLS, mutual TLS and bearer tokens for the client commands, and what the worker and the
// coordinator serve with. README "Security" documents them; server/security.ts does the work.
import { InvalidArgumentError, type Command } from 'commander';
import { TokenTable, readTokenFile, readTokensFile, type ClientTlsFiles, type ServerSecurity, type ServerTlsFiles } from '../server/security.js';
import type { WorkerChannelSecurity } from '../coordinator/grpc-worker.js';
import { CoordinatorClient, type CoordinatorClientOptions } from './coordinator-client.js';

function port(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < -1 || n > 65535) throw new InvalidArgumentError(`${name} must be a port (0 = any free port, -1 = off)`);
    return n;
  };
}

/** Flags of the commands that call a coordinator (submit, watch, fetch, cancel, list). */
export interface ClientSecurityFlags {
  tls?: boolean;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsServerName?: string;
  tokenFile?: string;
}

export function addClientSecurityOptions(cmd: Command): Command {
  return cmd
    .option('--tls', "use TLS, trusting the system's CAs (implied by the other --tls-* flags)")
    .option('--tls-ca <file>', "use TLS, trusting this CA certificate (PEM) for the coordinator's (default: $JUKEBOX_TLS_CA)", process.env.JUKEBOX_TLS_CA || undefined)
    .option('--tls-cert <file>', 'mutual TLS: this client certificate (PEM), with --tls-key')
    .option('--tls-key <file>', "mutual TLS: the client certificate's private key (PEM)")
    .option('--tls-server-name <name>', "the name the coordinator's certificate carries, when it is not the host dialled (a port-forward)")
    .option('--token-file <file>', 'send the bearer token in this file (default: $JUKEBOX_TOKEN_FILE, else the token in $JUKEBOX_TOKEN)', process.env.JUKEBOX_TOKEN_FILE || undefined);
}

export function clientSecurity(flags: ClientSecurityFlags): CoordinatorClientOptions {
  const tlsOn = flags.tls || flags.tlsCa !== undefined || flags.tlsCert !== undefined || flags.tlsKey !== undefined || flags.tlsServerName !== undefined;
  const tls: ClientTlsFiles | undefined = tlsOn ? { ca: flags.tlsCa, cert: flags.tlsCert, key: flags.tlsKey, serverName: flags.tlsServerName } : undefined;
  const token = flags.tokenFile ? readTokenFile(flags.tokenFile, '--token-file') : process.env.JUKEBOX_TOKEN?.trim() || undefined;
  return { ...(tls ? { tls } : {}), ...(token ? { token } : {}) };
}

/** Flags both servers take. */
export interface ServerSecurityFlags {
  metricsHost?: string;
  healthPort: number;
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
  workerTokenFile?: string;
}

/** The coordinator's own flags on top. */
export interface CoordinatorSecurityFlags extends ServerSecurityFlags {
  tokensFile?: string;
  workerTlsCa?: string;
  workerTlsCert?: string;
  workerTlsKey?: string;
  workerTlsServerName?: string;
}

export function addServerSecurityOptions(cmd: Command, role: 'worker' | 'coordinator'): Command {
  cmd
    .option('--metrics-host <host>', 'address /metrics binds (default: --host)')
    .option('--health-port <port>', 'also serve gRPC health checks alone, in plaintext, on this port: for probes that cannot do TLS (-1 = off)', port('--health-port'), -1)
    .option('--tls-cert <file>', 'serve TLS with this certificate chain (PEM), with --tls-key')
    .option('--tls-key <file>', "the certificate's private key (PEM)")
    .option(
      '--tls-client-ca <file>',
      role === 'worker'
        ? 'mutual TLS: accept only clients (the coordinator) whose certificate this CA (PEM) signed'
        : 'mutual TLS: accept only clients whose certificate this CA (PEM) signed',
    )
    .option(
      '--worker-token-file <file>',
      role === 'worker'
        ? "shared secret: refuse every call (Describe included) that does not carry the token in this file (the coordinator's --worker-token-file)"
        : "shared secret: send the token in this file to the workers on every call (the workers' --worker-token-file)",
    );
  if (role === 'coordinator') {
    cmd
      .option('--tokens-file <file>', 'require a bearer token on every call: one "ROLE NAME TOKEN" per line, role admin (every job) or submitter (its own jobs)')
      .option('--worker-tls-ca <file>', "TLS to the workers, trusting this CA certificate (PEM) for theirs")
      .option('--worker-tls-cert <file>', 'mutual TLS to the workers: this client certificate (PEM), with --worker-tls-key')
      .option('--worker-tls-key <file>', "mutual TLS to the workers: the client certificate's private key (PEM)")
      .option('--worker-tls-server-name <name>', "the name every worker's certificate carries, when it is not the address dialled (pod IPs)");
  }
  return cmd;
}

function serverTls(flags: ServerSecurityFlags): ServerTlsFiles | undefined {
  if (flags.tlsCert === undefined && flags.tlsKey === undefined) {
    if (flags.tlsClientCa !== undefined) throw new Error('--tls-client-ca needs --tls-cert and --tls-key (mutual TLS is TLS)');
    return undefined;
  }
  if (flags.tlsCert === undefined || flags.tlsKey === undefined) throw new Error('give --tls-cert and --tls-key together');
  return { cert: flags.tlsCert, key: flags.tlsKey, ...(flags.tlsClientCa !== undefined ? { clientCa: flags.tlsClientCa } : {}) };
}

/** What `jukebox worker` serves with: TLS (mTLS) and the coordinator's shared secret. */
export function workerServerSecurity(flags: ServerSecurityFlags): ServerSecurity {
  const tls = serverTls(flags);
  const tokens = flags.workerTokenFile ? TokenTable.secret(readTokenFile(flags.workerTokenFile, '--worker-token-file')) : undefined;
  return { ...(tls ? { tls } : {}), ...(tokens ? { tokens } : {}) };
}

/** What `jukebox coordinator` serves with (TLS, tokens) and how it reaches its workers (TLS, shared secret). */
export function coordinatorSecurity(flags: CoordinatorSecurityFlags): { security: ServerSecurity; workerSecurity: WorkerChannelSecurity } {
  const tls = serverTls(flags);
  const tokens = flags.tokensFile ? readTokensFile(flags.tokensFile) : undefined;
  const workerTlsOn = [flags.workerTlsCa, flags.workerTlsCert, flags.workerTlsKey, flags.workerTlsServerName].some((f) => f !== undefined);
  if ((flags.workerTlsCert === undefined) !== (flags.workerTlsKey === undefined)) throw new Error('give --worker-tls-cert and --worker-tls-key together');
  const token = flags.workerTokenFile ? readTokenFile(flags.workerTokenFile, '--worker-token-file') : undefined;
  return {
    security: { ...(tls ? { tls } : {}), ...(tokens ? { tokens } : {}) },
    workerSecurity: {
      ...(workerTlsOn ? { tls: { ca: flags.workerTlsCa, cert: flags.workerTlsCert, key: flags.workerTlsKey, serverName: flags.workerTlsServerName } } : {}),
      ...(token ? { token } : {}),
    },
  };
}

/** A client of the coordinator named by --coordinator, with the command's TLS and token flags. */
export function connectCoordinator(flags: { coordinator: string }): CoordinatorClient {
  return new CoordinatorClient(flags.coordinator, clientSecurity(flags as ClientSecurityFlags));
}

/**
 * Adds the security flags: the server flags to `worker` and `coordinator`, the client flags to every command that
 * takes --coordinator (at any depth). Called once every command is defined, so that they list last in --help.
 */
export function addSecurityOptions(program: Command): void {
  for (const name of ['worker', 'coordinator'] as const) {
    const c = program.commands.find((x) => x.name() === name);
    if (c) addServerSecurityOptions(c, name);
  }
  const clients = (cmd: Command): void => {
    for (const c of cmd.commands) {
      if (c.options.some((o) => o.long === '--coordinator')) addClientSecurityOptions(c);
      clients(c);
    }
  };
  clients(program);
}
