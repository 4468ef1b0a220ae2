/**
 * `${NAME}` and `${NAME:-default}` in config values, as in docker compose, so one config file serves
 * every machine (the npm upstream is `${npm_config_registry}` under `npm start`). A default may itself
 * hold a `${...}`; `$$` is a literal `$`. An unset or empty variable without a default is a config error.
 */
export function expandEnv(text: string, env: NodeJS.ProcessEnv = process.env): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const dollar = text.indexOf('$', i);
    if (dollar === -1) return out + text.slice(i);
    out += text.slice(i, dollar);
    if (text[dollar + 1] === '$') {
      out += '$';
      i = dollar + 2;
      continue;
    }
    if (text[dollar + 1] !== '{') {
      out += '$';
      i = dollar + 1;
      continue;
    }
    const close = matchingBrace(text, dollar + 1);
    const inner = text.slice(dollar + 2, close);
    const separator = inner.indexOf(':-');
    const name = separator === -1 ? inner : inner.slice(0, separator);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`"\${${inner}}" does not name an environment variable`);
    const value = env[name];
    if (value !== undefined && value !== '') out += value;
    else if (separator === -1) throw new UnsetVariableError([name]);
    else {
      try {
        out += expandEnv(inner.slice(separator + 2), env);
      } catch (err) {
        throw err instanceof UnsetVariableError ? new UnsetVariableError([name, ...err.names]) : err;
      }
    }
    i = close + 1;
  }
  return out;
}

class UnsetVariableError extends Error {
  constructor(readonly names: string[]) {
    super(
      names.length === 1
        ? `environment variable ${names[0]} is not set`
        : `none of the environment variables ${names.join(', ')} is set`,
    );
  }
}

function matchingBrace(text: string, open: number): number {
  let depth = 0;
  for (let j = open; j < text.length; j++) {
    if (text[j] === '{') depth++;
    else if (text[j] === '}' && --depth === 0) return j;
  }
  throw new Error(`unclosed "\${" in "${text}"`);
}

export interface ExpansionProblem {
  path: PropertyKey[];
  message: string;
  /** The variables that were unset, when that is the problem. */
  unset?: string[];
}

/** Expands every string in a parsed config document; problems are reported with their key path. */
export function expandEnvInDocument(value: unknown, path: PropertyKey[], problems: ExpansionProblem[]): unknown {
  if (typeof value === 'string') {
    try {
      return expandEnv(value);
    } catch (err) {
      problems.push({ path, message: (err as Error).message, ...(err instanceof UnsetVariableError && { unset: err.names }) });
      return value;
    }
  }
  if (Array.isArray(value)) return value.map((item, i) => expandEnvInDocument(item, [...path, i], problems));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, expandEnvInDocument(item, [...path, key], problems)]),
    );
  }
  return value;
}
