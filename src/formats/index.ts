import type { Format } from '../config/schema.js';
import type { FormatModule } from './format-module.js';
import { dockerFormat } from './docker/docker-format.js';
import { genericFormat } from './generic/generic-format.js';
import { mavenFormat } from './maven/maven-format.js';
import { npmFormat } from './npm/npm-format.js';
import { pypiFormat } from './pypi/pypi-format.js';

const MODULES: Partial<Record<Format, FormatModule>> = {
  generic: genericFormat,
  docker: dockerFormat,
  npm: npmFormat,
  pypi: pypiFormat,
  maven: mavenFormat,
};

export function formatModule(format: Format): FormatModule {
  const module = MODULES[format];
  if (!module) throw new Error(`format ${format} is not implemented yet`);
  return module;
}

export function allFormatModules(): FormatModule[] {
  return Object.values(MODULES);
}
