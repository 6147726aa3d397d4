from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_POST

from accounts.avatars import avatar_svg
from accounts.forms import ProfileForm, TokenForm
from accounts.identity import avatar_url, display_name
from accounts.services import profile_ensure, profile_update, token_create, token_revoke


@require_GET
@login_required
@cache_control(max_age=300, private=True)
def avatar_svg_view(request: HttpRequest, username: str) -> HttpResponse:
    """The generated avatar, for signed-in users only.

    Answering anyone would tell who has an account (200 with their initials, or
    404); anonymous visitors are sent to the login page, whatever the name.
    Only signed-in pages show avatars.
    """
    user = get_object_or_404(get_user_model().objects.select_related("profile"), username=username)
    response = HttpResponse(avatar_svg(display_name(user)), content_type="image/svg+xml")
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


def _profile_page(
    request: HttpRequest,
    *,
    form: ProfileForm | None = None,
    token_form: TokenForm | None = None,
    new_token: str = "",
    status: int = 200,
) -> HttpResponse:
    user = request.user
    profile = profile_ensure(user=user)
    context = {
        "form": form or ProfileForm(initial={"display_name": profile.display_name}),
        "token_form": token_form or TokenForm(),
        "profile": profile,
        "avatar_url": avatar_url(user),
        "display_name": display_name(user),
        "tokens": user.api_tokens.all(),
        "new_token": new_token,
    }
    return render(request, "account/profile.html", context, status=status)


# A new token's value, between the POST that made it and the one GET that shows it.
NEW_TOKEN_SESSION_KEY = "accounts.new_api_token"


@login_required
def profile_view(request: HttpRequest) -> HttpResponse:
    """Display name and avatar; the page also lists the user's API tokens."""
    if request.method != "POST":
        new_token = request.session.pop(NEW_TOKEN_SESSION_KEY, "")
        response = _profile_page(request, new_token=new_token)
        if new_token:
            response["Cache-Control"] = "no-store"
        return response
    form = ProfileForm(request.POST, request.FILES)
    if not form.is_valid():
        return _profile_page(request, form=form, status=400)
    profile_update(
        user=request.user,
        display_name=form.cleaned_data["display_name"],
        avatar=form.cleaned_data["avatar"],
        remove_avatar=form.cleaned_data["remove_avatar"],
    )
    messages.success(request, "Your profile was saved.")
    return redirect("account_profile")


@login_required
@require_POST
def token_create_view(request: HttpRequest) -> HttpResponse:
    """Create a token, then redirect (post/redirect/get: a reload must not make a
    second one); the next page shows its value once, from the session. It is
    stored hashed."""
    token_form = TokenForm(request.POST)
    if not token_form.is_valid():
        return _profile_page(request, token_form=token_form, status=400)
    _, raw = token_create(user=request.user, name=token_form.cleaned_data["name"])
    request.session[NEW_TOKEN_SESSION_KEY] = raw
    return redirect(f"{reverse('account_profile')}#tokens")


@login_required
@require_POST
def token_revoke_view(request: HttpRequest, token_id: int) -> HttpResponse:
    if token_revoke(user=request.user, token_id=token_id):
        messages.success(
            request, "The token was revoked; scripts using it are refused and disconnected."
        )
    else:
        messages.error(request, "No such token.")
    return redirect("account_profile")
