import type { Format } from '../config/schema.js';
import type { FormatModule } from './format-module.js';
import { genericFormat } from './generic/generic-format.js';

const MODULES: Partial<Record<Format, FormatModule>> = {
  generic: genericFormat,
};

export function formatModule(format: Format): FormatModule {
  const module = MODULES[format];
  if (!module) throw new Error(`format ${format} is not implemented yet`);
  return module;
}
