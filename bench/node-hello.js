// The ceiling for any Node.js HTTP server on this machine: node:http answering every request with the same
// in-memory body, from `workers` cluster processes as Shelf runs. usage: node node-hello.js PORT WORKERS BYTES
import cluster from 'node:cluster';
import { createServer } from 'node:http';

const [port, workers, bytes] = process.argv.slice(2).map(Number);
const body = Buffer.alloc(bytes, 'x');
if (cluster.isPrimary && workers > 1) {
  for (let i = 0; i < workers; i++) cluster.fork();
} else {
  createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
    res.end(body);
  }).listen(port, '127.0.0.1');
}
