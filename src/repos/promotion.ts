import { badRequest, forbidden, notFound } from '../errors.js';
import { formatModule } from '../formats/index.js';
import type { PromotionSelection } from '../formats/format-module.js';
import { filesAt } from '../formats/promotion-paths.js';
import type { ArtifactRecord } from '../storage/metadata-index.js';
import { deployTarget } from './deploy-target.js';
import { LocalRepo } from './local-repo.js';
import type { Repository } from './repository.js';

export interface PromotionRequest {
  source: Repository;
  target: Repository;
  selection: PromotionSelection;
  /** For a path selection: where it goes in the target (default: the same path). */
  targetPath?: string;
  /** Remove from the source once linked into the target. */
  move: boolean;
  dryRun: boolean;
  /** npm: dist-tags to point at the promoted version in the target. */
  distTags?: string[];
}

export interface PromotionItem {
  from: ArtifactRecord;
  to: string;
}

export interface PromotionResult {
  target: string;
  move: boolean;
  dryRun: boolean;
  items: { from: string; to: string; size: number }[];
}

/**
 * Copy, move and promotion for every format: the selection's files (and, through the format's rules, what
 * belongs with them) are linked into a local repository under their paths, never copied byte by byte. The
 * target's immutability and quota, and the source's deletion protection for a move, are checked for every
 * file before anything changes. Generated metadata of both repositories follows from what they hold.
 */
export class Promotion {
  constructor(private readonly resolve: (key: string) => Repository | undefined) {}

  /** The files a request would link, checked against the target; throws (changing nothing) when one may not go. */
  async plan(request: PromotionRequest): Promise<{ target: LocalRepo; items: PromotionItem[] }> {
    const target = deployTarget(request.target, 'promote');
    const paths = await this.selectedPaths(request);
    if (paths.length === 0) throw notFound(`${describeSelection(request.selection)} in ${request.source.key}`);
    const items: PromotionItem[] = [];
    let added = 0;
    for (const path of paths) {
      const from = await request.source.record(path);
      if (!from) throw notFound(`${request.source.key}/${path}`);
      const to = mapPath(request, path);
      await target.checkLinkable(to, from.blob);
      added += from.blob.size - ((await target.record(to))?.blob.size ?? 0);
      if (request.move) this.checkMovable(from);
      items.push({ from, to });
    }
    if (target.key === request.source.key && items.some((item) => item.from.path === item.to)) {
      throw badRequest(`${describeSelection(request.selection)} is already in ${target.key}`);
    }
    await target.checkRoom(added);
    return { target, items };
  }

  /** Plans and, unless a dry run, carries out the request. */
  async run(request: PromotionRequest): Promise<PromotionResult> {
    return this.apply(request, await this.plan(request));
  }

  /** Carries out a plan made by `plan` (after the caller checked its permissions on every item). */
  async apply(request: PromotionRequest, { target, items }: { target: LocalRepo; items: PromotionItem[] }): Promise<PromotionResult> {
    const result = {
      target: target.key,
      move: request.move,
      dryRun: request.dryRun,
      items: items.map(({ from, to }) => ({ from: `${from.repo}/${from.path}`, to: `${target.key}/${to}`, size: from.blob.size })),
    };
    if (request.dryRun) return result;
    for (const { from, to } of items) await target.link(to, from.blob, from.contentType);
    await formatModule(target.format).promotion?.promoted?.(target, request.selection, items.map((i) => i.to), request.distTags ?? []);
    if (request.move) for (const { from } of items) await (this.resolve(from.repo) as LocalRepo).delete(from.path);
    return result;
  }

  private async selectedPaths(request: PromotionRequest): Promise<string[]> {
    const { source, selection } = request;
    if (source.format !== request.target.format) throw badRequest(`${source.key} holds ${source.format}, ${request.target.key} ${request.target.format}`);
    const rules = formatModule(source.format).promotion;
    if (rules) return rules.paths(source, selection);
    if (!('path' in selection)) throw badRequest(`${source.format} content is promoted by path`);
    return filesAt(source, selection.path);
  }

  private checkMovable(from: ArtifactRecord): void {
    const owner = this.resolve(from.repo);
    if (!(owner instanceof LocalRepo)) throw badRequest(`${from.repo}/${from.path} is cached, not hosted: copy it instead of moving it`);
    if (!owner.config.allowDelete) throw forbidden(`repository ${owner.key} does not allow deletion, so nothing can be moved out of it`);
  }
}

/** A path of the selection, where it goes in the target: below a new folder for a renamed path selection. */
function mapPath(request: PromotionRequest, path: string): string {
  const { selection, targetPath } = request;
  if (targetPath === undefined || !('path' in selection) || targetPath === selection.path) return path;
  const base = selection.path.replace(/\/$/, '');
  if (path === base) return targetPath;
  if (!path.startsWith(`${base}/`)) throw badRequest(`${request.source.format} content keeps its path when promoted; leave out the target path`);
  return `${targetPath.replace(/\/$/, '')}/${path.slice(base.length + 1)}`;
}

/** A selection as people write it: its path, or name@version. */
export const describeSelection = (selection: PromotionSelection) => ('path' in selection ? selection.path : `${selection.package}@${selection.version}`);
