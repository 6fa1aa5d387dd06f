// Transport security and authentication, for both gRPC servers and their clients: TLS and mutual TLS from PEM
// files, bearer tokens with a role each (the coordinator's users), and the shared secret workers require of their
// coordinator. Nothing here is on unless asked for: the servers only listen on loopback by default.
import * as grpc from '@grpc/grpc-js';
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';

/**
 * admin: sees and cancels every job. submitter: submits jobs and sees, watches, fetches and cancels only its own.
 * coordinator: the one caller a worker serves (its shared secret, or a client certificate under mTLS).
 */
export type Role = 'admin' | 'submitter' | 'coordinator';

/** Who made a call: the name jobs are owned by, and what it may do. */
export interface Principal {
  name: string;
  role: Role;
}

/** A server's certificate and key (PEM files); with clientCa, clients must present a certificate it signed (mTLS). */
export interface ServerTlsFiles {
  cert: string;
  key: string;
  clientCa?: string;
}

/**
 * How a client reaches a TLS server (PEM files): ca verifies the server (default: the system's roots); cert and
 * key are the client's own certificate for mTLS; serverName is the name the server's certificate must carry when
 * it differs from the host dialled (an IP address, a port-forward).
 */
export interface ClientTlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
  serverName?: string;
}

export interface ServerSecurity {
  /** TLS (and mTLS with clientCa). @default plaintext */
  tls?: ServerTlsFiles;
  /** Bearer tokens accepted; every call but health checks then needs one. @default no authentication */
  tokens?: TokenTable;
}

/** The roles a tokens file may give. */
const FILE_ROLES: readonly Role[] = ['admin', 'submitter'];
/** Shortest token or secret accepted: 128 bits as hex, or about that in base64. */
export const MIN_TOKEN_LENGTH = 16;
const TOKEN_CHARS = /^[A-Za-z0-9._~+/=-]+$/;
const NAME_CHARS = /^[A-Za-z0-9._@:-]{1,64}$/;

const digest = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

/** Bearer tokens and who they stand for. Kept as SHA-256 digests, compared in constant time. */
export class TokenTable {
  private readonly entries: { digest: Buffer; principal: Principal }[] = [];

  add(token: string, principal: Principal): void {
    const d = digest(token);
    if (this.entries.some((e) => timingSafeEqual(e.digest, d))) throw new Error(`the token of "${principal.name}" is given twice`);
    this.entries.push({ digest: d, principal });
  }

  /** The principal of a token, or undefined. Every entry is compared, so the time taken says nothing. */
  lookup(token: string): Principal | undefined {
    const d = digest(token);
    let found: Principal | undefined;
    for (const e of this.entries) if (timingSafeEqual(e.digest, d)) found = e.principal;
    return found;
  }

  get size(): number {
    return this.entries.length;
  }

  /** A table of one token: the worker's shared secret, standing for its coordinator. */
  static secret(token: string): TokenTable {
    const t = new TokenTable();
    t.add(token, { name: 'coordinator', role: 'coordinator' });
    return t;
  }
}

function checkToken(token: string, where: string): void {
  if (token.length < MIN_TOKEN_LENGTH) throw new Error(`${where}: the token is shorter than ${MIN_TOKEN_LENGTH} characters (use e.g. \`openssl rand -hex 32\`)`);
  if (!TOKEN_CHARS.test(token)) throw new Error(`${where}: the token has characters other than A-Z a-z 0-9 . _ ~ + / = -`);
}

/**
 * A tokens file: one `ROLE NAME TOKEN` per line (role admin or submitter; name: up to 64 of A-Z a-z 0-9 . _ @ : -;
 * token: at least 16 of A-Z a-z 0-9 . _ ~ + / = -), fields separated by spaces or tabs; blank lines and lines
 * starting with # are ignored. Several tokens may share a name (rotation); a token may appear only once.
 */
export function parseTokens(text: string, source: string): TokenTable {
  const table = new TokenTable();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `${source}:${i + 1}`;
    const fields = line.split(/\s+/);
    if (fields.length !== 3) throw new Error(`${where}: expected "ROLE NAME TOKEN", got ${fields.length} field(s)`);
    const [role, name, token] = fields;
    if (!FILE_ROLES.includes(role as Role)) throw new Error(`${where}: role must be admin or submitter, got "${role.slice(0, 32)}"`);
    if (!NAME_CHARS.test(name)) throw new Error(`${where}: the name must be 1 to 64 of A-Z a-z 0-9 . _ @ : -, got "${name.slice(0, 32)}"`);
    checkToken(token, where);
    try {
      table.add(token, { name, role: role as Role });
    } catch (err) {
      throw new Error(`${where}: ${(err as Error).message}`);
    }
  });
  if (table.size === 0) throw new Error(`${source}: no tokens (one "ROLE NAME TOKEN" per line)`);
  return table;
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`${what}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function readBytes(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`${what}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

export function readTokensFile(path: string): TokenTable {
  return parseTokens(readText(path, 'tokens file'), path);
}

/** A file holding one token (the worker secret, or a client's bearer token): its only non-comment line. */
export function readTokenFile(path: string, what = 'token file'): string {
  const lines = readText(path, what)
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (lines.length !== 1) throw new Error(`${what} ${path}: expected one line with the token, got ${lines.length}`);
  checkToken(lines[0], `${what} ${path}`);
  return lines[0];
}

/** Checks that a certificate and its key go together (and the CA parses) now, not at the first handshake. */
function checkPair(cert: Buffer, key: Buffer, ca: Buffer | undefined, what: string): void {
  try {
    createSecureContext({ cert, key, ...(ca ? { ca } : {}) });
  } catch (err) {
    throw new Error(`${what}: ${(err as Error).message}`);
  }
}

/** Plaintext without tls; TLS, or mTLS when tls.clientCa is given. Reads the files now. */
export function serverCredentials(tls: ServerTlsFiles | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  const cert = readBytes(tls.cert, 'TLS certificate');
  const key = readBytes(tls.key, 'TLS key');
  const ca = tls.clientCa ? readBytes(tls.clientCa, 'TLS client CA') : undefined;
  checkPair(cert, key, ca, `TLS ${tls.cert} with ${tls.key}`);
  return grpc.ServerCredentials.createSsl(ca ?? null, [{ cert_chain: cert, private_key: key }], ca !== undefined);
}

/** Channel credentials and the options they need: plaintext without tls. Reads the files now. */
export function clientCredentials(tls: ClientTlsFiles | undefined): { credentials: grpc.ChannelCredentials; options: grpc.ChannelOptions } {
  if (!tls) return { credentials: grpc.credentials.createInsecure(), options: {} };
  if ((tls.cert === undefined) !== (tls.key === undefined)) throw new Error('TLS client certificate: give both the certificate and its key');
  const ca = tls.ca ? readBytes(tls.ca, 'TLS CA') : null;
  const cert = tls.cert ? readBytes(tls.cert, 'TLS client certificate') : null;
  const key = tls.key ? readBytes(tls.key, 'TLS client key') : null;
  if (cert && key) checkPair(cert, key, ca ?? undefined, `TLS client ${tls.cert} with ${tls.key}`);
  return {
    credentials: grpc.credentials.createSsl(ca, key, cert),
    options: tls.serverName ? { 'grpc.ssl_target_name_override': tls.serverName, 'grpc.default_authority': tls.serverName } : {},
  };
}

/** A client interceptor that sends `authorization: Bearer <token>` on every call. */
export function bearerInterceptor(token: string): grpc.Interceptor {
  const value = `Bearer ${token}`;
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set('authorization', value);
        next(metadata, listener);
      },
    });
}

/** Methods anyone may call: kubelet probes and load balancers send no token. */
const OPEN_SERVICES = ['/grpc.health.v1.Health/'];

const principals = new WeakMap<grpc.Metadata, Principal>();

/** The principal of a call on a server with tokens; undefined on one without (every caller may do everything). */
export function principalOf(call: { metadata: grpc.Metadata }): Principal | undefined {
  return principals.get(call.metadata);
}

/** The principal of a request's metadata, or the status that refuses it. */
export function authenticate(tokens: TokenTable, metadata: grpc.Metadata): Principal | { code: grpc.status; details: string } {
  const values = metadata.get('authorization');
  if (values.length === 0) return { code: grpc.status.UNAUTHENTICATED, details: 'authorization: missing; send "authorization: Bearer <token>"' };
  if (values.length > 1) return { code: grpc.status.UNAUTHENTICATED, details: 'authorization: sent more than once' };
  const m = /^Bearer\s+(\S+)\s*$/i.exec(String(values[0]));
  if (!m) return { code: grpc.status.UNAUTHENTICATED, details: 'authorization: expected "Bearer <token>"' };
  return tokens.lookup(m[1]) ?? { code: grpc.status.UNAUTHENTICATED, details: 'authorization: unknown token' };
}

/**
 * A server interceptor: every call but health checks needs a known bearer token (UNAUTHENTICATED otherwise). The
 * token is taken out of the metadata the handler sees; principalOf(call) tells the handler who called.
 */
export function authInterceptor(tokens: TokenTable): grpc.ServerInterceptor {
  return (method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, mdNext) {
            if (OPEN_SERVICES.some((p) => method.path.startsWith(p))) return mdNext(metadata);
            const who = authenticate(tokens, metadata);
            if (!('role' in who)) {
              call.sendStatus({ ...who, metadata: new grpc.Metadata() });
              return;
            }
            metadata.remove('authorization');
            principals.set(metadata, who);
            mdNext(metadata);
          },
        });
      },
    });
}

/** Whether a host is a loopback address (or localhost): what may listen without TLS and tokens unremarked. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\./.test(h);
}
