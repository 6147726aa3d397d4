from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest

from accounts.events import account_created

# Notices that only repeat what the next page already shows: signing in lands
# in the chat, which is proof enough. (Left queued, they surfaced pages later,
# "Successfully signed in as ana." after signing out.) Every other notice is
# shown, and so consumed, on the next page, the chat app included.
SILENT_MESSAGES = frozenset({"account/messages/logged_in.txt"})


class AccountAdapter(DefaultAccountAdapter):
    """Every new account gets a profile and joins the default rooms."""

    def add_message(
        self,
        request: HttpRequest,
        level: int,
        message_template: str | None = None,
        message_context: dict | None = None,
        extra_tags: str = "",
        message: str | None = None,
    ) -> None:
        """Queue allauth's notice unless it is one of SILENT_MESSAGES."""
        if message_template in SILENT_MESSAGES:
            return
        super().add_message(
            request,
            level,
            message_template=message_template,
            message_context=message_context,
            extra_tags=extra_tags,
            message=message,
        )

    def save_user(self, request: HttpRequest, user, form, commit: bool = True):
        user = super().save_user(request, user, form, commit=commit)
        if commit:
            account_created.send(sender=type(self), user=user)
        return user
