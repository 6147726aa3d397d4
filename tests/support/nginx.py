"""nginx in front of test replicas, configured by the deployment's own template.

The configuration is deploy/nginx/chat.conf.template rendered by
deploy/cluster.py's helpers, so tests go through the same load balancer
settings (round robin, retry on a refused replica, WebSocket upgrade) that
``make cluster`` and docker-compose use.
"""

import importlib.util
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.servers import ROOT, Replica, free_port, wait_for_http


def _cluster_module():
    spec = importlib.util.spec_from_file_location("deploy_cluster", ROOT / "deploy" / "cluster.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Nginx:
    """start() in front of replicas; url, ws_url; stop()."""

    def __init__(self, replicas: list[Replica]) -> None:
        self.replicas = replicas
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="chat-nginx-"))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/"

    def start(self) -> "Nginx":
        cluster = _cluster_module()
        binary = next((path for path in cluster.NGINX_CANDIDATES if Path(path).exists()), None)
        if binary is None:
            raise RuntimeError("nginx is not installed: make system-deps (apt-get install nginx)")
        for sub in ("tmp", "media"):
            (self.directory / sub).mkdir()
        chat_conf = self.directory / "chat.conf"
        chat_conf.write_text(
            cluster.render_template(
                listen=f"127.0.0.1:{self.port}",
                servers=[f"127.0.0.1:{replica.port}" for replica in self.replicas],
                media_root=str(self.directory / "media"),
            )
        )
        main_conf = self.directory / "nginx.conf"
        main_conf.write_text(cluster.main_config(self.directory, chat_conf))
        command = [binary, "-p", str(self.directory), "-c", str(main_conf), "-e", "stderr"]
        with (self.directory / "nginx.log").open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        wait_for_http(f"{self.url}/healthz", process=self.process)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        shutil.rmtree(self.directory, ignore_errors=True)
