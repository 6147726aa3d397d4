"""Profile forms: what a user may change about how others see them, and their tokens."""

from math import isqrt

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat

from accounts.avatars import (
    AVATAR_FORMATS,
    AVATAR_MAX_BYTES,
    AVATAR_MAX_PIXELS,
    AVATAR_MAX_SIDE,
    AVATAR_MIN_SIDE,
    avatar_decoded_size,
)
from accounts.models import ApiToken, Profile
from accounts.services import display_name_clean

ACCEPTED = (
    ", ".join(list(AVATAR_FORMATS.values())[:-1]) + " or " + list(AVATAR_FORMATS.values())[-1]
)
ACCEPTED_MIME = "image/png,image/jpeg,image/gif,image/webp"
MEGAPIXELS = f"{AVATAR_MAX_PIXELS / 1_000_000:g} megapixels"
SQUARE = f"{isqrt(AVATAR_MAX_PIXELS)}×{isqrt(AVATAR_MAX_PIXELS)}"


class AvatarField(forms.ImageField):
    """An image Pillow can read; the type is judged from the content, never the file name."""

    default_validators = []
    default_error_messages = {
        "invalid_image": f"Upload a {ACCEPTED} image; this file is not one, or it is damaged.",
    }


class ProfileForm(forms.Form):
    display_name = forms.CharField(
        max_length=Profile._meta.get_field("display_name").max_length,
        required=False,
        help_text="Shown instead of your username. Leave empty to use your username.",
    )
    avatar = AvatarField(
        required=False,
        widget=forms.FileInput(attrs={"accept": ACCEPTED_MIME}),
        help_text=(
            f"{ACCEPTED}, up to {filesizeformat(AVATAR_MAX_BYTES)} and "
            f"{AVATAR_MAX_SIDE}×{AVATAR_MAX_SIDE} pixels ({MEGAPIXELS} for images "
            "other than JPEG). Without one, you get a picture made from your initials."
        ),
    )
    remove_avatar = forms.BooleanField(
        required=False, label="Use the picture made from my initials instead"
    )

    def clean_display_name(self) -> str:
        return display_name_clean(self.cleaned_data["display_name"])

    def clean_avatar(self) -> UploadedFile | None:
        upload = self.cleaned_data.get("avatar")
        if not upload:
            return None
        if upload.size > AVATAR_MAX_BYTES:
            raise forms.ValidationError(
                f"The image is {filesizeformat(upload.size)}; the limit is "
                f"{filesizeformat(AVATAR_MAX_BYTES)}.",
                code="too_large",
            )
        if upload.image.format not in AVATAR_FORMATS:
            raise forms.ValidationError(
                f"{upload.image.format} images are not accepted; upload a {ACCEPTED} image.",
                code="format",
            )
        width, height = upload.image.size
        if max(width, height) > AVATAR_MAX_SIDE:
            raise forms.ValidationError(
                f"The image is {width}×{height} pixels; the limit is "
                f"{AVATAR_MAX_SIDE}×{AVATAR_MAX_SIDE}.",
                code="too_big",
            )
        decoded_width, decoded_height = avatar_decoded_size(upload)
        if decoded_width * decoded_height > AVATAR_MAX_PIXELS:
            # Checked from the header: nothing has been decoded yet.
            raise forms.ValidationError(
                f"The image is {width}×{height} pixels; the limit is {MEGAPIXELS} "
                f"(such as {SQUARE}) for a {upload.image.format} image.",
                code="too_many_pixels",
            )
        if min(width, height) < AVATAR_MIN_SIDE:
            raise forms.ValidationError(
                f"The image is {width}×{height} pixels; it needs at least "
                f"{AVATAR_MIN_SIDE} pixels on each side.",
                code="too_small",
            )
        return upload


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=ApiToken._meta.get_field("name").max_length,
        help_text="What the token is for, e.g. “deploy bot”.",
    )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the token a name.")
        return name
