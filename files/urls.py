"""Mounted at /files/ by project/urls.py. A name never holds "/" (files.names), so the
one-segment file URL and the two-segment thumbnail URL cannot be confused."""

from django.urls import path

from files import views

app_name = "files"
urlpatterns = [
    path("<int:upload_id>/thumb/<str:name>", views.thumbnail_view, name="thumbnail"),
    path("<int:upload_id>/<str:name>", views.file_view, name="file"),
]
