import { execFileSync } from 'node:child_process';
import { createPrivateKey, createSign, randomUUID, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/**
 * A token service as Docker Hub runs one (the Docker token authentication spec): Basic credentials in,
 * a short-lived RS256 JWT out, with the granted `access` and the signing certificate in its `x5c` header,
 * which docker-registry checks against the certificate bundle it is configured with.
 */
export class DockerTokenServer {
  readonly dir = mkdtempSync(join(tmpdir(), 'shelf-token-'));
  readonly certFile = join(this.dir, 'cert.pem');
  /** The scope of every token request, in order; "DENIED <scope>" for refused credentials. */
  readonly issued: string[] = [];
  private server?: Server;

  constructor(private readonly credentials: string) {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=harness-token-issuer',
      '-keyout', join(this.dir, 'key.pem'), '-out', this.certFile,
    ], { stdio: 'pipe' });
  }

  get realm(): string {
    const address = this.server?.address() as { port: number };
    return `http://127.0.0.1:${address.port}/token`;
  }

  async start(): Promise<void> {
    const key = createPrivateKey(readFileSync(join(this.dir, 'key.pem')));
    const certDer = new X509Certificate(readFileSync(this.certFile)).raw.toString('base64');
    this.server = createServer((req, res) => {
      const url = new URL(req.url!, 'http://token');
      const scope = url.searchParams.get('scope') ?? '';
      const basic = req.headers.authorization?.replace(/^Basic /, '');
      if (!basic || Buffer.from(basic, 'base64').toString() !== this.credentials) {
        this.issued.push(`DENIED ${scope}`);
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"incorrect username or password"}');
        return;
      }
      this.issued.push(scope);
      const [type, name, actions] = scope.split(':');
      const now = Math.floor(Date.now() / 1000);
      const header = { alg: 'RS256', typ: 'JWT', x5c: [certDer] };
      const claims = {
        iss: 'harness-token-issuer',
        sub: this.credentials.split(':')[0],
        aud: url.searchParams.get('service'),
        iat: now,
        nbf: now - 10,
        exp: now + 300,
        jti: randomUUID(),
        access: type ? [{ type, name, actions: (actions ?? '').split(',') }] : [],
      };
      const unsigned = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
      const signature = createSign('RSA-SHA256').update(unsigned).sign(key);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token: `${unsigned}.${b64url(signature)}`, expires_in: 300, issued_at: new Date().toISOString() }));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
