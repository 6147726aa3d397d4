from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from chat.views import app_shell
from chat.ws_schema import ws_schema_view

# The admin's own login form checks passwords with no rate limit and no lockout.
# People sign in through allauth's login instead, whose failed-login limits live
# in the cache every replica shares; a signed-in user who is not staff gets a 403.
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("", app_shell, name="app"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("accounts/", include("accounts.urls")),
    path("api/ws-schema.json", ws_schema_view, name="ws-schema"),
    path("api/", include("project.api")),
    # Uploaded files, each after its access check (files/views.py).
    path("files/", include("files.urls")),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    # Avatars only: uploads under MEDIA_ROOT/uploads are served by /files/ after
    # the access check, never straight from the media directory.
    urlpatterns += static(
        f"{settings.MEDIA_URL}avatars/", document_root=settings.MEDIA_ROOT / "avatars"
    )
