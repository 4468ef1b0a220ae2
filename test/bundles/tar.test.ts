import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { END_OF_ARCHIVE, padding, tarEntries, tarHeader } from '../../src/bundles/tar.js';

const dir = mkdtempSync(join(tmpdir(), 'shelf-tar-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const archive = (files: [string, Buffer][]) =>
  Buffer.concat([...files.flatMap(([name, body]) => [tarHeader(name, body.length), body, padding(body.length)]), END_OF_ARCHIVE]);

async function read(bytes: Buffer, chunkSize = 7): Promise<[string, string][]> {
  const chunks = Array.from({ length: Math.ceil(bytes.length / chunkSize) }, (_, i) => bytes.subarray(i * chunkSize, (i + 1) * chunkSize));
  const found: [string, string][] = [];
  for await (const entry of tarEntries(chunks)) {
    const parts: Buffer[] = [];
    for await (const chunk of entry.body) parts.push(chunk);
    found.push([entry.name, Buffer.concat(parts).toString()]);
  }
  return found;
}

const files: [string, Buffer][] = [
  ['manifest.json', Buffer.from('{"a":1}')],
  ['blobs/sha256/ab/' + 'ab'.repeat(32), Buffer.alloc(1500, 'x')],
  ['empty', Buffer.alloc(0)],
];

t.test('what Shelf writes, GNU tar lists and extracts; what GNU tar writes, Shelf reads', async (t) => {
  const file = join(dir, 'ours.tar');
  writeFileSync(file, archive(files));
  t.same(execFileSync('tar', ['tf', file], { encoding: 'utf8' }).trim().split('\n'), files.map(([name]) => name));
  mkdirSync(join(dir, 'out'));
  execFileSync('tar', ['xf', file, '-C', join(dir, 'out')]);
  t.equal(readFileSync(join(dir, 'out', files[1]![0])).length, 1500);

  execFileSync('tar', ['cf', join(dir, 'theirs.tar'), '-C', join(dir, 'out'), 'manifest.json', 'empty']);
  t.same(await read(readFileSync(join(dir, 'theirs.tar'))), [['manifest.json', '{"a":1}'], ['empty', '']]);
});

t.test('chunk boundaries anywhere; an entry read only in part is skipped to the next', async (t) => {
  const bytes = archive(files);
  for (const size of [1, 511, 512, 513, 4096]) t.same((await read(bytes, size)).map(([name, body]) => [name, body.length]), files.map(([name, body]) => [name, body.length]), `chunks of ${size}`);
  const names: string[] = [];
  for await (const entry of tarEntries([bytes])) {
    names.push(entry.name);
    for await (const _ of entry.body) break;
  }
  t.same(names, files.map(([name]) => name));
});

t.test('truncated or damaged archives throw', async (t) => {
  const bytes = archive(files);
  await t.rejects(read(bytes.subarray(0, 512 + 1000)), /truncated/);
  const damaged = Buffer.from(bytes);
  damaged[10] = 0x41;
  await t.rejects(read(damaged), /header is damaged/);
});

t.test('sizes beyond the octal field use base-256', async (t) => {
  const header = tarHeader('big', 9 * 1024 ** 3);
  t.equal(header[124], 0x80);
  t.equal(Number(header.readBigUInt64BE(128)), 9 * 1024 ** 3);
});
