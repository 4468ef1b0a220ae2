// Air-gap throughput, measured against peers in the same run (a benchmark: no thresholds):
//  - seed: `shelf seed` of Docker images through a Docker remote, against `skopeo sync` of the same images
//    from the same upstream (Debian's docker-registry), and of generic files through a generic remote, against
//    curl fetching the same files from the same nginx;
//  - export: `shelf export` of everything seeded into one archive, against `tar cf` of the same blob files;
//  - import: `shelf import` of that archive on an empty appliance (verification of every blob included),
//    against `sha256sum` of the same files.
// usage: npm run bench:airgap [-- --mib 1024]   (about half in one large image layer, half in generic files)
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, waitForOk } from './harness.js';

const { values } = parseArgs({ options: { mib: { type: 'string', default: '1024' } } });
const totalMib = Number(values.mib);
const root = mkdtempSync(join(tmpdir(), 'shelf-bench-airgap-'));
const harness = new URL('../test/harness/', import.meta.url).pathname;
const sh = (file, ...args) => execFileSync('bash', [join(harness, file), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
const seconds = (start) => (performance.now() - start) / 1000;
const timed = (fn) => {
  const start = performance.now();
  fn();
  return seconds(start);
};
const cli = (config, ...args) => execFileSync(process.execPath, ['dist/cli/main.js', ...args, '--config', config], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
const du = (dir) => {
  let bytes = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) if (entry.isFile()) bytes += statSync(join(entry.parentPath, entry.name)).size;
  return bytes;
};
const mbs = (bytes, s) => bytes / 1e6 / s;

console.log(`machine: ${cpus().length} CPUs (${cpus()[0]?.model}), node ${process.version}, ${execFileSync('skopeo', ['--version'], { encoding: 'utf8' }).trim()}`);
console.log(`building ${totalMib} MiB of content in ${root} ...`);
const images = join(root, 'images');
sh('docker/make-images.sh', images, String(Math.round(totalMib / 2)));
const registryPort = await freePort();
sh('docker/upstream-registry.sh', 'start', join(root, 'registry'), String(registryPort));
sh('docker/push-images.sh', `127.0.0.1:${registryPort}`, images);
const files = join(root, 'files');
mkdirSync(join(files, 'f'), { recursive: true });
const names = [];
for (let left = (totalMib / 2) * 1024 * 1024, i = 0; left > 0; i++) {
  // Mixed sizes: 1 KiB to 32 MiB.
  const size = Math.min(left, 1024 * 2 ** (i % 16));
  writeFileSync(join(files, 'f', `file-${i}.bin`), randomBytes(size));
  names.push(`f/file-${i}.bin`);
  left -= size;
}
const nginxPort = await freePort();
execFileSync('chmod', ['-R', 'a+rX', root]);
sh('static-upstream.sh', 'start', files, String(nginxPort));

const port = await freePort();
const dataA = join(root, 'a');
const repositories = `repositories:
  - { key: docker-remote, format: docker, type: remote, url: http://127.0.0.1:${registryPort} }
  - { key: files-remote, format: generic, type: remote, url: http://127.0.0.1:${nginxPort}/ }`;
const configA = join(root, 'a.yaml');
writeFileSync(configA, `server: { host: 127.0.0.1, port: ${port}, workers: 2 }
storage: { dataDir: ${dataA} }
logging: { level: warn }
security: { permissions: [{ name: bench-read, repositories: [ANY], anonymous: [read] }] }
${repositories}
`);
const { spawn } = await import('node:child_process');
const serving = spawn(process.execPath, ['dist/cli/main.js', 'serve', '--config', configA], { stdio: 'inherit' });
try {
  await waitForOk(`http://127.0.0.1:${port}/-/healthz`);
  const imageList = join(root, 'images.txt');
  const refs = ['library/busybox:1.0', 'library/busybox:1.1', 'team/app/api:1.0', 'big/blob:1.0', 'multi/arch:1.0'];
  writeFileSync(imageList, refs.join('\n'));
  const pathList = join(root, 'paths.txt');
  writeFileSync(pathList, names.join('\n'));

  const rows = [];
  const skopeoDir = join(root, 'skopeo-sync');
  mkdirSync(skopeoDir);
  const skopeoTime = timed(() => {
    for (const ref of refs) {
      execFileSync('skopeo', ['sync', '--all', '--scoped', '--src', 'docker', '--dest', 'dir', '--src-tls-verify=false', `127.0.0.1:${registryPort}/${ref}`, skopeoDir], { stdio: 'ignore' });
    }
  });
  const dockerBytes = du(skopeoDir);
  const seedDocker = timed(() => cli(configA, 'seed', '--repository', 'docker-remote', '--images', imageList, '--list', join(root, 'docker.json')));
  rows.push(['seed Docker images (skopeo sync)', mbs(dockerBytes, skopeoTime), mbs(dockerBytes, seedDocker)]);

  const curlDir = join(root, 'curl');
  mkdirSync(curlDir);
  const curlTime = timed(() =>
    execFileSync('curl', ['-sf', '--parallel', '--parallel-max', '4', ...names.flatMap((n, i) => ['-o', join(curlDir, String(i)), `http://127.0.0.1:${nginxPort}/${n}`])]),
  );
  const fileBytes = du(curlDir);
  const seedFiles = timed(() => cli(configA, 'seed', '--repository', 'files-remote', '--paths', pathList, '--list', join(root, 'files.json')));
  rows.push(['seed generic files (curl, 4 at once)', mbs(fileBytes, curlTime), mbs(fileBytes, seedFiles)]);

  cli(configA, 'keys', 'create');
  const blobFiles = readdirSync(join(dataA, 'blobs', 'sha256'), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
  const blobBytes = blobFiles.reduce((sum, f) => sum + statSync(f).size, 0);
  const tarTime = timed(() => execFileSync('tar', ['cf', join(root, 'plain.tar'), ...blobFiles]));
  const bundle = join(root, 'bundle.tar');
  const exportTime = timed(() => cli(configA, 'export', '--seed', `${join(root, 'docker.json')},${join(root, 'files.json')}`, '--out', bundle));
  const bundleBytes = statSync(bundle).size;
  rows.push(['export (tar cf of the blobs)', mbs(blobBytes, tarTime), mbs(bundleBytes, exportTime)]);

  const sumTime = timed(() => execFileSync('sha256sum', blobFiles, { stdio: 'ignore' }));
  const publicKey = join(root, 'a.pub');
  writeFileSync(publicKey, cli(configA, 'keys', 'export-public'));
  const configB = join(root, 'b.yaml');
  writeFileSync(configB, `storage: { dataDir: ${join(root, 'b')} }\nlogging: { level: warn }\nbundles: { trustedKeys: [${publicKey}] }\n${repositories}\n`);
  const importTime = timed(() => cli(configB, 'import', bundle));
  rows.push(['import, verifying (sha256sum)', mbs(blobBytes, sumTime), mbs(bundleBytes, importTime)]);

  console.log(`\n${(blobBytes / 1024 ** 2).toFixed(0)} MiB in ${blobFiles.length} blobs; bundle ${(bundleBytes / 1024 ** 2).toFixed(0)} MiB\n`);
  console.log(`${'step (peer)'.padEnd(40)} ${'peer MB/s'.padStart(10)} ${'Shelf MB/s'.padStart(11)} ${'ratio'.padStart(7)}`);
  for (const [label, peer, shelf] of rows) console.log(`${label.padEnd(40)} ${peer.toFixed(1).padStart(10)} ${shelf.toFixed(1).padStart(11)} ${(shelf / peer).toFixed(2).padStart(7)}`);
  console.log('\nratio = Shelf / peer throughput (1.00: as fast). Goals of issue 16: export time within 1.2x of tar (ratio >= 0.83), import at >= 0.8x of sha256sum.');
} finally {
  serving.kill('SIGTERM');
  sh('docker/upstream-registry.sh', 'stop', join(root, 'registry'), String(registryPort));
  sh('static-upstream.sh', 'stop', files, String(nginxPort));
  rmSync(root, { recursive: true, force: true });
}
