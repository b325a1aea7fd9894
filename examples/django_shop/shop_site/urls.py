"""The example shop's URLs."""

from django.urls import path
from shop.views import checkout

urlpatterns = [path("orders", checkout)]
