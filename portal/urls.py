from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from labs import views as lab_views
from portal import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    # Early, since Django tries the patterns in order: every open resource card asks for
    # it every second or two, and most answers are a bare 304.
    path("labs/resources/<id:pk>/status/", lab_views.resource_status, name="lab-resource-status"),
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("course/", include("curriculum.urls")),
    path("labs/", include("labs.urls")),
    path("dashboard/", include("labs.dashboard.urls")),
    path("admin/", admin.site.urls),
]
