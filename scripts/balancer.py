"""nginx as a load balancer on 127.0.0.1, configured as deploy/k8s/ingress.yaml's Ingress is:
no buffering either way, WebSocket upgrades, hour-long read/send timeouts, X-Forwarded-For and
-Proto set, and the replica that answered in ``X-Upstream``. Used by scripts/bench_scaleout.py."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log error;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
  upstream speech {{
{servers}
  }}
  server {{
    listen 127.0.0.1:{port};
    client_max_body_size 26m;
    location / {{
      proxy_pass http://speech;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 3600s;
      proxy_send_timeout 3600s;
      add_header X-Upstream $upstream_addr always;
    }}
  }}
}}
"""


def nginx_or_reason() -> tuple[str | None, str]:
    """nginx's path, installing Debian's package when missing; else None and why."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if found:
        return found, ""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None, "nginx is not installed and apt-get cannot install it here (not root, or not Debian)"
    print("installing nginx-light with apt-get ...", file=sys.stderr)
    result = subprocess.run(
        ["apt-get", "install", "-y", "--no-install-recommends", "nginx-light"], capture_output=True, text=True
    )
    found = shutil.which("nginx", path="/usr/sbin:/usr/bin")
    return (found, "") if found else (None, f"apt-get install nginx-light failed: {result.stderr[-300:]}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def balancer(nginx: str, upstreams: list[str]) -> Iterator[int]:
    """nginx on a free port in front of ``upstreams`` (host:port each); yields its port."""
    with tempfile.TemporaryDirectory(prefix="bench-nginx-") as folder:
        os.chmod(folder, 0o777)  # nginx's workers run as nobody
        port = free_port()
        servers = "\n".join(f"    server {address} max_fails=1 fail_timeout=10s;" for address in upstreams)
        conf = Path(folder) / "nginx.conf"
        conf.write_text(NGINX_CONF.format(dir=folder, servers=servers, port=port))
        process = subprocess.Popen([nginx, "-c", str(conf), "-p", folder], stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with socket.socket() as probe:
                    if probe.connect_ex(("127.0.0.1", port)) == 0:
                        break
                if process.poll() is not None:
                    raise RuntimeError(f"nginx did not start: {process.stderr.read()[-500:]}")
                time.sleep(0.05)
            yield port
        finally:
            process.terminate()
            process.wait(timeout=10)
