import { badRequest } from '../errors.js';
import type { Properties } from '../storage/metadata-index.js';

/** Splits on `separator` characters that are not escaped with a backslash. */
function splitUnescaped(text: string, separators: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && i + 1 < text.length) current += text[++i];
    else if (separators.includes(c)) {
      parts.push(current);
      current = '';
    } else current += c;
  }
  parts.push(current);
  return parts;
}

/**
 * Artifactory's property syntax: `key=v1,v2;key2=v3` (`|` also separates properties; `\` escapes).
 * A key without `=` gets one empty value.
 */
export function parsePropertiesParam(text: string): Properties {
  const properties: Properties = {};
  for (const pair of text.split(/(?<!\\)[;|]/)) {
    if (pair === '') continue;
    const eq = pair.search(/(?<!\\)=/);
    const key = splitUnescaped(eq === -1 ? pair : pair.slice(0, eq), '')[0]!.trim();
    if (!/^[\w.:-]{1,255}$/.test(key)) throw badRequest(`invalid property key "${key}"`);
    const values = eq === -1 ? [''] : splitUnescaped(pair.slice(eq + 1), ',');
    (properties[key] ??= []).push(...values);
  }
  if (Object.keys(properties).length === 0) throw badRequest('no properties given');
  return properties;
}
