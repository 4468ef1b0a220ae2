import { spawn } from 'node:child_process';

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a client tool to its end with exactly `env`, collecting what it prints; never rejects. */
export function runTool(command: string, args: string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<ToolResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env, ...(cwd && { cwd }) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (err) => resolve({ code: -1, stdout, stderr: `${stderr}${err.message}` }));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
