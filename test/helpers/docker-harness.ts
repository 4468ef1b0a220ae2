import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.js';

const HARNESS = new URL('../harness/docker/', import.meta.url).pathname;
const run = promisify(execFile);

/**
 * Real OCI image layouts (busybox rootfs layers, a layer shared by two images, a multi-arch index, one large
 * random layer), built once per machine by make-images.sh and shared by the test files.
 */
export function ociImages(): string {
  const dir = join(tmpdir(), 'shelf-test-oci-images');
  // flock: test files run in parallel and must not build the same layouts at once.
  execFileSync('flock', [`${dir}.lock`, 'bash', join(HARNESS, 'make-images.sh'), dir, '24'], { stdio: 'pipe' });
  return dir;
}

export async function skopeo(...args: string[]): Promise<string> {
  const { stdout } = await run('skopeo', args, { maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** push-images.sh: library/busybox:{1.0,1.1,latest}, team/app/api:1.0, big/blob:1.0, multi/arch:1.0 (index). */
export async function pushImages(destination: string, images: string, credentials?: string): Promise<void> {
  await run('bash', [join(HARNESS, 'push-images.sh'), destination, images, ...(credentials ? [credentials] : [])]);
}

/** pull-check.sh: pulls every pushed image back and compares manifest digests with the layouts; "N passed, M failed". */
export async function pullCheck(source: string, images: string, credentials?: string): Promise<{ passed: number; failed: number; output: string }> {
  const result = await run('bash', [join(HARNESS, 'pull-check.sh'), source, images, ...(credentials ? [credentials] : [])]).catch(
    (err: { stdout: string }) => ({ stdout: err.stdout }),
  );
  const match = /(\d+) passed, (\d+) failed/.exec(result.stdout);
  return { passed: Number(match?.[1] ?? 0), failed: Number(match?.[2] ?? 1), output: result.stdout };
}

/** The digest of a layout's manifest for `layout:tag`, as pushed. */
export async function layoutDigest(images: string, ref: string): Promise<string> {
  const raw = await skopeo('inspect', '--raw', `oci:${images}/${ref}`);
  return `sha256:${createHash('sha256').update(raw).digest('hex')}`;
}

/** Debian's docker-registry (CNCF distribution) on loopback, with its access log to count requests. */
export class RegistryUpstream {
  readonly dataDir = mkdtempSync(join(tmpdir(), 'shelf-registry-'));
  port = 0;

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get url(): string {
    return `http://${this.address}`;
  }

  async start(extra: string[] = []): Promise<void> {
    if (this.port === 0) this.port = await freePort();
    await run('bash', [join(HARNESS, 'upstream-registry.sh'), 'start', this.dataDir, String(this.port), ...extra]);
  }

  async stop(): Promise<void> {
    await run('bash', [join(HARNESS, 'upstream-registry.sh'), 'stop', this.dataDir, String(this.port)]);
    // The port must be free before a restart on it.
    for (let i = 0; i < 100; i++) {
      const busy = await run('bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${this.port}`]).then(() => true, () => false);
      if (!busy) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Access-log lines `METHOD URI STATUS` whose URI contains `fragment`. */
  requests(fragment: string): string[] {
    const log = join(this.dataDir, 'registry.log');
    if (!existsSync(log)) return [];
    return readFileSync(log, 'utf8')
      .split('\n')
      .map((line) => /"(\w+) (\S+) HTTP\/[\d.]+" (\d+)/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null && m[2]!.includes(fragment))
      .map((m) => `${m[1]} ${m[2]} ${m[3]}`);
  }

  /** Stops the registry and removes its data. */
  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** A running upstream registry holding the images push-images.sh pushes; closed when the test ends. */
export async function startRegistryWithImages(t: { teardown(fn: () => unknown): void }, images: string): Promise<RegistryUpstream> {
  const upstream = new RegistryUpstream();
  t.teardown(() => upstream.close());
  await upstream.start();
  await pushImages(upstream.address, images);
  return upstream;
}

/**
 * Signs `image:tag` on a registry without a referrers API (distribution 2.8) as cosign and oras do there: an
 * artifact manifest whose subject is the image, listed by the OCI 1.1 fallback tag `sha256-<hex>`. Throws
 * unless each push is accepted. Answers the image's digest (the subject) and the signature's.
 */
export async function signOnRegistry(registryUrl: string, image: string, tag: string): Promise<{ subject: string; digest: string }> {
  const registry = registryUrl.replace(/\/$/, '');
  const sha256 = (data: string | Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
  const head = await fetch(`${registry}/v2/${image}/manifests/${tag}`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
  const subject = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: head.headers.get('docker-content-digest')!, size: Number(head.headers.get('content-length')) };
  const config = Buffer.from('{}');
  const upload = await fetch(`${registry}/v2/${image}/blobs/uploads/`, { method: 'POST' });
  const location = new URL(upload.headers.get('location')!, registry);
  location.searchParams.set('digest', sha256(config));
  const accepted = (res: Response, what: string) => {
    if (res.status !== 201) throw new Error(`${what}: ${res.status}`);
  };
  accepted(await fetch(location, { method: 'PUT', body: config, headers: { 'content-type': 'application/octet-stream' } }), 'the config blob');
  const artifact = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    artifactType: 'application/vnd.example.signature',
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(config), size: config.length },
    layers: [],
    subject,
  });
  const put = (reference: string, body: string, type: string) => fetch(`${registry}/v2/${image}/manifests/${reference}`, { method: 'PUT', body, headers: { 'content-type': type } });
  accepted(await put(sha256(artifact), artifact, 'application/vnd.oci.image.manifest.v1+json'), 'the signature');
  const index = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(artifact), size: artifact.length, artifactType: 'application/vnd.example.signature' }],
  });
  accepted(await put(`sha256-${subject.digest.slice('sha256:'.length)}`, index, 'application/vnd.oci.image.index.v1+json'), 'the fallback tag');
  return { subject: subject.digest, digest: sha256(artifact) };
}
