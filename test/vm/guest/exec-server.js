'use strict';
// Runs inside a test VM (as the command of /init) and lets the host run commands in it over a
// forwarded TCP port. Plain JavaScript with no dependencies on purpose: it must start in a guest
// that sees the host tree read-only, before (and whether or not) the project is built.
//   GET  /ping                                   -> 200 "pong"
//   POST /exec {command, timeoutMs?, input?}     -> {code, signal, stdout, stderr, timedOut}
//   POST /shutdown                               -> 200, then this process exits and /init powers off
const http = require('node:http');
const { spawn } = require('node:child_process');

const port = Number(process.argv[2] || 7999);
const MAX_BODY = 16 * 1024 * 1024;

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) reject(new Error('request body too large'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function run({ command, timeoutMs, input }) {
  return new Promise((resolve) => {
    // Its own process group, so that a timeout kills the command's children too (a child left
    // holding the output pipes would keep the request open).
    const child = spawn('/bin/sh', ['-c', command], {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const out = [];
    const err = [];
    let timedOut = false;
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            timedOut = true;
            try {
              process.kill(-child.pid, 'SIGKILL');
            } catch {
              child.kill('SIGKILL');
            }
          }, timeoutMs)
        : undefined;
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => err.push(c));
    child.on('error', (e) => err.push(Buffer.from(String(e))));
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({
        code: code === null ? -1 : code,
        signal,
        timedOut,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(input || '');
  });
}

const server = http.createServer(async (req, res) => {
  try {
    if (req.method === 'GET' && req.url === '/ping') {
      res.end('pong');
    } else if (req.method === 'POST' && req.url === '/exec') {
      const request = JSON.parse(await readBody(req));
      if (typeof request.command !== 'string') throw new Error('command must be a string');
      const result = await run(request);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(result));
    } else if (req.method === 'POST' && req.url === '/shutdown') {
      res.end('bye');
      server.close();
      setImmediate(() => process.exit(0));
    } else {
      res.statusCode = 404;
      res.end('not found');
    }
  } catch (e) {
    res.statusCode = 400;
    res.end(String(e && e.message ? e.message : e));
  }
});
server.listen(port, '0.0.0.0', () => console.log(`rewind-vm exec server on ${port}`));
