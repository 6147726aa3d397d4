from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import ApiToken, Profile
from accounts.services import user_deactivate

User = get_user_model()


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    extra = 0


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "display_name"]
    search_fields = ["user__username", "display_name"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created", "last_used_at"]
    search_fields = ["user__username", "name"]
    readonly_fields = ["prefix", "digest", "created", "last_used_at"]


admin.site.unregister(User)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    """Django's user admin; deactivating closes the user's live sockets on every replica."""

    inlines = [ProfileInline]
    actions = ["deactivate"]

    @admin.action(description="Deactivate selected users (closes their live connections)")
    def deactivate(self, request, queryset) -> None:
        users = list(queryset.filter(is_active=True).exclude(pk=request.user.pk))
        for user in users:
            user_deactivate(user=user)
        self.message_user(request, f"Deactivated {len(users)} user(s).", messages.SUCCESS)

    def save_model(self, request, obj, form, change: bool) -> None:
        if change and "is_active" in form.changed_data and not obj.is_active:
            # Save the other changes as they were, then deactivate through the
            # service, which also closes the sockets.
            obj.is_active = True
            super().save_model(request, obj, form, change)
            user_deactivate(user=obj)
        else:
            super().save_model(request, obj, form, change)
