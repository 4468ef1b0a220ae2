import pino, { type Logger } from 'pino';

/** JSON lines on stdout; credentials never reach a log line, whatever logs a header. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { pid: process.pid },
    redact: {
      paths: ['*.authorization', '*.headers.authorization', '*.password', '*.token', 'req.headers.cookie'],
      censor: '[redacted]',
    },
  });
}
