import type { FolderChild, MetadataIndex } from '../storage/metadata-index.js';
import { walkPaths } from '../storage/listing.js';

/**
 * One page of a folder's children, from every repository a virtual one covers (`repos`, in member order):
 * at most `limit`, starting at `from` (a child's `next`), each name once, and `next` when there is more.
 * `visible` (absent: everything) says which files the caller may read; a folder shows when it holds one.
 */
export async function folderPage(
  index: MetadataIndex,
  repos: string[],
  prefix: string,
  limit: number,
  from: string | undefined,
  visible: ((path: string) => boolean) | undefined,
): Promise<{ children: FolderChild[]; next?: string }> {
  const pages = [];
  for (const repo of repos) pages.push(await visibleChildren(index, repo, prefix, limit, from, visible));
  return mergePages(pages, limit);
}

/**
 * Up to `limit` children of one repository's folder that hold something `visible` accepts. For a caller who
 * may read only part of the repository, a folder's files are walked until one readable is found.
 */
async function visibleChildren(
  index: MetadataIndex,
  repo: string,
  prefix: string,
  limit: number,
  from: string | undefined,
  visible: ((path: string) => boolean) | undefined,
): Promise<{ children: FolderChild[]; more: boolean }> {
  const children: FolderChild[] = [];
  let cursor = from;
  for (;;) {
    // One more than wanted: whether a next page exists is known without asking for it.
    const wanted = limit - children.length;
    const page = await index.listChildren(repo, prefix, wanted + 1, cursor);
    const more = page.length > wanted;
    for (const child of page.slice(0, wanted)) {
      if (!visible || (await holdsVisible(index, repo, `${prefix}${child.name}`, child.folder, visible))) children.push(child);
    }
    if (!more || children.length >= limit) return { children, more };
    cursor = page[wanted - 1]!.next;
  }
}

async function holdsVisible(index: MetadataIndex, repo: string, path: string, folder: boolean, visible: (path: string) => boolean): Promise<boolean> {
  if (!folder) return visible(path);
  for await (const file of walkPaths(index, repo, `${path}/`, `${path}/`)) if (visible(file)) return true;
  return false;
}

/** The first `limit` children of several members' pages, each name once (the first member's), in key order. */
function mergePages(pages: { children: FolderChild[]; more: boolean }[], limit: number): { children: FolderChild[]; next?: string } {
  const byName = new Map<string, FolderChild>();
  for (const page of pages) for (const child of page.children) if (!byName.has(child.name)) byName.set(child.name, child);
  const sorted = [...byName.values()].sort((a, b) => (a.next < b.next ? -1 : a.next > b.next ? 1 : 0));
  const children = sorted.slice(0, limit);
  const more = sorted.length > limit || pages.some((p) => p.more);
  return { children, ...(more && children.length > 0 && { next: children.at(-1)!.next }) };
}
