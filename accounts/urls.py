from django.urls import path

from accounts import views

urlpatterns = [
    path("avatar/<str:username>.svg", views.avatar_svg_view, name="avatar_svg"),
]
