"""The profile page: display name, avatar (uploaded or generated), personal API tokens."""

import io
import os
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from accounts.identity import user_payload
from accounts.services import token_authenticate

pytestmark = [pytest.mark.django_db]

PROFILE = "/accounts/profile/"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def browser(alice) -> Client:
    client = Client()
    client.force_login(alice)
    return client


def picture(fmt: str = "PNG", size: tuple[int, int] = (300, 200), *, noise: bool = False, **save):
    image = Image.new("RGB", size, "#3366cc")
    if noise:
        image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save)
    return buffer.getvalue()


def upload(browser: Client, content: bytes, name: str = "me.png", **fields):
    data = {"display_name": "", "avatar": SimpleUploadedFile(name, content), **fields}
    return browser.post(PROFILE, data)


def errors_of(response) -> str:
    return " ".join(re.findall(r'class="field-errors"[^>]*>(.*?)</div>', response.content.decode()))


def test_the_page_needs_a_signed_in_user():
    response = Client().get(PROFILE)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_page_shows_the_generated_avatar_and_no_inline_script(browser):
    response = browser.get(PROFILE)
    page = response.content.decode()
    assert response.status_code == 200
    assert 'src="/accounts/avatar/alice.svg"' in page
    assert "Personal API tokens" in page
    assert "<script" not in page, "the CSP forbids inline scripts"
    assert 'enctype="multipart/form-data"' in page


def test_a_display_name_is_what_others_see(browser, alice):
    response = browser.post(PROFILE, {"display_name": "  Alice Liddell "})
    assert response.status_code == 302
    alice.profile.refresh_from_db()
    assert user_payload(alice)["display_name"] == "Alice Liddell"
    assert "Your profile was saved." in browser.get(PROFILE).content.decode()


@pytest.mark.parametrize(
    ("fmt", "save"), [("PNG", {}), ("JPEG", {}), ("GIF", {}), ("WEBP", {"quality": 80})]
)
def test_an_uploaded_avatar_is_stored_small_and_re_encoded(browser, alice, media, fmt, save):
    response = upload(browser, picture(fmt, (600, 400), **save), name=f"me.{fmt.lower()}")
    assert response.status_code == 302, errors_of(response)
    alice.profile.refresh_from_db()
    url = user_payload(alice)["avatar_url"]
    assert re.fullmatch(rf"/media/avatars/{alice.pk}-[0-9a-f]{{16}}\.png", url)
    with Image.open(media / alice.profile.avatar.name) as stored:
        assert (stored.format, stored.size) == ("PNG", (256, 171))


def test_what_the_camera_recorded_is_not_published(browser, alice, media):
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # Make
    exif[0x8825] = {2: (51.0, 30.0, 0.0)}  # GPS latitude
    response = upload(browser, picture("JPEG", exif=exif.tobytes()), name="photo.jpg")
    assert response.status_code == 302
    alice.profile.refresh_from_db()
    raw = (media / alice.profile.avatar.name).read_bytes()
    assert b"SpyCam" not in raw
    with Image.open(io.BytesIO(raw)) as stored:
        assert not stored.getexif()


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "me.svg",
            "Upload a PNG, JPEG, GIF or WebP image",
        ),
        (b"just some text", "me.png", "Upload a PNG, JPEG, GIF or WebP image"),
        (picture("BMP"), "me.bmp", "BMP images are not accepted"),
        (picture("PNG", (5000, 20)), "wide.png", "the limit is 4096×4096"),
        (picture("PNG", (8, 8)), "tiny.png", "at least 16 pixels"),
        (picture("PNG", (1100, 1100), noise=True), "huge.png", "the limit is 2.0\xa0MB"),
    ],
    ids=["svg", "not-an-image", "bmp", "too-wide", "too-small", "too-heavy"],
)
def test_other_uploads_are_refused_with_a_clear_message(browser, alice, content, name, message):
    response = upload(browser, content, name=name)
    assert response.status_code == 400
    assert message in errors_of(response)
    alice.profile.refresh_from_db()
    assert not alice.profile.avatar


def test_a_new_avatar_replaces_the_old_file_and_can_be_removed(
    browser, alice, media, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        upload(browser, picture())
    alice.profile.refresh_from_db()
    first = media / alice.profile.avatar.name
    with django_capture_on_commit_callbacks(execute=True):
        upload(browser, picture("JPEG"), name="second.jpg")
    alice.profile.refresh_from_db()
    assert not first.exists()
    assert (media / alice.profile.avatar.name).exists()

    browser.post(PROFILE, {"display_name": "", "remove_avatar": "on"})
    alice.profile.refresh_from_db()
    assert user_payload(alice)["avatar_url"] == "/accounts/avatar/alice.svg"


def test_a_token_is_shown_once_and_works(browser, alice):
    response = browser.post("/accounts/profile/tokens/", {"name": "deploy bot"})
    # Post/redirect/get: reloading the page that shows it makes no second token.
    assert response.status_code == 302
    assert response["Location"] == "/accounts/profile/#tokens"
    response = browser.get(PROFILE)
    assert response["Cache-Control"] == "no-store"
    raw = re.search(r'id="new-token"[^>]*value="(chat_[^"]+)"', response.content.decode())[1]
    assert token_authenticate(raw) == alice

    later = browser.get(PROFILE).content.decode()
    assert "deploy bot" in later
    assert raw[:12] in later, "the list shows how the token starts"
    assert raw not in later, "the full value is never shown again"
    assert alice.api_tokens.count() == 1


def test_a_revoked_token_stops_working(browser, alice, token_for):
    raw = token_for(alice)
    token_id = alice.api_tokens.get().pk
    response = browser.post(f"/accounts/profile/tokens/{token_id}/revoke/")
    assert response.status_code == 302
    assert token_authenticate(raw) is None
    assert "The token was revoked" in browser.get(PROFILE).content.decode()


def test_nobody_revokes_someone_elses_token(browser, make_user, token_for):
    bob = make_user("bob")
    raw = token_for(bob)
    response = browser.post(f"/accounts/profile/tokens/{bob.api_tokens.get().pk}/revoke/")
    assert response.status_code == 302
    assert token_authenticate(raw) == bob
    assert "No such token." in browser.get(PROFILE).content.decode()


def test_a_token_needs_a_name(browser, alice):
    response = browser.post("/accounts/profile/tokens/", {"name": "   "})
    assert response.status_code == 400
    assert not alice.api_tokens.exists()


def test_the_drawn_avatar_url_is_what_reverse_gives_under_any_script_prefix(alice):
    """avatar_url keeps reverse()'s answers (~70 µs each, once per message object)."""
    from django.urls import reverse, set_script_prefix

    from accounts import identity

    reversed_url = reverse("avatar_svg", kwargs={"username": "alice"})
    assert identity.avatar_url(alice) == reversed_url == "/accounts/avatar/alice.svg"
    identity._avatar_path.cache_clear()
    for _ in range(3):
        identity.avatar_url(alice)
    assert identity._avatar_path.cache_info().hits == 2
    try:
        set_script_prefix("/chat/")
        assert identity.avatar_url(alice) == "/chat/accounts/avatar/alice.svg"
    finally:
        set_script_prefix("/")
    assert identity.avatar_url(alice) == "/accounts/avatar/alice.svg"
    alice.profile.display_name = "Alice A."
    assert identity.avatar_url(alice).startswith("/accounts/avatar/alice.svg?v=")
