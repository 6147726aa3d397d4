from django.urls import path

from accounts import views

urlpatterns = [
    path("avatar/<str:username>.svg", views.avatar_svg_view, name="avatar_svg"),
    path("profile/", views.profile_view, name="account_profile"),
    path("profile/tokens/", views.token_create_view, name="account_token_create"),
    path(
        "profile/tokens/<int:token_id>/revoke/",
        views.token_revoke_view,
        name="account_token_revoke",
    ),
]
