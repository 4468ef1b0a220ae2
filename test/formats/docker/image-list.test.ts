import t from 'tap';
import { parseImageList, parsePlatform } from '../../../src/formats/docker/image-list.js';

t.test('image lists: tags, digests, registry hosts dropped, latest by default', async (t) => {
  const digest = `sha256:${'a'.repeat(64)}`;
  t.same(parseImageList(`nginx:1.27\n# comment\nghcr.io/x/y@${digest}\nlocalhost:5000/team/app:1.0@${digest}\nbusybox\nBad Name:1\n`), [
    { line: 'nginx:1.27', image: 'nginx', tag: '1.27' },
    { line: `ghcr.io/x/y@${digest}`, image: 'x/y', digest },
    { line: `localhost:5000/team/app:1.0@${digest}`, image: 'team/app', tag: '1.0', digest },
    { line: 'busybox', image: 'busybox', tag: 'latest' },
    { line: 'Bad Name:1', problem: 'not an image reference (name[:tag][@sha256:digest])' },
  ]);
  t.same(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
  t.throws(() => parsePlatform('amd64'), /not a platform/);
});
