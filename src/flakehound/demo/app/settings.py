import os

REGION = "eu-west"
CACHE = {}
TZ_NAME = os.environ.get("DEMO_TZ", "UTC")
