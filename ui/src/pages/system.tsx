import { useEffect, useState } from 'preact/hooks';
import { api, type RepositorySummary } from '../api.ts';
import { ErrorNote, PageTitle, useApi, Table } from '../components.tsx';
import { bytes, date, percent } from '../format.ts';
import { UpstreamState } from './repositories.tsx';

interface StorageSummary {
  binariesSummary: { binariesSize: number };
  fileStoreSummary: { freeSpace: number; minFreeSpace: number };
  repositoriesSummaryList: {
    repoKey: string;
    repoType: string;
    packageType: string;
    filesCount: number;
    usedSpace: number;
    quotaBytes?: number;
    cacheHitRatio?: number | null;
  }[];
}
interface TrafficPoint {
  at: string;
  requests: number;
  errors: number;
  cacheHits: number;
  cacheMisses: number;
}
interface AuditEvent {
  time: string;
  event: string;
  user: string | null;
  address?: string;
  repo?: string;
  path?: string;
  target?: string;
  result: string | number;
}
interface NodeStatus {
  id: string;
  host: string;
  version: string;
  startedAt: string;
  heartbeatAt: string;
  alive: boolean;
  self: boolean;
}
interface GcReport {
  durationMs: number;
  repositories: { repo: string; paths: number; bytes: number }[];
  blobs: { count: number; bytes: number };
  keptYoung: number;
}

/** Storage, upstream health, the last hour's requests, the latest audit events (administrators). */
export function SystemPage() {
  const info = useApi<{ version: string; node: string; startedAt: string }>('/api/system/info');
  const storage = useApi<StorageSummary>('/api/storage/summary');
  const repos = useApi<RepositorySummary[]>('/api/repositories');
  const audit = useApi<AuditEvent[]>('/api/system/audit?limit=50');
  const nodes = useApi<NodeStatus[]>('/api/system/nodes');
  const remotes = repos.data?.filter((r) => r.upstream) ?? [];
  return (
    <main>
      <PageTitle>System</PageTitle>
      <ErrorNote error={info.error ?? storage.error ?? repos.error} />
      {info.data && storage.data && (
        <div class="cards">
          <Card label="Version" value={info.data.version} detail={`Node.js ${info.data.node}; this node up since ${date(info.data.startedAt)}`} />
          <Card label="Stored" value={bytes(storage.data.binariesSummary.binariesSize)} detail="distinct content, each byte once" />
          <Card
            label="Free on the data disk"
            value={bytes(storage.data.fileStoreSummary.freeSpace)}
            detail={`writes stop below ${bytes(storage.data.fileStoreSummary.minFreeSpace)}`}
          />
        </div>
      )}
      <h2>Requests in the last hour</h2>
      <TrafficChart />
      <Reclaimable />
      <h2>Storage per repository</h2>
      {storage.data && (
        <Table
          columns={[
            'Repository',
            'Type',
            { label: 'Files', number: true },
            { label: 'Used', number: true },
            { label: 'Quota', number: true },
            { label: 'Cache hits', number: true },
          ]}
        >
          {storage.data.repositoriesSummaryList.map((r) => (
            <tr key={r.repoKey}>
              <th scope="row">{r.repoKey}</th>
              <td>
                {r.repoType.toLowerCase()} {r.packageType}
              </td>
              <td class="number">{r.filesCount}</td>
              <td class="number">{bytes(r.usedSpace)}</td>
              <td class="number">{r.quotaBytes !== undefined ? bytes(r.quotaBytes) : ''}</td>
              <td class="number">{r.repoType === 'REMOTE' ? percent(r.cacheHitRatio) : ''}</td>
            </tr>
          ))}
        </Table>
      )}
      <h2>Upstreams</h2>
      {remotes.length === 0 ? (
        <p class="muted">No remote repositories.</p>
      ) : (
        <Table columns={['Repository', 'Upstream', 'State']}>
          {remotes.map((r) => (
            <tr key={r.key}>
              <th scope="row">{r.key}</th>
              <td>
                <code>{r.upstream!.url}</code>
              </td>
              <td>
                <UpstreamState upstream={r.upstream!} />
                {r.upstream!.reason && <div class="muted">{r.upstream!.reason}</div>}
              </td>
            </tr>
          ))}
        </Table>
      )}
      <h2>Nodes</h2>
      <ErrorNote error={nodes.error} />
      {nodes.data && (
        <Table label="Nodes" columns={['Node', 'Version', 'Started', 'Last heard from', 'State']}>
          {nodes.data.map((n) => (
            <tr key={n.id}>
              <th scope="row">
                {n.id}
                {n.self && <span class="muted"> (this page's)</span>}
              </th>
              <td>{n.version}</td>
              <td>{date(n.startedAt)}</td>
              <td>{date(n.heartbeatAt)}</td>
              <td>{n.alive ? 'serving' : 'not heard from'}</td>
            </tr>
          ))}
        </Table>
      )}
      <h2>Recent audit events</h2>
      <ErrorNote error={audit.error} />
      {audit.data && (
        <Table label="Recent audit events" columns={['Time', 'Event', 'User', 'Address', 'Where', 'Result']}>
          {audit.data.map((e, i) => (
            <tr key={i}>
              <td>{date(e.time)}</td>
              <td>{e.event}</td>
              <td>{e.user ?? 'anonymous'}</td>
              <td>{e.address ?? ''}</td>
              <td>{[e.repo, e.path ?? e.target].filter(Boolean).join(': ')}</td>
              <td>{String(e.result)}</td>
            </tr>
          ))}
        </Table>
      )}
    </main>
  );
}

function Card({ label, value, detail }: { label: string; value: string; detail: string }) {
  return (
    <div class="card">
      <div class="muted">{label}</div>
      <div class="value">{value}</div>
      <div class="muted">{detail}</div>
    </div>
  );
}

/** What a garbage collection would free now (a dry run: nothing is removed). */
function Reclaimable() {
  const [report, setReport] = useState<GcReport>();
  const [error, setError] = useState<Error>();
  const [busy, setBusy] = useState(false);
  const run = async () => {
    setBusy(true);
    try {
      setReport(await api<GcReport>('/api/system/gc?dryRun=true', { method: 'POST' }));
      setError(undefined);
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="reclaimable">
      <h2 id="reclaimable">Reclaimable space</h2>
      <p>
        <button type="button" onClick={() => void run()} disabled={busy}>
          {busy ? 'Counting…' : 'Count what garbage collection would free'}
        </button>
      </p>
      <ErrorNote error={error} />
      {report && (
        <p role="status">
          Garbage collection would remove {report.blobs.count} blob files ({bytes(report.blobs.bytes)})
          {report.repositories.length > 0 &&
            ` and ${report.repositories.reduce((sum, r) => sum + r.paths, 0)} entries nothing needs (${report.repositories.map((r) => r.repo).join(', ')})`}
          ; {report.keptYoung} more are kept until they are older than the grace period. Counted in {report.durationMs} ms.
        </p>
      )}
    </section>
  );
}

/** Requests and cache hits per minute, as bars, refreshed every 30 seconds. */
function TrafficChart() {
  const [points, setPoints] = useState<TrafficPoint[]>();
  const [error, setError] = useState<Error>();
  useEffect(() => {
    const load = () => api<TrafficPoint[]>('/api/system/traffic?minutes=60').then(setPoints, setError);
    void load();
    const timer = setInterval(load, 30_000);
    return () => clearInterval(timer);
  }, []);
  if (error) return <ErrorNote error={error} />;
  if (!points) return null;
  const max = Math.max(1, ...points.map((p) => p.requests));
  const width = 900;
  const height = 200;
  const bar = width / points.length;
  const total = points.reduce((sum, p) => sum + p.requests, 0);
  const hits = points.reduce((sum, p) => sum + p.cacheHits, 0);
  const misses = points.reduce((sum, p) => sum + p.cacheMisses, 0);
  const errors = points.reduce((sum, p) => sum + p.errors, 0);
  const summary = `${total} requests, ${hits} cache hits, ${misses} cache misses, ${errors} server errors in the last hour; at most ${max} in a minute`;
  return (
    <figure>
      <svg class="chart" viewBox={`0 0 ${width} ${height}`} preserveAspectRatio="none" role="img" aria-label={summary}>
        {points.map((p, i) => {
          const h = (p.requests / max) * (height - 10);
          const hh = (p.cacheHits / max) * (height - 10);
          return (
            <g key={p.at}>
              <rect x={i * bar + 1} y={height - h} width={bar - 2} height={h} fill="#0b5cad">
                <title>{`${date(p.at)}: ${p.requests} requests, ${p.cacheHits} cache hits`}</title>
              </rect>
              <rect x={i * bar + 1} y={height - hh} width={bar - 2} height={hh} fill="#1a6b2f" />
            </g>
          );
        })}
      </svg>
      <figcaption class="legend">
        <span class="requests">requests per minute</span>
        <span class="hits">cache hits</span>
        <span class="muted">{summary}</span>
      </figcaption>
    </figure>
  );
}
