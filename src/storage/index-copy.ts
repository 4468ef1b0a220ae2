import Database from 'better-sqlite3';
import pg from 'pg';
import { SqliteIndex } from './sqlite-index.js';
import { PG_TYPES } from './postgres-connection.js';

/**
 * Copies an index between SQLite and PostgreSQL, table by table, rows unchanged (both keep the same tables
 * and columns): `shelf index migrate` one way, a PostgreSQL index's backup copy the other. Each table is read
 * in key order, a page at a time, inside one read transaction of the source, so the copy is consistent.
 */

interface TableSpec {
  name: string;
  key: string[];
  columns: string[];
  /** Columns set on a row the destination already has (made there by a trigger); otherwise rows are new. */
  update?: string[];
}

/**
 * In dependency order. Left out: what describes running processes (leases, the readiness probe, nodes,
 * upstream outages, login back-off) and the security revision (the destination's triggers grow its own).
 * Repository usage is kept by triggers as artifacts arrive; only its cache counts are copied.
 */
const TABLES: TableSpec[] = [
  { name: 'blobs', key: ['sha256'], columns: ['sha256', 'size', 'sha1', 'md5', 'sha512', 'created_at'] },
  {
    name: 'artifacts',
    key: ['repo', 'path'],
    columns: ['repo', 'path', 'sha256', 'content_type', 'created_at', 'modified_at', 'downloaded_at', 'download_count',
      'upstream_etag', 'upstream_last_modified', 'fetched_at', 'expires_at'],
  },
  { name: 'properties', key: ['repo', 'path', 'key', 'value'], columns: ['repo', 'path', 'key', 'value'] },
  { name: 'negative_cache', key: ['repo', 'path'], columns: ['repo', 'path', 'expires_at'] },
  { name: 'repo_usage', key: ['repo'], columns: ['repo', 'cache_hits', 'cache_misses'], update: ['cache_hits', 'cache_misses'] },
  { name: 'users', key: ['name'], columns: ['name', 'password_hash', 'email', 'admin', 'disabled', 'created_at'] },
  {
    name: 'tokens',
    key: ['id'],
    columns: ['id', 'hash', 'username', 'description', 'created_at', 'expires_at', 'last_used_at', 'revoked_at', 'scope'],
  },
  { name: 'groups', key: ['name'], columns: ['name', 'description'] },
  { name: 'group_members', key: ['group_name', 'username'], columns: ['group_name', 'username'] },
  { name: 'permission_targets', key: ['name'], columns: ['name', 'definition'] },
  { name: 'ui_sessions', key: ['hash'], columns: ['hash', 'username', 'created_at', 'expires_at'] },
  {
    name: 'imported_bundles',
    key: ['id'],
    columns: ['id', 'predecessor', 'created_at', 'imported_at', 'key_id', 'source', 'records', 'bytes'],
  },
  {
    name: 'replication_state',
    key: ['name'],
    columns: ['name', 'last_bundle', 'last_bundle_created_at', 'last_run_at', 'last_success_at', 'last_error', 'runs', 'records', 'bytes'],
  },
  { name: 'traffic_minutes', key: ['minute'], columns: ['minute', 'requests', 'errors', 'cache_hits', 'cache_misses'] },
];

/** Rows per page: PostgreSQL takes at most 65535 parameters in one statement. */
const PAGE = 2000;

type Row = Record<string, unknown>;

interface TableSource {
  /** Up to `limit` rows after `after` (a key, or none for the first page), in key order. */
  read(table: TableSpec, after: unknown[] | undefined, limit: number): Promise<Row[]>;
}

interface TableDestination {
  /** Whether the destination holds no artifacts and no users: a copy never merges into a used index. */
  isEmpty(): Promise<boolean>;
  write(table: TableSpec, rows: Row[]): Promise<void>;
}

/** `(a, b) > ($1, $2)`, as both databases compare row values. */
const keyAfter = (table: TableSpec, placeholder: (i: number) => string) =>
  `(${table.key.join(', ')}) > (${table.key.map((_, i) => placeholder(i)).join(', ')})`;

function insertSql(table: TableSpec, rows: number, placeholder: (i: number) => string): string {
  const values = Array.from(
    { length: rows },
    (_, r) => `(${table.columns.map((_, c) => placeholder(r * table.columns.length + c)).join(', ')})`,
  );
  const onConflict = table.update
    ? `ON CONFLICT (${table.key.join(', ')}) DO UPDATE SET ${table.update.map((c) => `${c} = excluded.${c}`).join(', ')}`
    : '';
  return `INSERT INTO ${table.name} (${table.columns.join(', ')}) VALUES ${values.join(', ')} ${onConflict}`;
}

const pgPlaceholder = (i: number) => `$${i + 1}`;
const sqlitePlaceholder = () => '?';

class SqliteTables implements TableSource, TableDestination {
  constructor(private readonly db: Database.Database) {}

  async read(table: TableSpec, after: unknown[] | undefined, limit: number): Promise<Row[]> {
    const where = after ? `WHERE ${keyAfter(table, sqlitePlaceholder)}` : '';
    return this.db
      .prepare(`SELECT ${table.columns.join(', ')} FROM ${table.name} ${where} ORDER BY ${table.key.join(', ')} LIMIT ?`)
      .all(...(after ?? []), limit) as Row[];
  }

  async isEmpty(): Promise<boolean> {
    return !this.db.prepare('SELECT 1 FROM artifacts UNION ALL SELECT 1 FROM users LIMIT 1').get();
  }

  async write(table: TableSpec, rows: Row[]): Promise<void> {
    this.db.prepare(insertSql(table, rows.length, sqlitePlaceholder)).run(...rows.flatMap((row) => table.columns.map((c) => row[c])));
  }
}

class PostgresTables implements TableSource, TableDestination {
  constructor(private readonly db: pg.ClientBase) {}

  async read(table: TableSpec, after: unknown[] | undefined, limit: number): Promise<Row[]> {
    const where = after ? `WHERE ${keyAfter(table, pgPlaceholder)}` : '';
    const params = [...(after ?? []), limit];
    const { rows } = await this.db.query<Row>(
      `SELECT ${table.columns.join(', ')} FROM ${table.name} ${where} ORDER BY ${table.key.join(', ')} LIMIT $${params.length}`,
      params,
    );
    return rows;
  }

  async isEmpty(): Promise<boolean> {
    return (await this.db.query('SELECT 1 FROM artifacts UNION ALL SELECT 1 FROM users LIMIT 1')).rowCount === 0;
  }

  async write(table: TableSpec, rows: Row[]): Promise<void> {
    await this.db.query(insertSql(table, rows.length, pgPlaceholder), rows.flatMap((row) => table.columns.map((c) => row[c])));
  }
}

export interface CopyProgress {
  table: string;
  rows: number;
}

const NOT_EMPTY = 'the destination index already holds artifacts or users; copy only into an empty one';

async function copyTables(source: TableSource, destination: TableDestination, onTable?: (done: CopyProgress) => void): Promise<CopyProgress[]> {
  if (!(await destination.isEmpty())) throw new Error(NOT_EMPTY);
  const copied: CopyProgress[] = [];
  for (const table of TABLES) {
    let rows = 0;
    let after: unknown[] | undefined;
    for (;;) {
      const page = await source.read(table, after, PAGE);
      if (page.length === 0) break;
      await destination.write(table, page);
      rows += page.length;
      const last = page.at(-1)!;
      after = table.key.map((c) => last[c]);
    }
    copied.push({ table: table.name, rows });
    onTable?.({ table: table.name, rows });
  }
  return copied;
}

/**
 * Copies the SQLite index file `from` into the PostgreSQL database at `url` (schema already migrated by
 * PostgresIndex.open), in one PostgreSQL transaction: all of it arrives, or nothing.
 */
export async function copySqliteToPostgres(from: string, url: string, onTable?: (done: CopyProgress) => void): Promise<CopyProgress[]> {
  const source = new Database(from, { readonly: true, fileMustExist: true });
  const client = new pg.Client({ connectionString: url, types: PG_TYPES });
  await client.connect();
  try {
    source.exec('BEGIN');
    await client.query('BEGIN');
    const copied = await copyTables(new SqliteTables(source), new PostgresTables(client), onTable);
    await client.query('COMMIT');
    return copied;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    source.close();
    await client.end();
  }
}

/** Fails, as a copy into it would, unless the PostgreSQL index at `url` is empty: checked before anything else changes. */
export async function requireEmptyPostgres(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, types: PG_TYPES });
  await client.connect();
  try {
    if (!(await new PostgresTables(client).isEmpty())) throw new Error(NOT_EMPTY);
  } finally {
    await client.end();
  }
}

/** Writes a consistent copy of a PostgreSQL index into a new SQLite index file (backups). */
export async function copyPostgresToSqlite(pool: pg.Pool, file: string): Promise<void> {
  await (new SqliteIndex(file)).close();
  const destination = new Database(file);
  const client = await pool.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    destination.exec('BEGIN');
    await copyTables(new PostgresTables(client), new SqliteTables(destination));
    destination.exec('COMMIT');
    await client.query('COMMIT');
  } finally {
    if (destination.inTransaction) destination.exec('ROLLBACK');
    destination.close();
    client.release();
  }
}
