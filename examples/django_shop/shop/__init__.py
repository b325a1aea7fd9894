"""The example shop: orders saved with the Django ORM and recorded in ecrm."""
