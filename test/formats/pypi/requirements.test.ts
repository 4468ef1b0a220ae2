import t from 'tap';
import { filesToSeed, parseRequirements, wheelFits } from '../../../src/formats/pypi/requirements.js';

t.test('requirements: pins with hashes across continuation lines; options, comments and markers as pip reads them', async (t) => {
  const text = [
    '# production',
    '--index-url https://index.example/simple',
    'Requests[socks]==2.31.0 \\',
    '    --hash=sha256:AAAA \\',
    '    --hash=sha256:bbbb',
    'zope.interface===6.0 ; python_version >= "3.8"  # a marker',
    'flask>=2',
    'pkg @ https://files.example/pkg-1.0.tar.gz',
    '-e ./local',
  ].join('\n');
  t.same(parseRequirements(text), [
    { line: 'Requests[socks]==2.31.0', project: 'requests', version: '2.31.0', hashes: ['aaaa', 'bbbb'] },
    { line: 'zope.interface===6.0 ; python_version >= "3.8"', project: 'zope-interface', version: '6.0', hashes: [] },
    { line: 'flask>=2', problem: 'not pinned to one version (use ==)' },
    { line: 'pkg @ https://files.example/pkg-1.0.tar.gz', problem: 'a direct URL, not an index requirement' },
  ]);
});

const file = (filename: string, sha256 = 'ff') => ({ filename, hashes: { sha256 } });
const files = [
  file('demo-1.0.tar.gz', 'a1'),
  file('demo-1.0-py3-none-any.whl', 'a2'),
  file('demo-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl', 'a3'),
  file('demo-1.0-cp38-abi3-manylinux_2_28_aarch64.whl', 'a4'),
  file('demo-1.0-cp311-cp311-win_amd64.whl', 'a5'),
  file('demo-2.0-py3-none-any.whl', 'b1'),
];
const pin = { line: 'demo==1.0', project: 'demo', version: '1.0', hashes: [] };

t.test('files to seed: the hashed ones, all of the version, or what the targets install', async (t) => {
  const names = (chosen: { filename: string }[]) => chosen.map((f) => f.filename);
  t.same(names(filesToSeed(files, { ...pin, hashes: ['a3', 'b1'] }, { platforms: [], pythonVersions: [] })), [files[2]!.filename, files[5]!.filename], 'hash pins choose exactly');
  t.same(names(filesToSeed(files, { ...pin, version: '1.0.0' }, { platforms: [], pythonVersions: [] })), names(files.slice(0, 5)), 'PEP 440: 1.0.0 is 1.0');
  t.same(names(filesToSeed(files, pin, { platforms: ['manylinux_2_28_x86_64'], pythonVersions: ['3.11'] })), [files[1]!.filename, files[2]!.filename]);
  t.same(names(filesToSeed(files, pin, { platforms: ['manylinux2014_aarch64'], pythonVersions: ['3.12'] })), [files[1]!.filename], 'abi3 needs glibc 2.28, the target has 2.17');
  t.same(names(filesToSeed([files[0]!, files[4]!], pin, { platforms: ['macosx_11_0_arm64'], pythonVersions: [] })), [files[0]!.filename], 'no wheel fits: the sdist');
});

t.test('wheel tags (PEP 425, manylinux as PEP 600 orders it)', async (t) => {
  t.ok(wheelFits('x-1-cp38-abi3-manylinux_2_28_aarch64.whl', { platforms: ['manylinux_2_31_aarch64'], pythonVersions: ['3.12'] }));
  t.notOk(wheelFits('x-1-cp312-cp312-manylinux_2_28_aarch64.whl', { platforms: ['manylinux_2_31_aarch64'], pythonVersions: ['3.11'] }));
  t.notOk(wheelFits('x-1-cp311-cp311-musllinux_1_1_x86_64.whl', { platforms: ['manylinux_2_31_x86_64'], pythonVersions: [] }));
  t.ok(wheelFits('x-1-py2.py3-none-any.whl', { platforms: ['win_amd64'], pythonVersions: ['3.9'] }));
});
