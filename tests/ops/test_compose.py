"""docker-compose.yml, the Dockerfile and the nginx template, read as an operator would.

No Docker engine runs here: the files are parsed and their promises asserted;
the same topology runs for real, with processes, in test_cluster.py.
"""

import re
import string
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "nginx" / "chat.conf.template"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def test_postgres_and_redis_have_health_checks_and_volumes(compose, services):
    for name in ("postgres", "redis"):
        service = services[name]
        assert service["healthcheck"]["test"], name
        volume = service["volumes"][0].split(":")[0]
        assert volume in compose["volumes"], f"{name} keeps its data in a named volume"


def test_migrations_run_once_before_any_replica_or_worker(services):
    migrate = services["migrate"]
    assert migrate["command"][-3:] == ["manage.py", "migrate", "--noinput"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("web", "worker"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name
        assert "migrate" not in " ".join(services[name]["command"]), name


def test_web_scales_without_a_fixed_host_port_and_drains_on_stop(services):
    web = services["web"]
    assert "ports" not in web, "a fixed host port would stop `--scale web=3`"
    assert "container_name" not in web
    assert web["command"][:3] == ["python", "-m", "project.serve"]
    assert "--proxy-headers" in web["command"]
    assert "/readyz" in " ".join(web["healthcheck"]["test"])
    timeout = float(web["command"][web["command"].index("--shutdown-timeout") + 1])
    grace = int(web["stop_grace_period"].rstrip("s"))
    assert grace > timeout, "docker must not SIGKILL a replica that is still draining"


def test_web_runs_production_settings_with_a_required_secret(services):
    env = services["web"]["environment"]
    assert env["DJANGO_DEBUG"] == "0"
    assert env["DJANGO_SECRET_KEY"].startswith("${DJANGO_SECRET_KEY:?")
    assert env["DATABASE_URL"].startswith("postgres://")
    assert "@postgres:5432/" in env["DATABASE_URL"]
    assert env["REDIS_URL"].startswith("${REDIS_URL:-redis://redis:6379/")
    assert "*" not in env["DJANGO_ALLOWED_HOSTS"]


def test_the_worker_runs_the_notification_channel(services):
    command = services["worker"]["command"]
    assert command[-5:] == ["manage.py", "runworker", "chat-notify", "--layer", "worker"]


def test_nginx_fronts_the_replicas_with_the_deploy_template(services):
    nginx = services["nginx"]
    mounts = {volume.split(":")[0]: volume.split(":")[1] for volume in nginx["volumes"]}
    assert mounts["./deploy/nginx/chat.conf.template"].startswith("/etc/nginx/templates/")
    assert nginx["ports"] == ["${CHAT_PORT:-8080}:8080"]
    assert nginx["depends_on"]["web"]["condition"] == "service_healthy"
    env = nginx["environment"]
    placeholders = set(re.findall(r"\$\{(CHAT_[A-Z_]+)\}", TEMPLATE.read_text()))
    assert placeholders <= set(env), "every placeholder of the template is filled"
    # Docker's DNS, re-resolved: replicas added by --scale get traffic too.
    assert env["CHAT_UPSTREAM_SERVERS"] == "server web:8000 resolve max_fails=0;"
    assert "127.0.0.11" in env["CHAT_RESOLVER"]
    version = re.search(r"nginx:(\d+)\.(\d+)", nginx["image"])
    assert (int(version[1]), int(version[2])) >= (1, 27), "`resolve` needs nginx 1.27.3+"


def test_the_nginx_template_upgrades_sockets_and_waits_for_long_polls():
    rendered = string.Template(TEMPLATE.read_text()).safe_substitute(
        CHAT_LISTEN="8080",
        CHAT_UPSTREAM_SERVERS="server a:8000;\n    server b:8000;",
        CHAT_RESOLVER="",
        CHAT_MEDIA_ROOT="/srv/media",
    )
    blocks = dict(re.findall(r"location\s+([^{]+?)\s*\{(.*?)\}", rendered, re.S))
    ws = blocks["/ws/"]
    assert "proxy_read_timeout 1h;" in ws
    assert "proxy_set_header Upgrade $http_upgrade;" in rendered
    assert "proxy_set_header Connection $connection_upgrade;" in rendered
    assert "proxy_http_version 1.1;" in rendered
    api_timeout = re.search(r"proxy_read_timeout (\d+)s;", blocks["/api/"])
    assert int(api_timeout[1]) >= 35, "a 30 s long poll must outlive nginx's timeout"
    upstream = re.search(r"upstream chat_replicas \{(.*?)\}", rendered, re.S)[1]
    directives = {line.split()[0] for line in upstream.splitlines() if line.strip()[:1].isalpha()}
    assert directives == {"zone", "server"}, "plain round robin: no hash, no sticky sessions"
    assert "return 404;" in blocks["= /metrics"]


def test_no_replica_is_taken_out_of_rotation_by_a_failed_connect(services):
    """A survivor whose handshakes queue in a reconnect storm must keep getting them:
    with nginx's default max_fails=1 it was marked down and every reconnect got 502."""
    from deploy.cluster import render_template

    compose_servers = services["nginx"]["environment"]["CHAT_UPSTREAM_SERVERS"]
    cluster_servers = re.findall(
        r"^\s*server \S+ .*;$",
        render_template(listen="1", servers=["a:1", "b:2"], media_root="/m"),
        re.M,
    )
    for line in [compose_servers, *cluster_servers]:
        assert "max_fails=0" in line, line
    assert len(cluster_servers) == 2


def test_the_image_is_small_non_root_and_ships_hashed_static_files():
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)", dockerfile, re.M)
    assert stages[-1] == "python:3.11-slim"
    assert len(stages) == 2, "dependencies are built in a stage of their own"
    assert "PIP_NO_CACHE_DIR=1" in dockerfile
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.M)
    assert "collectstatic --noinput" in dockerfile
    assert '"project.serve"' in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    for path in (".git", ".venv", "db.sqlite3", "media", ".cluster"):
        assert path in ignored, path


# The optional Sentinel profile
# ------------------------------------------------------------------------------


def test_a_plain_up_starts_no_sentinel_and_needs_none(services):
    optional = {name for name, service in services.items() if service.get("profiles")}
    assert optional == {"redis-replica", "sentinel-1", "sentinel-2", "sentinel-3"}
    for name, service in services.items():
        if name not in optional:
            depends = service.get("depends_on", {})
            assert not optional & set(depends), f"{name} must start without the profile"


def test_the_sentinel_profile_watches_redis_with_a_replica_and_a_quorum_of_three(services):
    replica = services["redis-replica"]
    assert replica["profiles"] == ["sentinel"]
    command = replica["command"]
    assert command[command.index("--replicaof") + 1 :][:2] == ["redis", "6379"]
    assert replica["volumes"][0].split(":")[0] == "redis-replica"
    sentinels = [services[f"sentinel-{n}"] for n in (1, 2, 3)]
    for sentinel in sentinels:
        assert sentinel["profiles"] == ["sentinel"]
        script = sentinel["command"][-1]
        assert "sentinel monitor chat redis 6379 2" in script, "quorum 2 of 3"
        assert "sentinel resolve-hostnames yes" in script
        assert "exec redis-sentinel /tmp/sentinel.conf" in script
        assert sentinel["healthcheck"]["test"][-2:] == ["get-master-addr-by-name", "chat"]
        assert sentinel["restart"] == "unless-stopped"


def test_the_documented_sentinel_url_names_the_profiles_sentinels_and_master(services):
    from project.redis_config import parse_redis_urls

    header = (ROOT / "docker-compose.yml").read_text()
    (url,) = re.findall(r"REDIS_URL=(redis\+sentinel://\S+)", header)
    (server,) = parse_redis_urls(url)
    assert server.master_name == "chat"
    assert set(server.sentinels) == {(f"sentinel-{n}", 26379) for n in (1, 2, 3)}
    env = services["web"]["environment"]
    assert env["REDIS_URL"] == "${REDIS_URL:-redis://redis:6379/0}", "an operator can point it"
    for variable in ("PRESENCE_REDIS_URL", "CACHE_REDIS_URL"):
        assert env[variable] == f"${{{variable}:-}}"
