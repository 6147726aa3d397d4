from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from accounts.avatars import avatar_svg
from accounts.identity import display_name


@require_GET
@cache_control(max_age=300)
def avatar_svg_view(request: HttpRequest, username: str) -> HttpResponse:
    user = get_object_or_404(get_user_model().objects.select_related("profile"), username=username)
    response = HttpResponse(avatar_svg(display_name(user)), content_type="image/svg+xml")
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response
