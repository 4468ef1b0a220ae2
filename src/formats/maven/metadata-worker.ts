import { mergeArtifactMetadata, parsePlugins, renderGroupMetadata, type PluginEntry } from './metadata.js';

export interface MergeTask {
  /** A SNAPSHOT version's metadata: the newest member's wins. Artifact metadata: versions are merged. */
  snapshotLevel: boolean;
  documents: string[];
}

const lastUpdatedOf = (doc: string) => /<lastUpdated>(\d+)<\/lastUpdated>/.exec(doc)?.[1] ?? '';

/** Runs inline, or in a piscina worker thread for large documents. */
export function mergeMetadataTask(task: MergeTask): string | undefined {
  const pluginLists = task.documents.map(parsePlugins).filter((p): p is PluginEntry[] => p !== undefined);
  if (pluginLists.length > 0) return renderGroupMetadata(pluginLists);
  if (!task.snapshotLevel) return mergeArtifactMetadata(task.documents);
  return [...task.documents].sort((a, b) => (lastUpdatedOf(b) > lastUpdatedOf(a) ? 1 : -1))[0];
}

export default mergeMetadataTask;
