import { BASE_URL_PLACEHOLDER } from '../document-views.js';
import { normalizeProject, packageType, versionOfFile } from './names.js';
import {
  parseProjectList,
  parseProjectPage,
  renderProjectHtml,
  renderProjectJson,
  renderProjectListHtml,
  renderProjectListJson,
  type ProjectFile,
} from './simple-api.js';
import { compareVersions } from './versions.js';

/**
 * Builds the project page a repository serves from its sources: upstream pages cached by remote
 * repositories, and files uploaded to local ones. Pure, so it runs inline or in a worker thread.
 */

/** What Shelf records about an uploaded file (`.pypi/<project>/files/<filename>.json`). */
export interface HostedFile {
  filename: string;
  version: string;
  sha256: string;
  md5: string;
  size: number;
  uploadTime: string;
  requiresPython?: string;
  /** sha256 of the extracted core metadata (PEP 658), when the file is a wheel. */
  coreMetadataSha256?: string;
  /** Core metadata fields the upload form carried (summary, author, license, …), for the JSON API. */
  info: Record<string, string>;
  /** PEP 592, from the file's yank mark (not stored in this record). */
  yanked?: string | true;
}

export type ProjectSource =
  /** An upstream's page; served without the upstream, only the files that are present are listed. */
  | { repo: string; kind: 'page'; body: string; contentType: string; pageUrl: string; presentFiles?: string[] }
  | { repo: string; kind: 'hosted'; files: HostedFile[] };

export interface ProjectTask {
  kind: 'page';
  project: string;
  servedRepo: string;
  /** In priority order: the first source that lists a file name owns it. */
  sources: ProjectSource[];
}

/** Where one file's bytes come from, and what they must hash to. */
export interface FileRef {
  repo: string;
  upstreamUrl?: string;
  hashes: Record<string, string>;
  coreMetadata?: Record<string, string> | true;
}

export interface ServedFile extends ProjectFile {
  version?: string;
  packagetype: string;
}

export interface ProjectView {
  project: string;
  texts: { html: string; json: string };
  /** The files with Shelf's URLs (BASE_URL_PLACEHOLDER-based), in page order. */
  files: ServedFile[];
  refs: Record<string, FileRef>;
  /** Ascending, by PEP 440. */
  versions: string[];
  /** Upload-form fields of the newest hosted file, for the JSON API's `info`. */
  info: Record<string, string>;
}

export function buildProjectView(task: ProjectTask): ProjectView | undefined {
  const files: ServedFile[] = [];
  const refs: Record<string, FileRef> = {};
  let info: Record<string, string> = {};
  let infoVersion: string | undefined;
  for (const source of task.sources) {
    for (const { file, ref, hosted } of sourceFiles(source)) {
      if (refs[file.filename]) continue;
      refs[file.filename] = ref;
      const version = versionOfFile(file.filename);
      files.push({
        ...file,
        url: `${BASE_URL_PLACEHOLDER}/${task.servedRepo}/packages/${task.project}/${encodeURIComponent(file.filename)}`,
        ...(version !== undefined && { version }),
        packagetype: packageType(file.filename),
      });
      if (hosted && (infoVersion === undefined || compareVersions(hosted.version, infoVersion) > 0)) {
        [info, infoVersion] = [hosted.info, hosted.version];
      }
    }
  }
  if (files.length === 0) return undefined;
  const versions = [...new Set(files.flatMap((f) => (f.version ? [f.version] : [])))].sort(compareVersions);
  return {
    project: task.project,
    texts: { html: renderProjectHtml(task.project, files), json: renderProjectJson(task.project, files, versions) },
    files,
    refs,
    versions,
    info,
  };
}

function* sourceFiles(source: ProjectSource): Generator<{ file: ProjectFile; ref: FileRef; hosted?: HostedFile }> {
  if (source.kind === 'page') {
    const present = source.presentFiles && new Set(source.presentFiles);
    for (const file of parseProjectPage(source.body, source.contentType, source.pageUrl)) {
      if (present && !present.has(file.filename)) continue;
      if (!/^[A-Za-z0-9][A-Za-z0-9._+!-]*$/.test(file.filename)) continue;
      yield {
        file,
        ref: { repo: source.repo, upstreamUrl: file.url, hashes: file.hashes, ...(file.coreMetadata !== undefined && { coreMetadata: file.coreMetadata }) },
      };
    }
    return;
  }
  for (const hosted of source.files) {
    const hashes = { sha256: hosted.sha256, md5: hosted.md5 };
    const coreMetadata = hosted.coreMetadataSha256 ? { sha256: hosted.coreMetadataSha256 } : undefined;
    yield {
      file: {
        filename: hosted.filename,
        url: '',
        hashes: { sha256: hosted.sha256 },
        ...(hosted.requiresPython && { requiresPython: hosted.requiresPython }),
        ...(hosted.yanked !== undefined && { yanked: hosted.yanked }),
        ...(coreMetadata && { coreMetadata }),
        size: hosted.size,
        uploadTime: hosted.uploadTime,
      },
      ref: { repo: source.repo, hashes, ...(coreMetadata && { coreMetadata }) },
      hosted,
    };
  }
}

/** The names each member knows: hosted ones, or an upstream's list document to parse. */
export interface ProjectListTask {
  kind: 'list';
  members: (string[] | { body: string; contentType: string })[];
}

export interface ProjectList {
  texts: { html: string; json: string };
  /** The names, for callers who may read only some of them. */
  names: string[];
}

/** The union of the members' project names (normalized, sorted), in both forms. */
export function buildProjectList(task: ProjectListTask): ProjectList {
  const names = new Set<string>();
  for (const member of task.members) {
    const list = Array.isArray(member) ? member : parseProjectList(member.body, member.contentType);
    for (const name of list) names.add(normalizeProject(name));
  }
  const sorted = [...names].sort();
  return { texts: { html: renderProjectListHtml(sorted), json: renderProjectListJson(sorted) }, names: sorted };
}
