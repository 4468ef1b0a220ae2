import { execFileSync } from 'node:child_process';
import { basename, join } from 'node:path';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import t, { type Test } from 'tap';
import { runTool } from '../helpers/run-tool.js';
import { buildPackages, Container, debianRoot, whyNoContainers } from '../helpers/container.js';

/**
 * The .deb on Debian 13 and 12, each booted under real systemd (systemd-nspawn -b, no network): install with
 * apt, the service, the CLI as root with no environment, reload, kill -9, a graceful stop during a download,
 * the sandbox's exposure, logrotate, an upgrade with its backup, a rollback, and the data directory on /srv.
 * (Booting the VM image itself would need qemu, which cannot boot images on this machine: see image.test.ts.)
 */
const why = whyNoContainers();
if (why) {
  t.comment(`SKIPPED: the appliance tests need systemd-nspawn and debootstrap as root: ${why}`);
  t.pass('skipped');
} else {
  t.setTimeout(40 * 60_000);
  const work = mkdtempSync(join(tmpdir(), 'shelf-appliance-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  // The roots are made (the first time) while the packages build.
  const roots = { trixie: debianRoot('trixie'), bookworm: debianRoot('bookworm') };
  const debs = buildPackages(join(work, 'debs'));
  await Promise.all(Object.values(roots));
  for (const suite of ['trixie', 'bookworm'] as const) await t.test(`Debian ${suite}`, async (t) => checkAppliance(t, suite, await roots[suite], work, debs));
  await t.test('the tarball: installs with Debian 13\'s Node 20, refuses Debian 12\'s Node 18', (t) => checkTarball(t, work, debs));
  await t.test('the VM image', (t) => checkImage(t, work, debs));
}

type Packages = ReturnType<typeof buildPackages>;

async function checkAppliance(t: Test, suite: string, root: string, work: string, debs: Packages): Promise<void> {
  const vm = await Container.boot(root, `shelf-${suite}`, work, { [join(work, 'debs')]: '/debs' });
  t.teardown(() => vm.stop());
  const sh = (command: string) => vm.sh(command);
  const upload = (path: string, file: string) =>
    sh(`curl -s -o /dev/null -w '%{http_code}' -u alice:alice-password-1 -T ${file} http://localhost:8080/generic-local/${path}`);
  const mainPid = async () => (await sh('systemctl show -p MainPID --value shelf')).stdout.trim();

  const installed = await sh(`DEBIAN_FRONTEND=noninteractive apt-get install -y /debs/${basename(debs.first)} 2>&1`);
  t.equal(installed.code, 0, `apt-get install ./shelf.deb${installed.code ? `: ${installed.stdout}` : ''}`);
  t.match(installed.stdout, /npm-remote is not configured until SHELF_NPM_UPSTREAM is set in \/etc\/shelf\/shelf\.env/, 'no npm here: it says once how to set the upstream');
  t.equal((await sh('systemctl is-active shelf')).stdout.trim(), 'active');
  t.match((await sh('curl -s http://localhost:8080/-/readyz')).stdout, /"status": ?"ready"/);
  // The web UI is in the package: a browser opening the address gets its page, which names its bundled script.
  const page = await sh("curl -sL -H 'Accept: text/html' http://localhost:8080/ | grep -o '/ui/assets/main-[A-Z0-9]*\\.js' | xargs -I{} curl -s -o /dev/null -w '%{http_code}' http://localhost:8080{}");
  t.equal(page.stdout, '200', 'the web UI and its script are served');
  t.equal((await sh('stat -c "%a %U" /var/lib/shelf/data/security/initial-admin-password /var/lib/shelf/data/security/jwt.key')).stdout, '600 shelf\n600 shelf\n');

  // The CLI as root with no environment (sh runs under env -i): it finds the config and works as the service user.
  const added = await sh('echo alice-password-1 | shelf user add alice --password-stdin && shelf group set developers --members alice && shelf config check');
  t.equal(added.code, 0, added.stderr);
  t.equal((await sh('find /var/lib/shelf/data ! -user shelf')).stdout, '', 'nothing in the data directory belongs to root');
  t.equal((await upload('docs/hello.txt', '/etc/os-release')).stdout, '201');
  t.equal((await sh('curl -sf http://localhost:8080/generic-local/docs/hello.txt | cmp - /etc/os-release && echo same')).stdout.trim(), 'same');
  t.match((await sh('journalctl -t shelf --no-pager')).stdout, /docs\/hello\.txt/, 'request lines in the journal under "shelf"');

  const before = await mainPid();
  t.equal((await sh('systemctl reload shelf && systemctl is-active shelf')).stdout.trim(), 'active');
  t.equal(await mainPid(), before, 'reload keeps the process');
  await sh(`kill -9 ${before}`);
  const back = await vm.until(`[ "$(systemctl show -p MainPID --value shelf)" != ${before} ] && [ "$(systemctl is-active shelf)" = active ]`);
  t.equal(back.code, 0, 'restarted after kill -9 of the main process');

  // A graceful stop lets a 100 MB download in progress finish.
  await sh('head -c 100000000 /dev/urandom > /root/big.bin');
  t.equal((await upload('big.bin', '/root/big.bin')).stdout, '201');
  const download = sh('curl -s --limit-rate 25M -o /root/got.bin -w "%{http_code}" http://localhost:8080/generic-local/big.bin');
  await sh('sleep 1.5');
  const stopped = await sh('systemctl stop shelf');
  t.equal(stopped.code, 0);
  t.equal((await download).stdout, '200');
  t.equal((await sh('cmp /root/big.bin /root/got.bin && echo same')).stdout.trim(), 'same', 'the download completed during the stop');
  await sh('systemctl start shelf');

  const security = await sh('systemd-analyze security shelf.service --no-pager');
  const exposure = Number(/Overall exposure level for shelf\.service: ([\d.]+)/.exec(security.stdout)?.[1]);
  t.ok(exposure <= 2.0, `systemd-analyze security: ${exposure}`);

  const rotated = await sh('logrotate -f /etc/logrotate.d/shelf && ls /var/lib/shelf/data/logs');
  t.equal(rotated.code, 0, rotated.stderr);
  t.match(rotated.stdout, /audit\.log\.1/);
  t.equal((await upload('docs/after-rotate.txt', '/etc/hostname')).stdout, '201');
  t.equal((await vm.until('grep -q after-rotate.txt /var/lib/shelf/data/logs/audit.log', 10)).code, 0, 'the audit log is written again after logrotate');

  // Upgrade: a backup of the index first, then the new code running (its version, its files mapped).
  const upgraded = await sh(`DEBIAN_FRONTEND=noninteractive apt-get install -y /debs/${basename(debs.second)} 2>&1`);
  t.equal(upgraded.code, 0, `apt-get install of a newer build${upgraded.code ? `: ${upgraded.stdout}` : ''}`);
  t.match(upgraded.stdout, /backing up the index of /);
  t.match((await sh('curl -s http://localhost:8080/-/healthz')).stdout, `"version": "${debs.secondVersion}"`);
  t.equal((await sh(`grep -c '(deleted)' /proc/${await mainPid()}/maps`)).stdout.trim(), '0', 'no file of the old release is still mapped');
  t.equal((await sh('ls /var/lib/shelf/backups/upgrade-*/backup.json /var/lib/shelf/backups/upgrade-*/index.sqlite | wc -l')).stdout.trim(), '2');
  t.equal((await sh('curl -sf http://localhost:8080/generic-local/docs/hello.txt | cmp - /etc/os-release && echo same')).stdout.trim(), 'same', 'data intact');

  // Rollback: the previous release and the index of before the upgrade.
  t.equal((await upload('docs/after-upgrade.txt', '/etc/hostname')).stdout, '201');
  const rolledBack = await sh('shelf rollback');
  t.equal(rolledBack.code, 0, rolledBack.stderr);
  t.match((await sh('curl -s http://localhost:8080/-/healthz')).stdout, `"version": "${debs.firstVersion}"`);
  t.match((await sh(`cat /proc/${await mainPid()}/cmdline | tr '\\0' ' '`)).stdout, `/var/lib/shelf/releases/${debs.firstVersion}/`);
  t.equal((await sh('curl -s -o /dev/null -w "%{http_code}" http://localhost:8080/generic-local/docs/after-upgrade.txt')).stdout, '404');
  t.equal((await sh('curl -s -o /dev/null -w "%{http_code}" http://localhost:8080/generic-local/docs/hello.txt')).stdout, '200');

  // The data directory on another disk: refused clearly until `shelf service configure` lets the service write there.
  await sh("sed -i 's#^  dataDir: .*#  dataDir: /srv/shelf/data#' /etc/shelf/shelf.yaml");
  t.not((await sh('systemctl restart shelf')).code, 0, 'systemctl restart fails when Shelf does not become ready');
  t.match((await sh('journalctl -t shelf --no-pager -n 20')).stdout, /storage\.dataDir \/srv\/shelf\/data cannot be created .*shelf service configure/);
  const configured = await sh('shelf service configure && systemctl restart shelf && systemctl is-active shelf');
  t.equal(configured.code, 0, `shelf service configure, then a restart${configured.code ? `: ${configured.stdout}${configured.stderr}` : ''}`);
  t.equal((await sh('echo alice-password-1 | shelf user add alice --password-stdin && shelf group set developers --members alice')).code, 0);
  t.equal((await upload('on-srv.txt', '/etc/hostname')).stdout, '201');
  t.equal((await sh('ls /srv/shelf/data/blobs/sha256 | wc -l')).stdout.trim() !== '0', true, 'blobs are stored under /srv');
  t.equal((await sh('logrotate -f /etc/logrotate.d/shelf && ls /srv/shelf/data/logs')).stdout.includes('audit.log.1'), true, 'logrotate follows the data directory');

  // A front nginx, as docs/appliance.md sets it up: nginx sends the blobs Shelf verified, reading them as a
  // member of the service's group. One worker, so that the first download makes the file trusted for all.
  const front = await sh([
    "sed -i 's#^server:$#server:\\n  trustProxy: true\\n  xAccelLocation: /_shelf/blobs/#; s#^  workers: .*#  workers: 1#' /etc/shelf/shelf.yaml",
    'shelf service nginx-front --listen 80 --output /etc/nginx/sites-available/shelf',
    'ln -sf /etc/nginx/sites-available/shelf /etc/nginx/sites-enabled/shelf && rm -f /etc/nginx/sites-enabled/default',
    'usermod -aG shelf www-data && systemctl restart shelf nginx',
  ].join(' && '));
  t.equal(front.code, 0, `the front nginx${front.code ? `: ${front.stdout}${front.stderr}` : ''}`);
  await sh('head -c 5000000 /dev/urandom > /root/front.bin');
  t.equal((await sh("curl -s -o /dev/null -w '%{http_code}' -u alice:alice-password-1 -T /root/front.bin http://localhost/generic-local/front.bin")).stdout, '201', 'an upload through nginx');
  for (const pass of ['verified by Shelf', 'sent by nginx']) {
    const got = await sh('curl -sf http://localhost/generic-local/front.bin -o /root/front-got.bin && cmp /root/front.bin /root/front-got.bin && echo same');
    t.equal(got.stdout.trim(), 'same', `a download through nginx, ${pass}`);
  }
  const named = await sh('curl -s -D - -o /dev/null -H "X-Sendfile-Type: X-Accel-Redirect" http://localhost:8080/generic-local/front.bin');
  t.match(named.stdout, /x-accel-redirect: \/_shelf\/blobs\/[0-9a-f]{2}\/[0-9a-f]{64}/i, 'Shelf hands the verified file to nginx');
  t.equal((await sh('grep -c "Permission denied" /var/log/nginx/error.log')).stdout.trim(), '0', 'and nginx may read it');
}

/**
 * The image, built from the .deb: its partitions and boot files (the ESP read with mtools: this machine's
 * kernel has no vfat), its root mounted read-only, and its first boot with a seed, in a container made of
 * that root. (The image cannot be booted under qemu here: nested KVM fails on this CPU and TCG is too slow.)
 */
async function checkImage(t: Test, work: string, debs: Packages): Promise<void> {
  const built = await runTool('appliance-image/build-image.sh', [debs.first, join(work, 'image')], process.env);
  if (built.code === 77) {
    t.comment(`SKIPPED: ${built.stderr.trim()}`);
    return;
  }
  t.equal(built.code, 0, `build-image.sh${built.code ? `: ${built.stderr}` : ''}`);
  if (built.code !== 0) return;
  const qcow2 = built.stdout.trim();
  const raw = qcow2.replace(/\.qcow2$/, '.raw');
  const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', qcow2], { encoding: 'utf8' })) as { format: string; 'virtual-size': number };
  t.equal(info.format, 'qcow2');
  t.equal(info['virtual-size'], statSync(raw).size, 'the qcow2 holds the raw disk');

  const table = JSON.parse(execFileSync('sfdisk', ['-J', raw], { encoding: 'utf8' })) as { partitiontable: { label: string; partitions: { start: number; type: string }[] } };
  t.equal(table.partitiontable.label, 'gpt');
  const [esp, root] = table.partitiontable.partitions;
  t.equal(esp?.type, 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B', 'an EFI system partition');
  t.equal(root?.type, '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709', 'an x86-64 root partition');

  const espAt = `${raw}@@${esp!.start * 512}`;
  const listing = execFileSync('mdir', ['-/', '-b', '-i', espAt, '::'], { encoding: 'utf8' });
  for (const file of ['::/EFI/BOOT/BOOTX64.EFI', '::/loader/loader.conf', '::/loader/entries/shelf.conf', '::/vmlinuz', '::/initrd.img']) {
    t.match(listing, file, `the ESP has ${file}`);
  }
  t.equal(execFileSync('mtype', ['-i', espAt, '::/EFI/BOOT/BOOTX64.EFI']).subarray(0, 2).toString(), 'MZ', 'the boot loader is an EFI program');
  t.match(execFileSync('mtype', ['-i', espAt, '::/loader/entries/shelf.conf'], { encoding: 'utf8' }), /options root=LABEL=shelf-root rw/);

  const mnt = join(work, 'image-root-mount');
  mkdirSync(mnt, { recursive: true });
  execFileSync('mount', ['-o', `loop,ro,offset=${root!.start * 512}`, raw, mnt]);
  const copy = join(work, 'image-root');
  try {
    t.ok(existsSync(join(mnt, 'usr/lib/shelf/dist/cli/main.js')), 'Shelf is installed');
    t.equal(readlinkSync(join(mnt, 'usr/bin/shelf')), '../lib/shelf/bin/shelf');
    t.ok(existsSync(join(mnt, 'usr/lib/shelf/node/bin/node')), 'with its own Node');
    for (const unit of ['shelf.service', 'shelf-firstboot.service', 'shelf-banner.service', 'systemd-networkd.service', 'ssh.service']) {
      // The link is absolute: it points into the image, not this host, so it is read, not followed.
      t.match(readlinkSync(join(mnt, 'etc/systemd/system/multi-user.target.wants', unit)), new RegExp(`/systemd/system/${unit}$`), `${unit} is enabled`);
    }
    t.equal(readFileSync(join(mnt, 'etc/machine-id'), 'utf8'), '', 'the machine id is made on first boot');
    t.notOk(existsSync(join(mnt, 'etc/ssh/ssh_host_ed25519_key')), 'no SSH host key is baked in');
    t.notOk(existsSync(join(mnt, 'var/lib/shelf/data/security')), 'no Shelf key or password is baked in');
    t.match(readFileSync(join(mnt, 'etc/fstab'), 'utf8'), /LABEL=shelf-root \/ ext4/);
    execFileSync('cp', ['-a', mnt, copy]);
  } finally {
    execFileSync('umount', [mnt]);
  }

  // First boot with a seed on the EFI partition's shelf-seed/ (placed where the ESP is mounted; a container
  // has no ESP device, so its fstab line goes).
  writeFileSync(join(copy, 'etc/fstab'), '');
  mkdirSync(join(copy, 'boot/efi/shelf-seed'), { recursive: true });
  writeFileSync(join(copy, 'boot/efi/shelf-seed/admin-password'), 'seeded-admin-password-1\n');
  writeFileSync(join(copy, 'boot/efi/shelf-seed/tls-self-signed'), '');
  const vm = await Container.boot(copy, 'shelf-image', work);
  t.teardown(() => vm.stop());
  t.equal((await vm.until('systemctl is-active shelf')).code, 0, 'shelf is active after the first boot');
  t.equal((await vm.sh('test -f /var/lib/shelf/.firstboot-done && test -s /etc/machine-id && ls /etc/ssh/ssh_host_ed25519_key')).code, 0, 'first boot made the machine id and SSH host keys');
  t.equal((await vm.sh('curl -s -o /dev/null -w "%{http_code}" -u admin:seeded-admin-password-1 http://localhost:8080/api/storage/summary')).stdout, '200', 'admin has the seeded password');
  t.notOk((await vm.sh('ls /var/lib/shelf/data/security/')).stdout.includes('initial-admin-password'), 'no password was generated');
  const https = await vm.until('curl -sk https://localhost:8443/-/healthz', 30);
  t.match(https.stdout, /"status": ?"ok"/, 'HTTPS with the self-signed certificate');
  t.match((await vm.sh('openssl x509 -in /etc/shelf/tls/shelf.crt -noout -subject')).stdout, /CN ?= ?shelf/);
  const banner = await vm.until('journalctl -u shelf-banner --no-pager | grep -q "user admin\\|is active"', 30);
  t.equal(banner.code, 0, 'the console banner ran at boot');
  t.match((await vm.sh('/usr/lib/shelf/bin/shelf-banner')).stdout, /TLS certificate \/etc\/shelf\/tls\/shelf\.crt, sha256 Fingerprint=/i);
}

async function checkTarball(t: Test, work: string, packages: Packages): Promise<void> {
  const dir = join(work, 'debs');
  t.equal(execFileSync('sha256sum', ['-c', `${basename(packages.tarball)}.sha256`], { cwd: dir, encoding: 'utf8' }).trim(), `${basename(packages.tarball)}: OK`);
  const listing = execFileSync('tar', ['tzf', packages.tarball], { encoding: 'utf8', maxBuffer: 64 << 20 });
  t.notMatch(listing, /better-sqlite3\/(deps|src)\/|obj\.target|\.o\n/, 'no native build leftovers');
  t.match(listing, /better-sqlite3\/build\/Release\/better_sqlite3\.node/);

  const trixie = await Container.boot(await debianRoot('trixie'), 'shelf-tarball-13', work, { [dir]: '/debs' });
  t.teardown(() => trixie.stop());
  const installed = await trixie.sh(`tar xzf /debs/${basename(packages.tarball)} -C /root && /root/shelf-*/install.sh 2>&1`);
  t.equal(installed.code, 0, `install.sh on Debian 13${installed.code ? `: ${installed.stdout}` : ''}`);
  t.equal((await trixie.sh('readlink /usr/bin/shelf')).stdout.trim(), '/opt/shelf/bin/shelf');
  t.equal((await trixie.sh('systemctl is-active shelf')).stdout.trim(), 'active');
  t.match((await trixie.sh('cat /proc/$(systemctl show -p MainPID --value shelf)/cmdline | tr "\\0" " "')).stdout, /^\/usr\/bin\/node \/opt\/shelf\/dist\/cli\/main\.js serve/, "it runs on the host's node");
  t.match((await trixie.sh('curl -s http://localhost:8080/-/readyz')).stdout, /"status": ?"ready"/);

  const bookworm = await Container.boot(await debianRoot('bookworm'), 'shelf-tarball-12', work, { [dir]: '/debs' });
  t.teardown(() => bookworm.stop());
  const refused = await bookworm.sh(`tar xzf /debs/${basename(packages.tarball)} -C /root && /root/shelf-*/install.sh`);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /this release is built for Node\.js v20\.[\d.]+ \(ABI 115\); this host's node is v18\.[\d.]+ \(ABI 108\)/);
  t.match(refused.stderr, /or use the \.deb, which brings its own Node/);
  t.equal((await bookworm.sh('test -e /opt/shelf || test -e /usr/bin/shelf || echo none')).stdout.trim(), 'none', 'nothing was installed');
}
