import t from 'tap';
import { ANONYMOUS, PermissionSet, permissionTargetSchema, type Principal } from '../../src/security/permissions.js';

const target = (input: Record<string, unknown>) => permissionTargetSchema.parse(input);
const local = { key: 'npm-local', type: 'local' as const };
const other = { key: 'npm-other', type: 'local' as const };
const remote = { key: 'npm-remote', type: 'remote' as const };
const user = (username: string, groups: string[] = []): Principal => ({ username, admin: false, groups });

const set = new PermissionSet([
  target({ name: 'team', repositories: ['npm-local'], includes: ['@team/*'], users: { alice: ['read', 'write'] } }),
  target({ name: 'not-secret', repositories: ['ANY LOCAL'], excludes: ['secret/**'], groups: { devs: ['read', 'annotate'] } }),
  target({ name: 'cache', repositories: ['ANY REMOTE'], anonymous: ['read'] }),
]);

t.test('a user may do what a target grants them, on the subjects its patterns cover', async (t) => {
  t.ok(set.authorize(user('alice'), 'write', local, '@team/app'));
  t.notOk(set.authorize(user('alice'), 'write', local, '@other/app'), 'include pattern');
  t.notOk(set.authorize(user('alice'), 'write', other, '@team/app'), 'another repository');
  t.notOk(set.authorize(user('alice'), 'delete', local, '@team/app'), 'an action not granted');
  t.notOk(set.authorize(user('bob'), 'read', local, '@team/app'), 'another user');
});

t.test('groups, ANY LOCAL and exclude patterns', async (t) => {
  t.ok(set.authorize(user('bob', ['devs']), 'annotate', other, 'lib/x'));
  t.notOk(set.authorize(user('bob', ['devs']), 'read', other, 'secret/key'), 'excluded');
  t.notOk(set.authorize(user('bob', ['devs']), 'annotate', remote, 'lib/x'), 'ANY LOCAL is not a remote');
  t.notOk(set.authorize(user('bob'), 'read', other, 'lib/x'), 'not in the group');
});

t.test('anonymous grants, which every authenticated user has too', async (t) => {
  t.ok(set.authorize(ANONYMOUS, 'read', remote, 'left-pad'));
  t.notOk(set.authorize(ANONYMOUS, 'read', local, '@team/app'));
  t.ok(set.authorize(user('carol'), 'read', remote, 'left-pad'));
  t.notOk(new PermissionSet([]).authorize(ANONYMOUS, 'read', remote, 'x'), 'nothing is open without a target');
});

t.test('without a subject: whether the action is granted anywhere in the repository', async (t) => {
  t.ok(set.authorize(user('alice'), 'write', local));
  t.notOk(set.authorize(user('alice'), 'write', other));
});

t.test('administrators may do everything; a scope narrows anyone', async (t) => {
  const admin: Principal = { username: 'root', admin: true, groups: [] };
  t.ok(set.authorize(admin, 'manage', other, 'anything'));
  const scoped: Principal = { ...admin, scope: [{ repositories: ['npm-local'], actions: ['read'] }] };
  t.ok(set.authorize(scoped, 'read', local, '@team/app'));
  t.notOk(set.authorize(scoped, 'write', local, '@team/app'), 'action outside the scope');
  t.notOk(set.authorize(scoped, 'read', other, 'x'), 'repository outside the scope');
  const image: Principal = { ...user('alice'), scope: [{ repositories: ['npm-local'], subject: '@team/app', actions: ['write'] }] };
  t.ok(set.authorize(image, 'write', local, '@team/app'));
  t.notOk(set.authorize(image, 'write', local, '@team/other'), 'a grant for one subject');
});

t.test('targets are validated', async (t) => {
  t.throws(() => target({ name: 'x', repositories: [], anonymous: ['read'] }));
  t.throws(() => target({ name: 'x', repositories: ['a'], anonymous: ['fly'] }));
  t.throws(() => target({ name: '../x', repositories: ['a'] }));
});
