from django.urls import path

from labs.dashboard import views

urlpatterns = [
    path("", views.cohort_list, name="dashboard-home"),
    path("<int:cohort_id>/", views.cohort_page, name="dashboard-cohort"),
    path("<int:cohort_id>/live/", views.cohort_live, name="dashboard-live"),
    path("<int:cohort_id>/settings/", views.cohort_settings, name="dashboard-settings"),
    path(
        "<int:cohort_id>/export/progress.csv",
        views.export_progress,
        name="dashboard-export-progress",
    ),
    path(
        "<int:cohort_id>/export/resources.csv",
        views.export_resources,
        name="dashboard-export-resources",
    ),
    path(
        "<int:cohort_id>/actions/stop-notebooks/",
        views.stop_notebooks,
        name="dashboard-stop-notebooks",
    ),
    path("<int:cohort_id>/actions/teardown/", views.teardown_cohort, name="dashboard-teardown"),
    path("<int:cohort_id>/actions/sweep/", views.sweep, name="dashboard-sweep"),
    path(
        "<int:cohort_id>/learners/<int:learner_id>/teardown/",
        views.teardown_learner,
        name="dashboard-learner-teardown",
    ),
    path(
        "<int:cohort_id>/learners/<int:learner_id>/extend/",
        views.extend_learner,
        name="dashboard-learner-extend",
    ),
    path(
        "<int:cohort_id>/operations/<int:operation_id>/",
        views.operation_status,
        name="dashboard-operation",
    ),
    path(
        "<int:cohort_id>/operations/<int:operation_id>/delete-found/",
        views.operation_delete_found,
        name="dashboard-operation-delete-found",
    ),
]
