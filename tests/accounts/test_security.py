"""What an attacker tries on accounts: decompression bombs, probing for usernames,
and display names that pretend to be someone else."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image, ImageFile

from accounts.avatars import AVATAR_MAX_PIXELS, AvatarTooLarge, avatar_normalise
from tests.accounts.test_profile import errors_of, picture, upload

pytestmark = [pytest.mark.django_db]


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


@pytest.fixture
def decoded_sizes(monkeypatch) -> list[tuple[int, int]]:
    """The size of every image Pillow decodes while the test runs."""
    sizes: list[tuple[int, int]] = []
    load = ImageFile.ImageFile.load

    def spy(self):
        sizes.append(self.size)
        return load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    return sizes


# Decompression bombs
# ------------------------------------------------------------------------------

BOMB = picture("PNG", (4096, 4096))  # one colour: 58 KB of file, 16.8 million pixels


def test_the_bomb_is_small_enough_to_pass_the_size_limit():
    assert len(BOMB) < 100_000


def test_a_png_bomb_is_refused_with_a_clear_message_before_anything_is_decoded(
    browser, alice, media, decoded_sizes
):
    response = upload(browser, BOMB, name="bomb.png")
    assert response.status_code == 400
    assert (
        "The image is 4096×4096 pixels; the limit is 4 megapixels (such as 2000×2000) "
        "for a PNG image." in errors_of(response)
    )
    assert decoded_sizes == [], "the pixels were decoded before the size was checked"
    alice.profile.refresh_from_db()
    assert not alice.profile.avatar
    assert not any(media.rglob("*.png")), "something was stored"


def test_normalising_refuses_too_many_pixels_before_decoding(decoded_sizes):
    with pytest.raises(AvatarTooLarge):
        avatar_normalise(SimpleUploadedFile("bomb.png", BOMB))
    assert decoded_sizes == []


@pytest.mark.parametrize(
    ("fmt", "size"), [("PNG", (2000, 2000)), ("GIF", (2000, 2000)), ("WEBP", (4000, 1000))]
)
def test_images_up_to_the_pixel_limit_are_accepted(browser, alice, fmt, size):
    assert size[0] * size[1] <= AVATAR_MAX_PIXELS
    response = upload(browser, picture(fmt, size), name=f"me.{fmt.lower()}")
    assert response.status_code == 302, errors_of(response)
    alice.profile.refresh_from_db()
    assert alice.profile.avatar


def test_a_large_jpeg_is_decoded_at_a_fraction_of_its_size(browser, alice, media, decoded_sizes):
    response = upload(browser, picture("JPEG", (4096, 4096)), name="photo.jpg")
    assert response.status_code == 302, errors_of(response)
    assert decoded_sizes and max(w * h for w, h in decoded_sizes) <= 512 * 512
    alice.profile.refresh_from_db()
    with Image.open(media / alice.profile.avatar.name) as stored:
        assert stored.size == (256, 256)


def test_a_palette_image_is_resampled_smoothly_not_pixel_by_pixel():
    image = Image.new("P", (512, 512))
    image.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    for x in range(0, 512, 2):
        image.paste(1, (x, 0, x + 1, 512))  # one-pixel stripes, black and white
    buffer = io.BytesIO()
    image.save(buffer, "GIF")
    normalised = avatar_normalise(SimpleUploadedFile("stripes.gif", buffer.getvalue()))
    with Image.open(normalised) as stored:
        grey = stored.convert("L").getpixel((128, 128))
    assert 64 < grey < 192, "stripes halved should blend to grey"


# Probing for usernames
# ------------------------------------------------------------------------------


def comparable(response) -> tuple:
    """What an observer sees of an answer, with the probed name taken out."""
    location = response.get("Location", "")
    return (
        response.status_code,
        response.get("Content-Type"),
        location.replace("alice", "NAME").replace("nobody-here", "NAME"),
        response.content,
    )


def test_generated_avatars_tell_an_anonymous_visitor_nothing_about_who_exists(alice):
    existing = Client().get("/accounts/avatar/alice.svg")
    missing = Client().get("/accounts/avatar/nobody-here.svg")
    assert comparable(existing) == comparable(missing)
    assert existing.status_code == 302
    assert existing["Location"].startswith("/accounts/login/")
    assert b"<svg" not in existing.content


def test_signed_in_users_still_get_generated_avatars_kept_out_of_shared_caches(browser, alice):
    response = browser.get("/accounts/avatar/alice.svg")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert b">A</text>" in response.content
    assert "private" in response["Cache-Control"]
    assert browser.get("/accounts/avatar/nobody-here.svg").status_code == 404


# Display names that pretend
# ------------------------------------------------------------------------------

PROFILE = "/accounts/profile/"


@pytest.mark.parametrize(
    ("name", "code_point"),
    [
        ("alice\u202eecila", "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("\u2067admin\u2069", "U+2067 RIGHT-TO-LEFT ISOLATE"),
        ("ali\u200bce", "U+200B ZERO WIDTH SPACE"),
        ("alice\u200d", "U+200D ZERO WIDTH JOINER"),
        ("bob\u00adby", "U+00AD SOFT HYPHEN"),
        ("two\u2028lines", "U+2028 LINE SEPARATOR"),
        ("bell\u0007", "U+0007 a control character"),
    ],
)
def test_a_display_name_with_a_hiding_or_reordering_character_is_refused(
    browser, alice, name, code_point
):
    response = browser.post(PROFILE, {"display_name": name})
    assert response.status_code == 400
    assert (
        f"Display names cannot contain invisible or text-direction characters ({code_point})."
        in errors_of(response)
    )
    alice.profile.refresh_from_db()
    assert alice.profile.display_name == ""


def test_the_service_refuses_them_too(alice):
    from django.core.exceptions import ValidationError

    from accounts.services import profile_update

    with pytest.raises(ValidationError, match="U\\+202E"):
        profile_update(user=alice, display_name="\u202eecila")


@pytest.mark.parametrize(
    "name",
    [
        "Alice Liddell",
        "Zoë Ångström-Łukasz",
        "محمد علي",  # right-to-left script, no control characters
        "李小龍",
        "Ana 🎉",
        "👩\u200d💻 dev",  # woman technologist: ZWJ between two symbols
        "🏳\ufe0f\u200d🌈",  # rainbow flag: ZWJ after the presentation selector
        "👋🏽\u200d🔥",  # skin-tone modifier before the joiner
    ],
)
def test_ordinary_names_and_emoji_sequences_are_kept(browser, alice, name):
    response = browser.post(PROFILE, {"display_name": name})
    assert response.status_code == 302, errors_of(response)
    alice.profile.refresh_from_db()
    assert alice.profile.display_name == name


# What sign-up reveals (docs/security.md)
# ------------------------------------------------------------------------------

SIGNUP = "/accounts/signup/"


def sign_up(username: str, email: str):
    return Client().post(
        SIGNUP,
        {
            "username": username,
            "email": email,
            "password1": "Tr1cky-horse",
            "password2": "Tr1cky-horse",
        },
    )


def test_sign_up_says_a_username_is_taken_which_is_inherent(alice):
    response = sign_up("alice", "new@example.com")
    assert response.status_code == 200
    assert "A user with that username already exists." in response.content.decode()


def test_with_optional_verification_sign_up_says_an_address_is_taken(alice):
    response = sign_up("newcomer", "alice@example.com")
    assert response.status_code == 200
    assert "A user is already registered with this email address." in response.content.decode()


def test_with_mandatory_verification_a_taken_address_looks_like_any_sign_up(
    settings, alice, mailoutbox, django_user_model
):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    taken = sign_up("newcomer", "alice@example.com")
    free = sign_up("other", "other@example.com")
    assert taken.status_code == free.status_code == 302
    assert taken["Location"] == free["Location"]
    assert not django_user_model.objects.filter(username="newcomer").exists()
    to_alice = [m for m in mailoutbox if m.to == ["alice@example.com"]]
    assert len(to_alice) == 1 and "already" in to_alice[0].body.lower()
