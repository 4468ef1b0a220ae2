import { gunzipSync } from 'node:zlib';
import t from 'tap';
import { BASE_URL_PLACEHOLDER, CompactTexts, DocumentViews } from '../../src/formats/document-views.js';

const linked = `{"tarball":"${BASE_URL_PLACEHOLDER}/npm/a.tgz","big":"${'x'.repeat(200_000)}"}`;

t.test('texts are kept gzipped and rendered once per base URL, with an ETag over the rendered text', async (t) => {
  const texts = await CompactTexts.of({ linked, plain: 'no links here' });
  t.ok(texts.bytes < linked.length / 20, `kept in ${texts.bytes} bytes for ${linked.length} characters`);
  t.equal(await texts.text('linked'), linked, 'the template comes back as built');

  const one = await texts.render('linked', 'http://one:8080');
  const two = await texts.render('linked', 'https://two');
  t.equal(gunzipSync(one.body).toString(), linked.replace(BASE_URL_PLACEHOLDER, 'http://one:8080'));
  t.equal(gunzipSync(two.body).toString(), linked.replace(BASE_URL_PLACEHOLDER, 'https://two'));
  t.not(one.etag, two.etag, 'a different document, a different ETag');
  t.equal(await texts.render('linked', 'http://one:8080'), one, 'rendered once');

  const plainOne = await texts.render('plain', 'http://one:8080');
  t.equal(gunzipSync(plainOne.body).toString(), 'no links here');
  t.same(await texts.render('plain', 'https://two'), plainOne, 'a text without links is the same for every base URL');
});

t.test('a view is built once for concurrent requests, and "nothing" is remembered too', async (t) => {
  const views = new DocumentViews<{ texts: { body: string }; versions: number }>((view) => view.versions * 100);
  let builds = 0;
  const build = async () => {
    builds++;
    await new Promise((resolve) => setTimeout(resolve, 20));
    return { texts: { body: linked }, versions: 3 };
  };
  const [a, b] = await Promise.all([views.get('k', build), views.get('k', build)]);
  t.equal(builds, 1);
  t.equal(a, b);
  t.equal(a!.versions, 3, 'the rest of the view is kept as built');
  t.equal(await a!.texts.text('body'), linked);
  t.equal(await views.get('none', async () => (builds++, undefined)), undefined);
  t.equal(await views.get('none', async () => (builds++, undefined)), undefined);
  t.equal(builds, 2);
});
