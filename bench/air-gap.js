// Air-gap throughput, measured against peers in the same run (a benchmark: no thresholds):
//  - seed: `shelf seed` of Docker images through a Docker remote, against `skopeo sync` of the same images
//    from the same upstream (Debian's docker-registry), and of generic files through a generic remote, against
//    curl fetching the same files from the same nginx;
//  - export: `shelf export` of everything seeded into one archive, against `tar cf` of the same blob files;
//  - import: `shelf import` of that archive on an empty appliance (verification of every blob included),
//    against `sha256sum` of the same files.
// Each repeat starts from empty appliances and empty peer directories; times are compared (lower is better).
// usage: npm run bench:airgap [-- --mib 1024 --workers 2 --repeats 3 --json FILE]  (about half in one large image layer, half in generic files)
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchOptions, freePort, machineFacts, Report, startShelfServer, stopShelfServer } from './harness.js';

const values = benchOptions({ mib: { type: 'string', default: '1024' } });
const { workers, repeats } = values;
const totalMib = Number(values.mib);
const root = mkdtempSync(join(tmpdir(), 'shelf-bench-airgap-'));
const harness = new URL('../test/harness/', import.meta.url).pathname;
const sh = (file, ...args) => execFileSync('bash', [join(harness, file), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
const timed = (fn) => {
  const start = performance.now();
  fn();
  return performance.now() - start;
};
const cli = (config, ...args) => execFileSync(process.execPath, ['dist/cli/main.js', ...args, '--config', config], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
const du = (dir) => {
  let bytes = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) if (entry.isFile()) bytes += statSync(join(entry.parentPath, entry.name)).size;
  return bytes;
};

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

const repositories = [
  `{ key: docker-remote, format: docker, type: remote, url: "http://127.0.0.1:${registryPort}" }`,
  `{ key: files-remote, format: generic, type: remote, url: "http://127.0.0.1:${nginxPort}/" }`,
];
const imageList = join(root, 'images.txt');
const refs = ['library/busybox:1.0', 'library/busybox:1.1', 'team/app/api:1.0', 'big/blob:1.0', 'multi/arch:1.0'];
writeFileSync(imageList, refs.join('\n'));
const pathList = join(root, 'paths.txt');
writeFileSync(pathList, names.join('\n'));

/** One pass from empty: every step timed for the peer and for Shelf (ms), with the bytes each moved. */
async function pass(n) {
  const dir = join(root, `run-${n}`);
  mkdirSync(dir);
  const a = join(dir, 'a');
  mkdirSync(a);
  const shelf = await startShelfServer(a, { port: await freePort(), workers, repositories });
  const configA = join(a, 'shelf.yaml');
  const steps = {};
  try {
    const skopeoDir = join(dir, 'skopeo-sync');
    mkdirSync(skopeoDir);
    const skopeo = timed(() => {
      for (const ref of refs) {
        execFileSync('skopeo', ['sync', '--all', '--scoped', '--src', 'docker', '--dest', 'dir', '--src-tls-verify=false', `127.0.0.1:${registryPort}/${ref}`, skopeoDir], { stdio: 'ignore' });
      }
    });
    const seedDocker = timed(() => cli(configA, 'seed', '--repository', 'docker-remote', '--images', imageList, '--list', join(dir, 'docker.json')));
    steps['seed Docker images (skopeo sync)'] = { peer: skopeo, shelf: seedDocker, bytes: du(skopeoDir) };

    const curlDir = join(dir, 'curl');
    mkdirSync(curlDir);
    const curl = timed(() =>
      execFileSync('curl', ['-sf', '--parallel', '--parallel-max', '4', ...names.flatMap((name, i) => ['-o', join(curlDir, String(i)), `http://127.0.0.1:${nginxPort}/${name}`])]),
    );
    const seedFiles = timed(() => cli(configA, 'seed', '--repository', 'files-remote', '--paths', pathList, '--list', join(dir, 'files.json')));
    steps['seed generic files (curl, 4 at once)'] = { peer: curl, shelf: seedFiles, bytes: du(curlDir) };
  } finally {
    await stopShelfServer(shelf);
  }

  cli(configA, 'keys', 'create');
  const blobFiles = readdirSync(join(a, 'data', 'blobs', 'sha256'), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
  const blobBytes = blobFiles.reduce((sum, f) => sum + statSync(f).size, 0);
  const tar = timed(() => execFileSync('tar', ['cf', join(dir, 'plain.tar'), ...blobFiles]));
  const bundle = join(dir, 'bundle.tar');
  const exported = timed(() => cli(configA, 'export', '--seed', `${join(dir, 'docker.json')},${join(dir, 'files.json')}`, '--out', bundle));
  steps['export (tar cf of the blobs)'] = { peer: tar, shelf: exported, bytes: blobBytes };

  const sums = timed(() => execFileSync('sha256sum', blobFiles, { stdio: 'ignore' }));
  const publicKey = join(dir, 'a.pub');
  writeFileSync(publicKey, cli(configA, 'keys', 'export-public'));
  const configB = join(dir, 'b.yaml');
  writeFileSync(configB, `storage: { dataDir: ${join(dir, 'b')} }\nlogging: { level: warn }\nbundles: { trustedKeys: [${publicKey}] }\nrepositories:\n${repositories.map((r) => `  - ${r}\n`).join('')}`);
  const imported = timed(() => cli(configB, 'import', bundle));
  steps['import, verifying (sha256sum)'] = { peer: sums, shelf: imported, bytes: blobBytes };
  rmSync(dir, { recursive: true, force: true });
  return steps;
}

try {
  const report = new Report('air gap: seed, export and import against skopeo, curl, tar and sha256sum', {
    facts: machineFacts({ skopeo: ['skopeo', '--version'], distribution: ['docker-registry', '--version'], nginx: ['nginx', '-v'] }),
    settings: { repeats, shelfWorkers: workers, contentMiB: totalMib, images: refs.join(' '), files: names.length },
  });
  const passes = [];
  for (let n = 1; n <= repeats; n++) passes.push(await pass(n));
  for (const step of Object.keys(passes[0])) {
    report.recordTimes(`${step}, ${Math.round(passes[0][step].bytes / 1024 ** 2)} MiB`, { peer: passes.map((p) => p[step].peer), shelf: passes.map((p) => p[step].shelf) });
  }
  report.save(values.json);
} finally {
  sh('docker/upstream-registry.sh', 'stop', join(root, 'registry'), String(registryPort));
  sh('static-upstream.sh', 'stop', files, String(nginxPort));
  rmSync(root, { recursive: true, force: true });
}
