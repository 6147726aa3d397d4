"""Production settings (DJANGO_DEBUG=0 and the documented variables) pass Django's deploy checks."""

import json
import os
import secrets
import subprocess
import sys

import pytest

from tests.support.servers import ROOT

# What docs/operations.md requires in production (DJANGO_ALLOWED_HOSTS keeps its default).
PRODUCTION = {"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": secrets.token_urlsafe(50)}


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


@pytest.fixture(scope="module")
def production() -> dict:
    """`check --deploy` and the settings that matter, under production settings."""
    script = (
        "import json, io; from django.conf import settings as s;"
        "from django.core.management import call_command; out = io.StringIO();"
        "call_command('check', deploy=True, fail_level='WARNING', stdout=out);"
        "print(json.dumps({'check': out.getvalue(),"
        "'hosts': s.ALLOWED_HOSTS, 'storage': s.STORAGES['staticfiles']['BACKEND'],"
        "'proxy_ssl': s.SECURE_PROXY_SSL_HEADER,"
        "'cookies': [s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE],"
        "'hsts': s.SECURE_HSTS_SECONDS, 'redirect': s.SECURE_SSL_REDIRECT}))"
    )
    result = manage("shell", "-c", script, **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_check_deploy_reports_nothing_under_production_settings(production):
    assert "System check identified no issues" in production["check"]


def test_production_defaults_are_safe_behind_a_tls_proxy(production):
    assert production["hosts"] == ["localhost", "127.0.0.1"], "never * by default"
    assert production["storage"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"
    assert production["proxy_ssl"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert production["cookies"] == [True, True]
    assert production["hsts"] > 0
    assert production["redirect"] is True


def test_production_refuses_to_start_without_a_secret_key():
    missing = {key: value for key, value in PRODUCTION.items() if key != "DJANGO_SECRET_KEY"}
    for env in (missing, {**missing, "DJANGO_SECRET_KEY": " "}):
        result = manage("check", **env)
        assert result.returncode != 0
        assert "ImproperlyConfigured: DJANGO_SECRET_KEY must" in result.stderr
