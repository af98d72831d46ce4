from django.urls import path

from labs import views

urlpatterns = [
    path("region/", views.region_select, name="lab-region"),
    path("resources/<id:pk>/<slug:action>/", views.resource_action, name="lab-resource-action"),
    path("checks/<id:pk>/", views.lab_check_status, name="lab-check-status"),
    path("data/<str:name>", views.dataset_file, name="lab-dataset-file"),
    path("<slug:lab>/", views.lab_page, name="lab-page"),
    path("<slug:lab>/launch/", views.lab_launch, name="lab-launch"),
    path("<slug:lab>/check/", views.lab_check, name="lab-check"),
]
