"""The chat's answer to what accounts announce (accounts/events.py): a new account
joins the default rooms; ended sessions close their sockets and long polls on
every replica; a new name or avatar reaches every room the user is in."""

from django.dispatch import receiver

from accounts.events import account_created, profile_changed, sessions_ended
from chat import events, services


@receiver(account_created, dispatch_uid="chat.onboard_new_account")
def onboard_new_account(sender, user, **kwargs) -> None:
    services.user_onboard(user=user)


@receiver(sessions_ended, dispatch_uid="chat.close_ended_sessions")
def close_ended_sessions(sender, user_id: int, session_key: str, token_id: int | None, **kwargs):
    events.sessions_close(user_id, session_key=session_key, token_id=token_id)


@receiver(profile_changed, dispatch_uid="chat.announce_new_profile")
def announce_new_profile(sender, user_id: int, **kwargs) -> None:
    events.user_updated(user_id)
