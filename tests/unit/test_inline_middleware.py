"""The stock middleware run inline in async mode, and still do their jobs."""

import pytest
from django.conf import settings
from django.utils.module_loading import import_string

# What Django's deploy checks security.W001-W003 look for, which settings silences.
GUARDED = {
    "security.W001": "django.middleware.security.SecurityMiddleware",
    "security.W002": "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "security.W003": "django.middleware.csrf.CsrfViewMiddleware",
}


@pytest.mark.parametrize("check", sorted(GUARDED))
def test_each_silenced_deploy_check_has_its_middleware_in_place(check):
    assert check in settings.SILENCED_SYSTEM_CHECKS
    stock = import_string(GUARDED[check])
    assert any(issubclass(import_string(path), stock) for path in settings.MIDDLEWARE), (
        f"{GUARDED[check]} (or its inline subclass) must stay in MIDDLEWARE"
    )


def test_the_inline_middleware_hold_no_hook_that_would_hop_threads():
    from project.inline_middleware import InlineInAsyncMixin

    inline = [import_string(p) for p in settings.MIDDLEWARE if "inline_middleware" in p]
    assert len(inline) == 5
    for middleware in inline:
        assert issubclass(middleware, InlineInAsyncMixin)
        instance = middleware(_async_view)
        view_hook = getattr(instance, "process_view", None)
        if view_hook is not None:
            from asgiref.sync import iscoroutinefunction

            assert iscoroutinefunction(view_hook), middleware


async def _async_view(request):
    raise AssertionError("not called")


@pytest.mark.django_db
async def test_an_async_request_gets_the_security_headers_and_csrf_protection():
    from django.test import AsyncClient

    async_client = AsyncClient(enforce_csrf_checks=True)
    page = await async_client.get("/accounts/login/")
    assert page["X-Frame-Options"] == "DENY"
    assert page["X-Content-Type-Options"] == "nosniff"
    refused = await async_client.post("/accounts/login/", {"login": "x", "password": "y"})
    assert refused.status_code == 403, "a form post without the CSRF token is refused"
