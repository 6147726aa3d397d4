"""Production settings (DJANGO_DEBUG=0 and the documented variables) pass Django's deploy checks."""

import json
import os
import secrets
import subprocess
import sys

from tests.support.servers import ROOT

# What docs/operations.md asks an operator to set, behind a TLS-terminating proxy.
PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DJANGO_ALLOWED_HOSTS": "chat.example.com",
}


def manage(*command: str, **env: str) -> subprocess.CompletedProcess:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "CSRF_", "SECURE_"))
    }
    environment.update(DJANGO_SETTINGS_MODULE="project.settings", **env)
    return subprocess.run(
        [sys.executable, "manage.py", *command],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_reports_nothing_under_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    missing = {key: value for key, value in PRODUCTION.items() if key != "DJANGO_SECRET_KEY"}
    for env in (missing, {**missing, "DJANGO_SECRET_KEY": " "}):
        result = manage("check", **env)
        assert result.returncode != 0
        assert "ImproperlyConfigured: DJANGO_SECRET_KEY must" in result.stderr


def test_production_defaults_are_safe_behind_a_tls_proxy():
    script = (
        "import json; from django.conf import settings as s; print(json.dumps({"
        "'hosts': s.ALLOWED_HOSTS, 'storage': s.STORAGES['staticfiles']['BACKEND'],"
        "'proxy_ssl': s.SECURE_PROXY_SSL_HEADER,"
        "'cookies': [s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE],"
        "'hsts': s.SECURE_HSTS_SECONDS, 'redirect': s.SECURE_SSL_REDIRECT}))"
    )
    env = {key: value for key, value in PRODUCTION.items() if key != "DJANGO_ALLOWED_HOSTS"}
    result = manage("shell", "-c", script, **env)
    assert result.returncode == 0, result.stderr
    production = json.loads(result.stdout.strip().splitlines()[-1])
    assert "*" not in production["hosts"]
    assert production["storage"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"
    assert production["proxy_ssl"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert production["cookies"] == [True, True]
    assert production["hsts"] > 0
    assert production["redirect"] is True
