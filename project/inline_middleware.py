"""Stock Django middleware whose hooks run inline in async mode (see InlineInAsyncMixin).

Session and message middleware are not here: saving a session, and reading
messages kept in it, are database I/O and stay in a thread.
"""

from django.contrib.auth.middleware import AuthenticationMiddleware
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.middleware.csrf import CsrfViewMiddleware
from django.middleware.security import SecurityMiddleware

from project.middleware import InlineInAsyncMixin


class InlineSecurityMiddleware(InlineInAsyncMixin, SecurityMiddleware):
    pass


class InlineCommonMiddleware(InlineInAsyncMixin, CommonMiddleware):
    pass


class InlineCsrfViewMiddleware(InlineInAsyncMixin, CsrfViewMiddleware):
    """CSRF with the token in a cookie (CSRF_USE_SESSIONS is off): no I/O."""


class InlineAuthenticationMiddleware(InlineInAsyncMixin, AuthenticationMiddleware):
    """Sets the lazy ``request.user``; the user is loaded (in a thread) when first used."""


class InlineXFrameOptionsMiddleware(InlineInAsyncMixin, XFrameOptionsMiddleware):
    pass
