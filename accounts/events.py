"""What the accounts app announces; the chat app listens (chat/account_receivers.py).

accounts sits below chat: it never imports it. A change that live sockets or
rooms must follow is sent as one of these signals, after the change commits.
"""

from django.dispatch import Signal

# An account was created by signing up (kwargs: user).
account_created = Signal()
# Sessions of the user ended (kwargs: user_id, session_key, token_id): all of them,
# or the one with this session key, or those opened with this API token.
sessions_ended = Signal()
# The user's display name or avatar changed (kwargs: user_id).
profile_changed = Signal()


def announce_sessions_ended(user_id: int, *, session_key: str = "", token_id: int | None = None):
    sessions_ended.send(sender=None, user_id=user_id, session_key=session_key, token_id=token_id)


def announce_profile_changed(user_id: int) -> None:
    profile_changed.send(sender=None, user_id=user_id)
