"""Operators' moderation: every change that members would see goes through chat.services,
so the admin emits the same live events as the WebSocket and the API."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.shortcuts import redirect

from chat import services
from chat.models import Membership, Message, Room
from project.errors import ClientError


def _moderate(request, action, **kwargs) -> bool:
    """Run a service; a refusal becomes an admin error message instead of a crash."""
    try:
        action(**kwargs)
    except ClientError as error:
        messages.error(request, error.detail)
        return False
    return True


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    readonly_fields = ["joined", "last_read_id"]

    def has_add_permission(self, request, obj: Room | None = None) -> bool:
        direct = obj is not None and obj.kind == Room.Kind.DIRECT
        return not direct and super().has_add_permission(request, obj)

    def has_delete_permission(self, request, obj: Room | None = None) -> bool:
        direct = obj is not None and obj.kind == Room.Kind.DIRECT
        return not direct and super().has_delete_permission(request, obj)


class RoomAdminForm(forms.ModelForm):
    """A new room's fields follow the same rules as one created in the chat."""

    class Meta:
        model = Room
        fields = ["name", "slug", "topic", "kind", "creator", "archived", "is_default"]

    def clean(self) -> dict:
        data = super().clean()
        if self.instance.pk is None and not self.errors:
            try:
                services.room_fields_check(
                    name=data.get("name"),
                    slug=data.get("slug"),
                    kind=data.get("kind"),
                    topic=data.get("topic"),
                )
            except ClientError as error:
                raise ValidationError(error.detail) from None
        return data


def _adopt(obj: Room, room: Room) -> None:
    """Make the admin's unsaved object the room the service created (inlines attach to it)."""
    for field in Room._meta.concrete_fields:
        setattr(obj, field.attname, getattr(room, field.attname))
    obj._state.adding = False
    obj._state.db = room._state.db


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    form = RoomAdminForm
    list_display = ["name", "slug", "kind", "is_default", "archived", "member_count", "created"]
    list_filter = ["kind", "is_default", "archived"]
    search_fields = ["name", "slug", "topic"]
    readonly_fields = ["created", "last_message_id", "seq", "direct_key"]
    inlines = [MembershipInline]
    actions = ["archive", "unarchive"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_count=Count("memberships"))

    @admin.display(ordering="member_count", description="members")
    def member_count(self, room: Room) -> int:
        return room.member_count

    @admin.action(description="Archive selected rooms (read-only, members see it live)")
    def archive(self, request, queryset) -> None:
        for room in queryset.filter(archived=False):
            services.room_archive(by=request.user, room=room, archived=True)

    @admin.action(description="Reopen selected archived rooms")
    def unarchive(self, request, queryset) -> None:
        for room in queryset.filter(archived=True):
            services.room_archive(by=request.user, room=room, archived=False)

    def save_model(self, request, obj: Room, form, change: bool) -> None:
        if not change:
            # Through the service: the room gets its owner (the chosen creator, else
            # the operator), who hears `room_added`; members added below are invited.
            room = services.room_create(
                creator=obj.creator or request.user,
                name=obj.name,
                slug=obj.slug,
                kind=obj.kind,
                topic=obj.topic,
                is_default=obj.is_default,
                by_operator=True,
            )
            archived = obj.archived
            _adopt(obj, room)
            if archived:
                services.room_archive(by=request.user, room=obj, archived=True)
            return
        super().save_model(request, obj, form, change)
        changed = set(form.changed_data)
        if changed & {"name", "topic"}:
            services.room_update(by=request.user, room=obj, name=obj.name, topic=obj.topic)
        if "archived" in changed:
            services.room_archive(by=request.user, room=obj, archived=obj.archived)

    def save_formset(self, request, form, formset, change: bool) -> None:
        if formset.model is not Membership:
            super().save_formset(request, form, formset, change)
            return
        room = form.instance
        formset.save(commit=False)
        for membership in formset.deleted_objects:
            _moderate(
                request,
                services.member_remove,
                by=request.user,
                room=room,
                username=membership.user.get_username(),
            )
        for membership in formset.new_objects:
            _invite(request, room=room, membership=membership)
        # A new owner first: handing the room over makes the old owner a moderator,
        # which a change to the old owner's row in the same save may then adjust.
        changed = [m for m, fields in formset.changed_objects if m.pk and "role" in fields]
        for membership in sorted(changed, key=lambda m: m.role != Membership.Role.OWNER):
            _set_role(request, room=room, membership=membership)

    def delete_model(self, request, obj: Room) -> None:
        _moderate(request, services.room_delete, by=request.user, room=obj)

    def delete_queryset(self, request, queryset) -> None:
        for room in queryset:
            self.delete_model(request, room)


def _invite(request, *, room: Room, membership: Membership) -> None:
    """Add through the service (the invitee's sockets get `room_added`), then set the role."""
    try:
        added = services.room_invite(
            by=request.user, room=room, username=membership.user.get_username()
        )
    except ClientError as error:
        messages.error(request, f"{membership.user}: {error.detail}")
        return
    if added.role != membership.role:
        _set_role(request, room=room, membership=membership)


def _set_role(request, *, room: Room, membership: Membership) -> None:
    """Through the service: its rules hold here too, and members see `member_updated`."""
    try:
        services.member_role_set(
            by=request.user,
            room=room,
            username=membership.user.get_username(),
            role=membership.role,
        )
    except ClientError as error:
        messages.error(request, f"{membership.user}: {error.detail}")


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "room", "author", "short_body", "created", "edited_at", "deleted"]
    list_filter = ["deleted", "room"]
    search_fields = ["body", "author__username", "room__slug"]
    list_select_related = ["room", "author"]
    readonly_fields = ["room", "author", "body", "html", "created", "edited_at", "client_id"]
    fields = ["room", "author", "body", "created", "edited_at", "client_id", "deleted"]
    actions = ["soft_delete"]

    @admin.display(description="body")
    def short_body(self, message: Message) -> str:
        return message.body[:80]

    @admin.action(description="Delete selected messages (soft, tells the room live)")
    def soft_delete(self, request, queryset) -> None:
        for message in queryset.filter(deleted=False).select_related("room"):
            services.message_soft_delete(message=message)

    def save_model(self, request, obj: Message, form, change: bool) -> None:
        if change and "deleted" in form.changed_data and obj.deleted:
            services.message_soft_delete(message=obj)
        else:
            super().save_model(request, obj, form, change)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # the soft delete above is the one that tells rooms
        return actions

    def delete_model(self, request, obj: Message) -> None:
        """The change page's Delete button soft-deletes too, so the room hears of it."""
        if not obj.deleted:
            services.message_soft_delete(message=obj)

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "room", "role", "joined"]
    list_filter = ["role", "room__kind"]
    search_fields = ["user__username", "room__slug"]
    autocomplete_fields = ["user", "room"]

    def get_readonly_fields(self, request, obj: Membership | None = None) -> list[str]:
        return ["user", "room", "joined", "last_read_id"] if obj else ["joined", "last_read_id"]

    def save_model(self, request, obj: Membership, form, change: bool) -> None:
        if change:
            if "role" in form.changed_data:  # the only field that can change
                _set_role(request, room=obj.room, membership=obj)
        else:
            _invite(request, room=obj.room, membership=obj)

    def delete_view(self, request, object_id, extra_context=None):
        membership = self.get_object(request, unquote(object_id))
        if membership is not None and (
            membership.role == Membership.Role.OWNER or membership.room.kind == Room.Kind.DIRECT
        ):
            # Refused here rather than by has_delete_permission(), which would
            # also forbid deleting the whole room (its memberships cascade).
            self.message_user(
                request, "Owners and direct-conversation members cannot be removed.", messages.ERROR
            )
            return redirect("admin:chat_membership_change", membership.pk)
        return super().delete_view(request, object_id, extra_context)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # removal goes one by one through the service
        return actions

    def delete_model(self, request, obj: Membership) -> None:
        _moderate(
            request,
            services.member_remove,
            by=request.user,
            room=obj.room,
            username=obj.user.get_username(),
        )
