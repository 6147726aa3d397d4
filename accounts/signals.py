"""Live sockets follow the account: logout, deactivation, a new password and a
revoked API token end its sessions (accounts.events.sessions_ended, which the
chat app answers by closing their sockets).

Deactivating through ``accounts.services.user_deactivate`` (the admin does)
closes the sockets itself; these receivers catch what happens elsewhere: a
logout, and ``is_active`` turned off by any other ``save()`` (the admin's user
form, a shell, a script).
"""

from functools import partial

from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from accounts import services
from accounts.events import announce_sessions_ended
from accounts.models import ApiToken


@receiver(user_logged_out, dispatch_uid="accounts.close_session_sockets")
def close_session_sockets(sender, request, user, **kwargs) -> None:
    """Only this session's sockets: other browsers and bearer-token scripts stay connected."""
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if user is not None and session_key:
        announce_sessions_ended(user.pk, session_key=session_key)


@receiver(pre_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts.note_deactivation")
def note_deactivation(sender, instance, raw: bool, update_fields, **kwargs) -> None:
    """Remember whether this save turns an active account off (one query, inactive saves only)."""
    instance._chat_deactivating = (
        not raw
        and instance.pk is not None
        and not instance.is_active
        and (update_fields is None or "is_active" in update_fields)
        and sender.objects.filter(pk=instance.pk, is_active=True).exists()
    )


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts.close_on_deactivation")
def close_sockets_on_deactivation(sender, instance, **kwargs) -> None:
    if getattr(instance, "_chat_deactivating", False):
        instance._chat_deactivating = False
        transaction.on_commit(partial(announce_sessions_ended, instance.pk))


@receiver(pre_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts.note_new_password")
def note_new_password(sender, instance, raw: bool, update_fields, **kwargs) -> None:
    """Remember whether this save stores a new password (allauth, the admin, a shell)."""
    instance._chat_new_password = (
        not raw
        and instance.pk is not None
        and (update_fields is None or "password" in update_fields)
        and sender.objects.filter(pk=instance.pk).exclude(password=instance.password).exists()
    )


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts.close_on_new_password")
def close_sockets_on_new_password(sender, instance, **kwargs) -> None:
    """Every socket of the user closes and every API token is revoked.

    A socket keeps the user it authenticated at its handshake, so a stolen session
    would stay connected otherwise; and whoever knew the old password could have
    minted tokens with it. The session that changed the password (kept by
    update_session_auth_hash) reconnects at once; scripts need a new token.
    """
    if getattr(instance, "_chat_new_password", False):
        instance._chat_new_password = False
        services.tokens_revoke_all(user=instance)
        transaction.on_commit(partial(announce_sessions_ended, instance.pk))


@receiver(post_delete, sender=ApiToken, dispatch_uid="accounts.close_on_token_revoked")
def close_sockets_on_token_revoked(sender, instance, **kwargs) -> None:
    """However a token is deleted (revoked by its user, in the admin, with its user),
    the sockets opened with it close on every replica once that is committed."""
    transaction.on_commit(
        partial(announce_sessions_ended, instance.user_id, token_id=instance.pk), robust=True
    )
