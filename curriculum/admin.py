from django.contrib import admin

from curriculum.models import Lesson, LessonCompletion, ObjectiveTick


@admin.register(Lesson)
class LessonAdmin(admin.ModelAdmin):
    list_display = ["title", "module", "order", "kind", "audience", "is_published"]
    list_filter = ["module", "kind", "audience", "is_published"]
    search_fields = ["title", "slug"]
    readonly_fields = ["source_name", "source_sha256", "updated_at"]


@admin.register(ObjectiveTick)
class ObjectiveTickAdmin(admin.ModelAdmin):
    list_display = ["user", "lesson", "objective_key", "ticked_at"]
    search_fields = ["user__username", "lesson__slug"]


@admin.register(LessonCompletion)
class LessonCompletionAdmin(admin.ModelAdmin):
    list_display = ["user", "lesson", "completed_at"]
    search_fields = ["user__username", "lesson__slug"]
