from django.urls import path

from curriculum import views

urlpatterns = [
    path("", views.course_home, name="course-home"),
    path("<slug:slug>/", views.lesson_detail, name="lesson-detail"),
    path("<slug:slug>/objectives/<slug:key>/", views.objective_tick, name="lesson-objective-tick"),
    path("<slug:slug>/complete/", views.lesson_complete, name="lesson-complete"),
]
