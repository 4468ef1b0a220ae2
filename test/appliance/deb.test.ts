import { basename, join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import t, { type Test } from 'tap';
import { buildDebs, Container, whyNoContainers } from '../helpers/container.js';

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
  const debs = buildDebs(join(work, 'debs'));
  for (const suite of ['trixie', 'bookworm']) await t.test(`Debian ${suite}`, (t) => checkAppliance(t, suite, work, debs));
}

type Debs = ReturnType<typeof buildDebs>;

async function checkAppliance(t: Test, suite: string, work: string, debs: Debs): Promise<void> {
  const vm = await Container.boot(suite, work, { [join(work, 'debs')]: '/debs' });
  t.teardown(() => vm.stop());
  const sh = (command: string) => vm.sh(command);
  const upload = (path: string, file: string) =>
    sh(`curl -s -o /dev/null -w '%{http_code}' -u alice:alice-password-1 -T ${file} http://localhost:8080/generic-local/${path}`);
  const mainPid = async () => (await sh('systemctl show -p MainPID --value shelf')).stdout.trim();

  const installed = await sh(`apt-get install -y /debs/${basename(debs.first)} 2>&1`);
  t.equal(installed.code, 0, installed.stdout);
  t.match(installed.stdout, /npm-remote is not configured until SHELF_NPM_UPSTREAM is set in \/etc\/shelf\/shelf\.env/, 'no npm here: it says once how to set the upstream');
  t.equal((await sh('systemctl is-active shelf')).stdout.trim(), 'active');
  t.match((await sh('curl -s http://localhost:8080/-/readyz')).stdout, /"status": ?"ready"/);
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
  const upgraded = await sh(`apt-get install -y /debs/${basename(debs.second)} 2>&1`);
  t.equal(upgraded.code, 0, upgraded.stdout);
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
  t.equal(configured.code, 0, configured.stdout + configured.stderr);
  t.equal((await sh('echo alice-password-1 | shelf user add alice --password-stdin && shelf group set developers --members alice')).code, 0);
  t.equal((await upload('on-srv.txt', '/etc/hostname')).stdout, '201');
  t.equal((await sh('ls /srv/shelf/data/blobs/sha256 | wc -l')).stdout.trim() !== '0', true, 'blobs are stored under /srv');
  t.equal((await sh('logrotate -f /etc/logrotate.d/shelf && ls /srv/shelf/data/logs')).stdout.includes('audit.log.1'), true, 'logrotate follows the data directory');
}
