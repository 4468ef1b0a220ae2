/**
 * The PostgreSQL index's schema, in versioned steps; each runs once, in order, inside a transaction that
 * holds an advisory lock, so nodes starting together migrate once. Append only.
 *
 * Tables and columns are those of the SQLite index (see index-rows.ts), so rows copy unchanged between the
 * two. Paths, repository keys and digests sort byte by byte (`COLLATE "C"`), as SQLite sorts them: folder
 * pages and cursors depend on that order, whatever the database's locale.
 */
export const POSTGRES_MIGRATIONS: string[] = [
  `CREATE TABLE blobs (
     sha256 TEXT COLLATE "C" PRIMARY KEY, size BIGINT NOT NULL,
     sha1 TEXT NOT NULL, md5 TEXT NOT NULL, sha512 TEXT NOT NULL, created_at BIGINT NOT NULL);
   CREATE INDEX blobs_sha1 ON blobs (sha1);
   CREATE INDEX blobs_md5 ON blobs (md5);
   CREATE TABLE artifacts (
     repo TEXT COLLATE "C" NOT NULL, path TEXT COLLATE "C" NOT NULL, sha256 TEXT COLLATE "C" NOT NULL REFERENCES blobs (sha256),
     content_type TEXT NOT NULL, created_at BIGINT NOT NULL, modified_at BIGINT NOT NULL,
     downloaded_at BIGINT, download_count BIGINT NOT NULL DEFAULT 0,
     upstream_etag TEXT, upstream_last_modified TEXT, fetched_at BIGINT, expires_at BIGINT,
     PRIMARY KEY (repo, path));
   CREATE INDEX artifacts_sha256 ON artifacts (sha256);
   CREATE INDEX artifacts_last_use ON artifacts (repo, (COALESCE(downloaded_at, created_at)));
   CREATE TABLE properties (
     repo TEXT COLLATE "C" NOT NULL, path TEXT COLLATE "C" NOT NULL, key TEXT COLLATE "C" NOT NULL, value TEXT COLLATE "C" NOT NULL,
     PRIMARY KEY (repo, path, key, value));
   CREATE INDEX properties_key_value ON properties (key, value, repo, path);
   CREATE TABLE negative_cache (
     repo TEXT COLLATE "C" NOT NULL, path TEXT COLLATE "C" NOT NULL, expires_at BIGINT NOT NULL, PRIMARY KEY (repo, path));
   CREATE TABLE readiness_probe (id INTEGER PRIMARY KEY, at BIGINT NOT NULL);

   CREATE TABLE users (
     name TEXT COLLATE "C" PRIMARY KEY, password_hash TEXT, email TEXT, admin INTEGER NOT NULL, disabled INTEGER NOT NULL,
     created_at BIGINT NOT NULL);
   CREATE TABLE tokens (
     id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, username TEXT COLLATE "C" NOT NULL REFERENCES users (name) ON DELETE CASCADE,
     description TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT, last_used_at BIGINT, revoked_at BIGINT, scope TEXT);
   CREATE INDEX tokens_username ON tokens (username);
   CREATE TABLE groups (name TEXT COLLATE "C" PRIMARY KEY, description TEXT NOT NULL);
   CREATE TABLE group_members (
     group_name TEXT COLLATE "C" NOT NULL REFERENCES groups (name) ON DELETE CASCADE,
     username TEXT COLLATE "C" NOT NULL REFERENCES users (name) ON DELETE CASCADE,
     PRIMARY KEY (group_name, username));
   CREATE INDEX group_members_username ON group_members (username);
   CREATE TABLE permission_targets (name TEXT COLLATE "C" PRIMARY KEY, definition TEXT NOT NULL);
   CREATE TABLE login_failures (key TEXT PRIMARY KEY, count INTEGER NOT NULL, first_at BIGINT NOT NULL, last_at BIGINT NOT NULL DEFAULT 0);
   CREATE TABLE ui_sessions (hash TEXT PRIMARY KEY, username TEXT COLLATE "C" NOT NULL REFERENCES users (name) ON DELETE CASCADE,
     created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL);
   CREATE INDEX ui_sessions_expiry ON ui_sessions (expires_at);
   CREATE INDEX ui_sessions_username ON ui_sessions (username);

   -- Every change to who may do what grows the revision and tells every node at once (LISTEN shelf_security).
   CREATE TABLE security_revision (id INTEGER PRIMARY KEY CHECK (id = 1), revision BIGINT NOT NULL);
   INSERT INTO security_revision VALUES (1, 0);
   CREATE FUNCTION shelf_security_changed() RETURNS trigger LANGUAGE plpgsql AS $$
   DECLARE next BIGINT;
   BEGIN
     UPDATE security_revision SET revision = revision + 1 WHERE id = 1 RETURNING revision INTO next;
     PERFORM pg_notify('shelf_security', next::text);
     RETURN NULL;
   END $$;
   ${['users', 'groups', 'group_members', 'permission_targets']
     .map((table) => `CREATE TRIGGER ${table}_revision AFTER INSERT OR UPDATE OR DELETE ON ${table}
        FOR EACH STATEMENT EXECUTE FUNCTION shelf_security_changed();`)
     .join('\n')}
   CREATE TRIGGER tokens_revision AFTER UPDATE OF revoked_at, expires_at OR DELETE ON tokens
     FOR EACH STATEMENT EXECUTE FUNCTION shelf_security_changed();

   CREATE TABLE upstream_outages (repo TEXT COLLATE "C" PRIMARY KEY, until BIGINT NOT NULL, reason TEXT NOT NULL);
   CREATE TABLE job_leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at BIGINT NOT NULL);

   -- What each repository holds, kept by a trigger: quotas, eviction and the storage summary read one row.
   CREATE TABLE repo_usage (repo TEXT COLLATE "C" PRIMARY KEY, files BIGINT NOT NULL DEFAULT 0, bytes BIGINT NOT NULL DEFAULT 0,
     cache_hits BIGINT NOT NULL DEFAULT 0, cache_misses BIGINT NOT NULL DEFAULT 0);
   CREATE FUNCTION shelf_usage_changed() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     IF TG_OP = 'INSERT' THEN
       INSERT INTO repo_usage AS u (repo, files, bytes) VALUES (NEW.repo, 1, (SELECT size FROM blobs WHERE sha256 = NEW.sha256))
         ON CONFLICT (repo) DO UPDATE SET files = u.files + 1, bytes = u.bytes + EXCLUDED.bytes;
     ELSIF TG_OP = 'DELETE' THEN
       UPDATE repo_usage SET files = files - 1, bytes = bytes - (SELECT size FROM blobs WHERE sha256 = OLD.sha256) WHERE repo = OLD.repo;
     ELSIF OLD.sha256 <> NEW.sha256 THEN
       UPDATE repo_usage SET bytes = bytes - (SELECT size FROM blobs WHERE sha256 = OLD.sha256)
         + (SELECT size FROM blobs WHERE sha256 = NEW.sha256) WHERE repo = NEW.repo;
     END IF;
     RETURN NULL;
   END $$;
   CREATE TRIGGER artifacts_usage AFTER INSERT OR DELETE OR UPDATE OF sha256 ON artifacts
     FOR EACH ROW EXECUTE FUNCTION shelf_usage_changed();

   CREATE TABLE imported_bundles (id TEXT PRIMARY KEY, predecessor TEXT, created_at BIGINT NOT NULL, imported_at BIGINT NOT NULL,
     key_id TEXT, source TEXT, records BIGINT NOT NULL DEFAULT 0, bytes BIGINT NOT NULL DEFAULT 0);
   CREATE TABLE replication_state (name TEXT PRIMARY KEY, last_bundle TEXT, last_bundle_created_at BIGINT,
     last_run_at BIGINT, last_success_at BIGINT, last_error TEXT,
     runs BIGINT NOT NULL DEFAULT 0, records BIGINT NOT NULL DEFAULT 0, bytes BIGINT NOT NULL DEFAULT 0);
   CREATE TABLE traffic_minutes (minute BIGINT PRIMARY KEY, requests BIGINT NOT NULL, errors BIGINT NOT NULL,
     cache_hits BIGINT NOT NULL, cache_misses BIGINT NOT NULL);
   CREATE TABLE nodes (id TEXT PRIMARY KEY, host TEXT NOT NULL, url TEXT NOT NULL, version TEXT NOT NULL,
     started_at BIGINT NOT NULL, heartbeat_at BIGINT NOT NULL);`,
  // An upstream's rate-limit budget is shared by every process of every node.
  `CREATE TABLE upstream_budgets (repo TEXT COLLATE "C" PRIMARY KEY, rate_limit BIGINT, remaining BIGINT, blocked_until BIGINT,
     observed_at BIGINT NOT NULL);`,
  // Which node fetches a path from an upstream, and what it has announced of that fetch.
  `CREATE TABLE fetch_claims (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at BIGINT NOT NULL, head TEXT, end_event TEXT);
   CREATE INDEX fetch_claims_expiry ON fetch_claims (expires_at);`,
  // Every process keeps the records it has read until a change to them is announced (NotifiedReadMemo).
  `CREATE FUNCTION shelf_records_changed() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     PERFORM pg_notify('shelf_records', '');
     RETURN NULL;
   END $$;
   CREATE TRIGGER artifacts_records AFTER INSERT OR UPDATE OR DELETE ON artifacts FOR EACH STATEMENT EXECUTE FUNCTION shelf_records_changed();
   CREATE TRIGGER blobs_records AFTER UPDATE OR DELETE ON blobs FOR EACH STATEMENT EXECUTE FUNCTION shelf_records_changed();`,
  // Download counts, flushed by every worker every second, are not announced: each announcement made every
  // process read every record again at once, which showed as a slow tail of cache HITs. A kept record's
  // counts may lag a few seconds (see NotifiedReadMemo); every other change is announced as before.
  `DROP TRIGGER artifacts_records ON artifacts;
   CREATE TRIGGER artifacts_records AFTER INSERT OR DELETE ON artifacts FOR EACH STATEMENT EXECUTE FUNCTION shelf_records_changed();
   CREATE TRIGGER artifacts_records_updated
     AFTER UPDATE OF repo, path, sha256, content_type, created_at, modified_at, upstream_etag, upstream_last_modified, fetched_at, expires_at
     ON artifacts FOR EACH STATEMENT EXECUTE FUNCTION shelf_records_changed();`,
];
