from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from chat.views import app_shell

urlpatterns = [
    path("", app_shell, name="app"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("accounts/", include("accounts.urls")),
    path("api/", include("project.api")),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
