import t from 'tap';
import { coordinatePaths, parseCoordinates } from '../../../src/formats/maven/coordinates.js';

t.test('coordinates: group:artifact:version[:classifier][@type], each to its POM and file', async (t) => {
  const parsed = parseCoordinates('junit:junit:4.13.2\n# comment\norg.x:y:1.0:sources\norg.x:parent:2@pom\norg.x:plugin:3@maven-plugin\nnot-a-coordinate\norg.x:y:../../etc:z');
  t.same(
    parsed.filter((c) => !('problem' in c)).map((c) => coordinatePaths(c as Parameters<typeof coordinatePaths>[0])),
    [
      ['junit/junit/4.13.2/junit-4.13.2.pom', 'junit/junit/4.13.2/junit-4.13.2.jar'],
      ['org/x/y/1.0/y-1.0.pom', 'org/x/y/1.0/y-1.0-sources.jar'],
      ['org/x/parent/2/parent-2.pom'],
      ['org/x/plugin/3/plugin-3.pom', 'org/x/plugin/3/plugin-3.jar'],
    ],
  );
  t.same(
    parsed.filter((c) => 'problem' in c).map((c) => c.line),
    ['not-a-coordinate', 'org.x:y:../../etc:z'],
  );
});
