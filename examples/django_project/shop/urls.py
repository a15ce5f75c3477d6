"""The shop's URLs: the views, and the syncapi consumer under ``/events/``."""

from __future__ import annotations

from django.urls import path, re_path
from orders import views
from orders.messaging import messaging

from syncapi.http.mount import django_view

urlpatterns = [
    path("orders/", views.place_order),
    path("orders/<str:order_id>/", views.show_order),
    path("health/", views.health),
    # POST /events/payments/<order id> -> the consumer's route payments/{order_id}
    re_path(r"^events/(?P<path>.*)$", django_view(messaging.consumer)),
]
