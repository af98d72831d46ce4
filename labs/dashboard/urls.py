from django.urls import path

from labs.dashboard import views

urlpatterns = [
    path("", views.cohort_list, name="dashboard-home"),
    path("<id:cohort_id>/", views.cohort_page, name="dashboard-cohort"),
    path("<id:cohort_id>/live/", views.cohort_live, name="dashboard-live"),
    path("<id:cohort_id>/settings/", views.cohort_settings, name="dashboard-settings"),
    path(
        "<id:cohort_id>/export/progress.csv",
        views.export_progress,
        name="dashboard-export-progress",
    ),
    path(
        "<id:cohort_id>/export/resources.csv",
        views.export_resources,
        name="dashboard-export-resources",
    ),
    path(
        "<id:cohort_id>/actions/stop-notebooks/",
        views.stop_notebooks,
        name="dashboard-stop-notebooks",
    ),
    path("<id:cohort_id>/actions/teardown/", views.teardown_cohort, name="dashboard-teardown"),
    path("<id:cohort_id>/actions/sweep/", views.sweep, name="dashboard-sweep"),
    path(
        "<id:cohort_id>/learners/<id:learner_id>/teardown/",
        views.teardown_learner,
        name="dashboard-learner-teardown",
    ),
    path(
        "<id:cohort_id>/learners/<id:learner_id>/extend/",
        views.extend_learner,
        name="dashboard-learner-extend",
    ),
    path(
        "<id:cohort_id>/operations/<id:operation_id>/",
        views.operation_status,
        name="dashboard-operation",
    ),
    path(
        "<id:cohort_id>/operations/<id:operation_id>/delete-found/",
        views.operation_delete_found,
        name="dashboard-operation-delete-found",
    ),
]
