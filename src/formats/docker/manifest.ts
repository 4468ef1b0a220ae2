import { ShelfError } from '../../errors.js';
import { checkDigest } from './names.js';

export const MEDIA_TYPES = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
} as const;

const SCHEMA1_TYPES = [
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
];
const IMAGE_TYPES: string[] = [MEDIA_TYPES.dockerManifest, MEDIA_TYPES.ociManifest];
const INDEX_TYPES: string[] = [MEDIA_TYPES.dockerManifestList, MEDIA_TYPES.ociIndex];

/** Every manifest type Shelf stores, for `Accept` headers sent upstream. */
export const ACCEPTED_MANIFEST_TYPES = [...IMAGE_TYPES, ...INDEX_TYPES];

/** The largest manifest accepted (distribution's limit). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: { architecture?: string; os?: string; variant?: string };
}

export interface ParsedManifest {
  mediaType: string;
  /** Blobs it refers to (config and layers): they must be in the repository before it is pushed. */
  blobs: string[];
  /** Manifests it refers to (an index's children): the same. */
  manifests: Descriptor[];
  subject?: Descriptor;
  artifactType?: string;
  annotations?: Record<string, string>;
}

const invalid = (message: string) => new ShelfError('MANIFEST_INVALID', 400, message);

/** The media type without parameters, lower-cased. */
export const bareMediaType = (value: string | undefined) => value?.split(';')[0]!.trim().toLowerCase() || undefined;

/**
 * Parses and validates a pushed manifest. `contentType` is the request's Content-Type; where the body names
 * a mediaType too, they must agree. Schema 1 (deprecated, signed with keys nobody checks) is refused.
 */
export function parseManifest(bytes: Buffer, contentType: string | undefined): ParsedManifest {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw invalid('manifest is not valid JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid('manifest is not a JSON object');
  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  const header = bareMediaType(contentType);
  if (doc.schemaVersion === 1 || SCHEMA1_TYPES.includes(header ?? '') || SCHEMA1_TYPES.includes(declared ?? '')) {
    throw invalid('schema 1 manifests are not supported; push with a current client (schema 2 or OCI)');
  }
  if (doc.schemaVersion !== 2) throw invalid('schemaVersion must be 2');
  const generic = header === undefined || header === 'application/json' || header === 'application/octet-stream';
  const mediaType = declared ?? (generic ? undefined : header) ?? inferMediaType(doc);
  if (declared && !generic && header !== declared) {
    throw invalid(`Content-Type ${header} does not match the manifest's mediaType ${declared}`);
  }
  const result: ParsedManifest = { mediaType, blobs: [], manifests: [] };
  if (IMAGE_TYPES.includes(mediaType)) {
    const config = descriptor(doc.config, 'config');
    if (!Array.isArray(doc.layers)) throw invalid('layers must be an array');
    const layers = doc.layers.map((layer, i) => descriptor(layer, `layers[${i}]`));
    result.blobs = [config.digest, ...layers.map((l) => l.digest)];
    // The referrers API types an image manifest without artifactType by its config (OCI distribution spec).
    result.artifactType = typeof doc.artifactType === 'string' ? doc.artifactType : config.mediaType;
  } else if (INDEX_TYPES.includes(mediaType)) {
    if (!Array.isArray(doc.manifests)) throw invalid('manifests must be an array');
    result.manifests = doc.manifests.map((m, i) => descriptor(m, `manifests[${i}]`));
    if (typeof doc.artifactType === 'string') result.artifactType = doc.artifactType;
  } else {
    throw invalid(`unsupported manifest media type ${mediaType}`);
  }
  if (doc.subject !== undefined) result.subject = descriptor(doc.subject, 'subject');
  if (isStringMap(doc.annotations)) result.annotations = doc.annotations;
  return result;
}

/** An OCI manifest may omit mediaType; its shape tells which it is. */
function inferMediaType(doc: Record<string, unknown>): string {
  if (Array.isArray(doc.manifests)) return MEDIA_TYPES.ociIndex;
  if (doc.config !== undefined) return MEDIA_TYPES.ociManifest;
  throw invalid('manifest has no mediaType and is neither an image manifest nor an index');
}

function descriptor(value: unknown, where: string): Descriptor {
  if (typeof value !== 'object' || value === null) throw invalid(`${where} must be a descriptor object`);
  const d = value as Record<string, unknown>;
  if (typeof d.mediaType !== 'string' || d.mediaType === '') throw invalid(`${where}.mediaType is missing`);
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) {
    throw invalid(`${where}.size must be a non-negative integer`);
  }
  let digest: string;
  try {
    digest = checkDigest(typeof d.digest === 'string' ? d.digest : undefined);
  } catch (err) {
    throw invalid(`${where}.digest: ${(err as Error).message}`);
  }
  return {
    mediaType: d.mediaType,
    digest,
    size: d.size,
    ...(typeof d.artifactType === 'string' && { artifactType: d.artifactType }),
    ...(isStringMap(d.annotations) && { annotations: d.annotations }),
    ...(typeof d.platform === 'object' && d.platform !== null && { platform: d.platform as Descriptor['platform'] }),
  };
}

function isStringMap(value: unknown): value is Record<string, string> {
  return typeof value === 'object' && value !== null && Object.values(value).every((v) => typeof v === 'string');
}

/** The media types an `Accept` header lists (q=0 excluded); undefined when the client accepts anything. */
export function acceptedTypes(header: string | undefined): Set<string> | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  const types = new Set<string>();
  for (const part of header.split(',')) {
    const [type, ...params] = part.split(';').map((p) => p.trim().toLowerCase());
    if (!type || params.some((p) => /^q=0(?:\.0*)?$/.test(p))) continue;
    if (type === '*/*' || type === 'application/*') return undefined;
    types.add(type);
  }
  return types;
}

/**
 * For a client that cannot read manifest lists: the linux/amd64 image of a Docker manifest list, as
 * distribution serves it. (OCI indexes are not rewritten: a client that asks for OCI understands indexes.)
 */
export function defaultPlatformManifest(list: Buffer): string | undefined {
  const doc = JSON.parse(list.toString('utf8')) as { manifests?: Descriptor[] };
  return doc.manifests?.find((m) => m.platform?.os === 'linux' && m.platform.architecture === 'amd64')?.digest;
}

export const isIndexType = (mediaType: string) => INDEX_TYPES.includes(mediaType);
