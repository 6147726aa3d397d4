from django.contrib import admin
from django.db.models import Count

from chat import services
from chat.models import Membership, Message, Room


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    readonly_fields = ["joined", "last_read_id"]


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "kind", "is_default", "archived", "member_count", "created"]
    list_filter = ["kind", "is_default", "archived"]
    search_fields = ["name", "slug", "topic"]
    readonly_fields = ["created", "last_message_id", "direct_key"]
    inlines = [MembershipInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_count=Count("memberships"))

    @admin.display(ordering="member_count", description="members")
    def member_count(self, room: Room) -> int:
        return room.member_count


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

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "room", "role", "joined"]
    list_filter = ["role", "room__kind"]
    search_fields = ["user__username", "room__slug"]
    autocomplete_fields = ["user", "room"]
