// What an ops team would otherwise deploy, configured with best-practice failover to the same three
// carriers: nginx (primary + backup servers, short timeouts, proxy_next_upstream in a safe and a
// non_idempotent variant) and HAProxy (primary + backups, active checks, retries, redispatch).
// Both run with one worker/thread, as paypath runs on one Node thread.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Upstream {
  id: string;
  host: string;
  port: number;
  /**
   * Local address to send from (HAProxy `source`, nginx `proxy_bind`): a store box's carrier
   * interface. With per-carrier routing tables it chooses the carrier. Default: the kernel's choice.
   */
  source?: string;
}

/**
 * nginx with the upstreams as primary and backups. nginx's `proxy_bind` holds for a whole request,
 * not for each server it tries, so upstreams with a `source` are reached through one inner server
 * per carrier (on 127.0.0.1, ports port+1…) that binds that carrier's address: the outer upstream
 * fails over between them on errors, timeouts and the inner servers' 502/504.
 */
export function nginxConfig(
  dir: string,
  port: number,
  upstreams: Upstream[],
  retryNonIdempotent: boolean,
): string {
  if (upstreams.some((u) => u.source !== undefined))
    return nginxPerCarrierConfig(dir, port, upstreams, retryNonIdempotent);
  const [primary, ...backups] = upstreams;
  return `${nginxPreamble(dir)}
  upstream processor {
    server ${primary!.host}:${primary!.port} max_fails=1 fail_timeout=5s;
${backups.map((u) => `    server ${u.host}:${u.port} backup max_fails=1 fail_timeout=5s;`).join('\n')}
    keepalive 128;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://processor;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_connect_timeout 250ms;
      proxy_send_timeout 1s;
      proxy_read_timeout 1s;
      proxy_next_upstream error timeout${retryNonIdempotent ? ' non_idempotent' : ''};
      proxy_next_upstream_tries 3;
      proxy_next_upstream_timeout 5s;
    }
  }
}
`;
}

function nginxPerCarrierConfig(
  dir: string,
  port: number,
  upstreams: Upstream[],
  retryNonIdempotent: boolean,
): string {
  const inner = upstreams.map((u, i) => ({ ...u, innerPort: port + 1 + i }));
  return `${nginxPreamble(dir)}
  upstream carriers {
${inner.map((u, i) => `    server 127.0.0.1:${u.innerPort}${i === 0 ? '' : ' backup'} max_fails=1 fail_timeout=5s;`).join('\n')}
    keepalive 128;
  }
${inner
  .map(
    (u) => `  upstream ${u.id.replaceAll('-', '_')} {
    server ${u.host}:${u.port};
    keepalive 128;
  }`,
  )
  .join('\n')}
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://carriers;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_connect_timeout 250ms;
      proxy_send_timeout 2s;
      proxy_read_timeout 2s;
      proxy_next_upstream error timeout http_502 http_504${retryNonIdempotent ? ' non_idempotent' : ''};
      proxy_next_upstream_tries 3;
      proxy_next_upstream_timeout 5s;
    }
  }
${inner
  .map(
    (u) => `  server {
    listen 127.0.0.1:${u.innerPort};
    location / {
      proxy_pass http://${u.id.replaceAll('-', '_')};
      proxy_bind ${u.source ?? 'off'};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_connect_timeout 250ms;
      proxy_send_timeout 1s;
      proxy_read_timeout 1s;
      proxy_next_upstream off;
    }
  }`,
  )
  .join('\n')}
}
`;
}

/** nginx's top level and the start of its http block: one process in the foreground, state and temp files under `dir`. */
function nginxPreamble(dir: string): string {
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'])
    mkdirSync(join(dir, sub), { recursive: true });
  return `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log crit;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;`;
}

export function haproxyConfig(dir: string, port: number, upstreams: Upstream[]): string {
  const [primary, ...backups] = upstreams;
  return `global
  nbthread 1
  maxconn 8192
  pidfile ${dir}/haproxy.pid
defaults
  mode http
  timeout connect 250ms
  timeout client 30s
  timeout server 1s
  timeout check 500ms
  retries 2
  option redispatch 1
  option http-buffer-request
  retry-on conn-failure empty-response response-timeout
  http-reuse safe
frontend fe
  bind 127.0.0.1:${port}
  default_backend processor
backend processor
  option httpchk GET /health
  server ${primary!.id} ${primary!.host}:${primary!.port}${source(primary!)} check inter 500 fall 2 rise 2
${backups.map((u) => `  server ${u.id} ${u.host}:${u.port}${source(u)} check inter 500 fall 2 rise 2 backup`).join('\n')}
`;
}

const source = (u: Upstream) => (u.source === undefined ? '' : ` source ${u.source}`);

export function startNginx(dir: string, config: string): ChildProcess {
  const file = join(dir, 'nginx.conf');
  writeFileSync(file, config);
  return spawn('nginx', ['-c', file, '-p', dir], { stdio: 'ignore' });
}

export function startHaproxy(dir: string, config: string): ChildProcess {
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, config);
  return spawn('haproxy', ['-f', file, '-db'], { stdio: 'ignore' });
}
