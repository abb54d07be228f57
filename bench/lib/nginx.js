// The origin: nginx with one process, its own config in a temp dir (no system service), on
// 127.0.0.1 and a free port. It serves the three benchmarked endpoints plus two for the harness.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { freePort, start, stop, tail, waitForAccept } from './procs.js'

export const SMALL_BODY = 'ok'
export const LARGE_BYTES = 16 * 1024

// master_process off: one process that is the worker (its CPU is what "direct" reports, and it
// never switches to the nobody user, which could not read the temp dir). keepalive_requests is
// raised so that neither the load generator nor a proxy pool ever sees a server-side close during a run.
// X-Powered-By gives the hitless response rule `remove: [x-powered-by]` something to remove.
function config(dir, port) {
  return `
worker_processes 1;
master_process off;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  server_tokens off;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port} backlog=4096;
    add_header X-Powered-By nginx-bench always;
    # GET /small: 2-byte body.
    location = /small { default_type text/plain; return 200 "${SMALL_BODY}"; }
    # GET /16k: a 16 KiB static file.
    location = /16k { root ${dir}/www; }
    # POST /sink: nginx reads and discards the body (ngx_http_discard_request_body), then 200 "ok".
    location = /sink { client_max_body_size 1m; default_type text/plain; return 200 "${SMALL_BODY}"; }
    # Harness only: shows which of the request headers the proxy forwarded.
    location = /check {
      default_type text/plain;
      return 200 "x-bench=$http_x_bench x-drop-me=$http_x_drop_me";
    }
    # Harness only: accepted-connection counter (new origin connections per run).
    location = /nginx_status { stub_status; }
    location / { return 404; }
  }
}
`
}

/** Version string, e.g. "nginx/1.22.1" (nginx -v prints it on stderr). */
export function nginxVersion() {
  const { stdout, stderr } = spawnSync('nginx', ['-v'], { encoding: 'utf8' })
  return `${stdout}${stderr}`.replace(/^nginx version:\s*/, '').trim()
}

/** Starts nginx under tmpDir/nginx on a free port, pinned to `core`. */
export async function startNginx(tmpDir, core) {
  const dir = path.join(tmpDir, 'nginx')
  fs.mkdirSync(path.join(dir, 'www'), { recursive: true })
  fs.writeFileSync(path.join(dir, 'www', '16k'), Buffer.alloc(LARGE_BYTES, 'x'))
  const port = await freePort()
  const conf = path.join(dir, 'nginx.conf')
  fs.writeFileSync(conf, config(dir, port))
  const errFile = path.join(dir, 'error.log')
  const child = start('nginx', ['-p', dir, '-c', conf, '-e', errFile], {
    core,
    stdout: 'ignore',
    errFile,
  })
  try {
    await waitForAccept(port, { child })
  } catch (err) {
    await stop(child)
    throw new Error(`nginx did not start: ${err.message}\n${tail(errFile)}`)
  }
  return {
    pid: child.pid,
    port,
    url: `http://127.0.0.1:${port}`,
    errFile,
    stop: () => stop(child),
    acceptedConnections: () => acceptedConnections(port),
  }
}

/** nginx's running count of accepted connections (stub_status), the asking one included. */
function acceptedConnections(port) {
  return new Promise((resolve) => {
    const req = http.get(
      { host: '127.0.0.1', port, path: '/nginx_status', agent: false },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (d) => (body += d))
        res.on('end', () => {
          const m = /\n\s*(\d+)\s+(\d+)\s+(\d+)/.exec(body)
          resolve(m ? Number(m[1]) : null)
        })
      },
    )
    req.on('error', () => resolve(null))
  })
}
