import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { validateConfig } from '../../src/config/load.js';
import { writablePaths } from '../../src/cli/service-command.js';

t.test('the paths the service writes outside /var/lib/shelf, none nested in another', async (t) => {
  t.same(writablePaths(validateConfig({ storage: { dataDir: '/var/lib/shelf/data' } })), []);
  t.same(writablePaths(validateConfig({ storage: { dataDir: '/srv/shelf/data' } })), ['/srv/shelf/data']);
  t.same(
    writablePaths(validateConfig({ storage: { dataDir: '/srv/shelf/data' }, security: { auditLog: '/var/log/shelf/audit.log' } })),
    ['/srv/shelf/data', '/var/log/shelf'],
  );
});

t.test('shelf service configure writes the drop-in and logrotate file from the config, and makes the data directory', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'shelf-service-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'shelf.yaml');
  writeFileSync(config, `storage: { dataDir: ${join(dir, 'srv', 'data')} }\n`);
  const output = execFileSync(process.execPath, [
    'dist/cli/main.js', 'service', 'configure', '--config', config, '--user', userInfo().username,
    '--unit-dir', join(dir, 'unit.d'), '--logrotate-dir', join(dir, 'logrotate.d'),
  ], { encoding: 'utf8' });
  t.match(output, /the service may write .*srv\/data/);
  t.ok(statSync(join(dir, 'srv', 'data')).isDirectory());
  t.match(readFileSync(join(dir, 'unit.d', '50-paths.conf'), 'utf8'), new RegExp(`\\[Service\\]\\nReadWritePaths=${join(dir, 'srv', 'data')}\\n`));
  const logrotate = readFileSync(join(dir, 'logrotate.d', 'shelf'), 'utf8');
  t.match(logrotate, `${join(dir, 'srv', 'data', 'logs', 'audit.log')} {`);
  t.match(logrotate, /systemctl kill --kill-whom=main --signal=USR2 shelf.service/);
});
