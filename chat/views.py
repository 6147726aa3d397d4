from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.identity import avatar_url, display_name


@require_GET
@login_required
def app_shell(request: HttpRequest) -> HttpResponse:
    """The single-page chat client; everything after this talks over /ws/ and /api/."""
    user = request.user
    bootstrap = {
        "username": user.get_username(),
        "display_name": display_name(user),
        "avatar_url": avatar_url(user),
        "ws_path": "/ws/",
        "csrf_token": get_token(request),
        "is_staff": user.is_staff,
    }
    return render(request, "chat/app.html", {"bootstrap": bootstrap, "ws_path": "/ws/"})
