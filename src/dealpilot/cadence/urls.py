from django.urls import path

from . import views

app_name = "cadence"

urlpatterns = [
    path("", views.index, name="index"),
    path("week/", views.week, name="week"),
    path("teams/<int:team_id>/", views.team, name="team"),
    path("teams/<int:team_id>/default/", views.default_cadence, name="default"),
    path("teams/<int:team_id>/settings/", views.team_settings, name="settings"),
    path("teams/<int:team_id>/meetings/new/", views.meeting_new, name="meeting_new"),
    path("meetings/<int:meeting_id>/edit/", views.meeting_edit, name="meeting_edit"),
    path("meetings/<int:meeting_id>/drop/", views.meeting_drop, name="meeting_drop"),
    path("meetings/<int:meeting_id>/<str:key>/", views.occurrence, name="occurrence"),
    path("meetings/<int:meeting_id>/<str:key>/record/", views.occurrence_record, name="occurrence_record"),
    path("meetings/<int:meeting_id>/<str:key>/deal-note/", views.deal_note, name="deal_note"),
    path("feeds/", views.feeds, name="feeds"),
    path("feeds/regenerate/", views.feeds_regenerate, name="feeds_regenerate"),
    path("feeds/revoke/", views.feeds_revoke, name="feeds_revoke"),
    path("feed/<str:token>/me.ics", views.feed_person, name="feed_person"),
    path("feed/<str:token>/teams/<int:team_id>.ics", views.feed_team, name="feed_team"),
    path("adherence/", views.adherence, name="adherence"),
    path("adherence.csv", views.adherence_csv, name="adherence_csv"),
    path("coaching/", views.coaching, name="coaching"),
]
